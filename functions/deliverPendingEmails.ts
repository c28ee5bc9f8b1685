import { app } from '@azure/functions';
import { deliverPendingEmails } from '../lib/shared/email/outbox';
import '../lib/shared/startup';

// Every minute: sends what the requests could not (ACS was down or slow), retrying each email after 1, 1, 2,
// 3, then every 4 minutes, so it goes out within five minutes of ACS's recovery; never once its link expired.
app.timer('deliverPendingEmails', {
  schedule: '0 * * * * *',
  handler: async (_timer, context) => {
    const tally = await deliverPendingEmails(context);
    if (Object.values(tally).some((count) => count > 0)) context.log('Outbox run', tally);
  },
});
