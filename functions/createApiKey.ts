import { created, operation } from '../lib/http/operation';
import { apiKeyWithSecret, createApiKey, createApiKeyBody } from '../lib/packages/apiKeys';

operation('createApiKey', {
  method: 'POST',
  route: 'me/api-keys',
  auth: 'session',
  summary: 'Create an API key scoped to packages and an owner; the secret is shown this once',
  description:
    '`scopes` from package:push, package:pushversion, package:unlist; `packageGlobs` with `*` as the only wildcard, ' +
    'case-insensitive; `owner` the caller or an organization the caller belongs to; `expiresInDays` 1 to 365.',
  body: createApiKeyBody,
  responses: { 201: { description: 'The key and, once, its secret', schema: apiKeyWithSecret } },
  problems: ['owner_not_allowed'],
  handle: async ({ body, caller, clientAddress, log }) => created(await createApiKey(caller.account, body, clientAddress, log)),
});
