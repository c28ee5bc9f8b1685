import { signOutEverywhere } from '../lib/accounts/profile';
import { noContent, operation } from '../lib/http/operation';

operation('signOutEverywhere', {
  method: 'POST',
  route: 'auth/sign-out-everywhere',
  auth: 'session',
  summary: 'End every session of the account, this one included',
  responses: { 204: { description: 'Every session token issued so far now answers 401' } },
  problems: [],
  handle: async ({ caller, clientAddress }) => {
    await signOutEverywhere(caller.account, clientAddress);
    return noContent();
  },
});
