import { ok, operation } from '../lib/http/operation';
import { revokedKeyView, revokeLeakedApiKey, revokeLeakedKeyBody } from '../lib/support/leakedKeys';

operation('revokeLeakedApiKey', {
  method: 'POST',
  route: 'site-admin/api-keys/revoke',
  auth: 'site-admin',
  summary: 'Revoke a leaked API key given its secret, and tell its holder by email (site admins only)',
  description:
    'The secret is compared by its hash and never kept or logged. A key already revoked or expired is answered as it is; ' +
    'its holder is told once.',
  body: revokeLeakedKeyBody,
  responses: { 200: { description: 'The key', schema: revokedKeyView } },
  problems: ['not_found'],
  handle: async ({ body, caller, clientAddress, log }) => ok(await revokeLeakedApiKey(caller.account, body, clientAddress, log)),
});
