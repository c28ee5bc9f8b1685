import { z } from 'zod';
import { ok, operation } from '../lib/http/operation';
import { reasonField } from '../lib/shared/audit';
import { lockAccount, supportAccountParams, supportAccountView } from '../lib/support/accounts';

operation('lockAccount', {
  method: 'POST',
  route: 'site-admin/accounts/{username}/lock',
  params: supportAccountParams,
  auth: 'site-admin',
  summary: 'Lock an account or organization (site admins only)',
  description:
    'It cannot sign in by any means (403 account_locked), its sessions answer 401 at once, and every API key it holds or ' +
    'owns is suspended before this answers, so nothing is pushed through them. Recorded, with the reason, in its security ' +
    'log and the admin\'s. Locking it again keeps the first lock.',
  body: z.object({ reason: reasonField }).strict(),
  responses: { 200: { description: 'The account, locked', schema: supportAccountView } },
  problems: ['not_found'],
  handle: async ({ params, body, caller, clientAddress }) => ok(await lockAccount(caller.account, params.username, body.reason, clientAddress)),
});
