import { app } from '@azure/functions';
import { deliverPendingEmails } from '../lib/shared/email/outbox';
import '../lib/shared/startup';

// Every minute: sends what the requests could not (ACS was down or slow), with backoff per email.
app.timer('deliverPendingEmails', {
  schedule: '0 * * * * *',
  handler: async (_timer, context) => {
    const tally = await deliverPendingEmails();
    if (tally.sent + tally.pending + tally.failed + tally.abandoned > 0) context.log('Outbox run', tally);
  },
});
