import { app } from '@azure/functions';
import { moveApiKeyLists } from '../lib/packages/heldKeys';
import '../lib/shared/startup';

// Every hour at minute 40: moves the lists of API key ids account documents stored before keys were listed apart
// (lib/packages/heldKeys.ts) onto items of their own, up to 20,000 keys a run, until none is left; then each run is
// one query that finds nothing. Runs at once with POST /admin/functions/moveApiKeyLists.
app.timer('moveApiKeyLists', {
  schedule: '0 40 * * * *',
  handler: async (_timer, context) => {
    const tally = await moveApiKeyLists(context);
    if (tally.accounts + tally.failed > 0) context.log('API key lists moved off account documents', tally);
  },
});
