import { ok, operation } from '../lib/http/operation';
import { apiKeyParams, apiKeyWithSecret, regenerateApiKey } from '../lib/packages/apiKeys';

operation('regenerateApiKey', {
  method: 'POST',
  route: 'me/api-keys/{id}/regenerate',
  params: apiKeyParams,
  auth: 'session',
  summary: 'A new secret for a key, with the same scopes; the old secret stops working at once',
  description: 'Refused (403 owner_not_allowed) while the key is suspended: its owner or holder locked by support, or its owning organization frozen.',
  responses: { 200: { description: 'The key and, once, its new secret', schema: apiKeyWithSecret } },
  problems: ['not_found', 'owner_not_allowed'],
  handle: async ({ params, caller, clientAddress, log }) => ok(await regenerateApiKey(caller.account, params.id, clientAddress, log)),
});
