import { app } from '@azure/functions';
import { processAccountDeletions } from '../lib/deletion/processor';
import '../lib/shared/startup';

// Every five minutes: processes each deletion whose grace period has passed, resuming any a run left halfway.
app.timer('processAccountDeletions', {
  schedule: '0 */5 * * * *',
  handler: async (_timer, context) => {
    const tally = await processAccountDeletions(context);
    if (tally.processed + tally.failed > 0) context.log('Deletion run', tally);
  },
});
