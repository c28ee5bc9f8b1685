import { noContent, operation } from '../lib/http/operation';
import { cancelTransform } from '../lib/organizations/transform';

operation('cancelTransform', {
  method: 'DELETE',
  route: 'me/transform',
  auth: 'session-or-recovery',
  summary: 'Withdraw the request to become an organization; its token stops working',
  responses: { 204: { description: 'No transform is pending' } },
  problems: [],
  handle: async ({ caller, clientAddress }) => {
    await cancelTransform(caller.account, clientAddress);
    return noContent();
  },
});
