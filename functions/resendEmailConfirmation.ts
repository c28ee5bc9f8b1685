import { resendConfirmation } from '../lib/accounts/emailAddress';
import { accepted, operation } from '../lib/http/operation';

operation('resendEmailConfirmation', {
  method: 'POST',
  route: 'me/email/resend-confirmation',
  auth: 'session',
  summary: 'Send the confirmation link again: to the new address of a pending change, or else to the unconfirmed address',
  description: 'The earlier link stops working. Limited to 5 an hour per account and per address.',
  responses: { 202: { description: 'A new link is on its way' } },
  problems: ['too_many_requests'],
  handle: async ({ caller, clientAddress, log }) => {
    await resendConfirmation(caller.account, clientAddress, log);
    return accepted();
  },
});
