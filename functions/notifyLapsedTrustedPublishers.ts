import { app } from '@azure/functions';
import { notifyLapsedTrustedPublishers } from '../lib/trustedPublishing/lapses';
import '../lib/shared/startup';

// Every day at 06:30 UTC: tells the maker (and an organization's admins) of each trusted publishing policy that
// lapsed unused since the last run, once each however often it runs; it reads the lapse entries of the last eight
// days, never every policy.
app.timer('notifyLapsedTrustedPublishers', {
  schedule: '0 30 6 * * *',
  handler: async (_timer, context) => {
    const tally = await notifyLapsedTrustedPublishers(context);
    if (tally.told + tally.failed > 0) context.log('Lapsed trusted publishing policies', tally);
  },
});
