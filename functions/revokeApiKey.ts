import { noContent, operation } from '../lib/http/operation';
import { apiKeyParams, revokeApiKey } from '../lib/packages/apiKeys';

operation('revokeApiKey', {
  method: 'DELETE',
  route: 'me/api-keys/{id}',
  params: apiKeyParams,
  auth: 'session',
  summary: 'Revoke an API key, at once',
  responses: { 204: { description: 'Revoked' } },
  problems: ['not_found'],
  handle: async ({ params, caller, clientAddress, log }) => {
    await revokeApiKey(caller.account, params.id, clientAddress, log);
    return noContent();
  },
});
