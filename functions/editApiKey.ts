import { ok, operation } from '../lib/http/operation';
import { apiKeyParams, apiKeyView, editApiKey, editApiKeyBody } from '../lib/packages/apiKeys';

operation('editApiKey', {
  method: 'PATCH',
  route: 'me/api-keys/{id}',
  params: apiKeyParams,
  auth: 'session',
  summary: "Change a key's description or package globs; its secret, scopes, owner and expiry stay",
  body: editApiKeyBody,
  responses: { 200: { description: 'The key as it is now', schema: apiKeyView } },
  problems: ['not_found'],
  handle: async ({ params, body, caller, clientAddress, log }) => ok(await editApiKey(caller.account, params.id, body, clientAddress, log)),
});
