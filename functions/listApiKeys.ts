import { z } from 'zod';
import { ok, operation } from '../lib/http/operation';
import { apiKeyView, listApiKeys } from '../lib/packages/apiKeys';

operation('listApiKeys', {
  method: 'GET',
  route: 'me/api-keys',
  auth: 'session',
  summary: "The caller's API keys, without their secrets",
  responses: { 200: { description: 'The keys', schema: z.array(apiKeyView) } },
  problems: [],
  handle: async ({ caller }) => ok(await listApiKeys(caller.account)),
});
