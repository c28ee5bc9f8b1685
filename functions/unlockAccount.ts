import { ok, operation } from '../lib/http/operation';
import { optionalReasonBody } from '../lib/shared/audit';
import { supportAccountParams, supportAccountView, unlockAccount } from '../lib/support/accounts';

operation('unlockAccount', {
  method: 'POST',
  route: 'site-admin/accounts/{username}/unlock',
  params: supportAccountParams,
  auth: 'site-admin',
  summary: 'Unlock an account or organization (site admins only); the body and its reason are optional',
  description:
    'It can sign in again (its sessions from before the lock stay ended), and the API keys the lock suspended work again ' +
    'unless they were revoked or expired meanwhile.',
  body: optionalReasonBody,
  responses: { 200: { description: 'The account, unlocked', schema: supportAccountView } },
  problems: ['not_found'],
  handle: async ({ params, body, caller, clientAddress }) => ok(await unlockAccount(caller.account, params.username, body?.reason, clientAddress)),
});
