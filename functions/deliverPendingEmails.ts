import { app } from '@azure/functions';
import { noticeRecipients } from '../lib/accounts/notices';
import { announcePushes } from '../lib/packages/packageEvents';
import { deliverPendingEmails } from '../lib/shared/email/outbox';
import '../lib/shared/startup';

// Every minute: queues the notices of the pushes made since (a push carries its notice in its record, so the
// push check stays one write), then sends what the requests could not (ACS was down or slow) and expands each
// notice to many into one email per recipient. A failed send is retried after 1, 1, 2, 3, then every 4
// minutes, so it goes out within five minutes of ACS's recovery; never once its link expired.
app.timer('deliverPendingEmails', {
  schedule: '0 * * * * *',
  handler: async (_timer, context) => {
    const pushes = await announcePushes(context);
    const tally = await deliverPendingEmails(context, noticeRecipients);
    if (pushes > 0 || Object.values(tally).some((count) => count > 0)) context.log('Outbox run', { pushes, ...tally });
  },
});
