import { cancelEmailChange } from '../lib/accounts/emailAddress';
import { noContent, operation } from '../lib/http/operation';

operation('cancelEmailChange', {
  method: 'DELETE',
  route: 'me/email/pending',
  auth: 'session',
  summary: 'Cancel a pending change of email address; its confirmation link stops working',
  responses: { 204: { description: 'No change is pending' } },
  problems: [],
  handle: async ({ caller, clientAddress }) => {
    await cancelEmailChange(caller.account, clientAddress);
    return noContent();
  },
});
