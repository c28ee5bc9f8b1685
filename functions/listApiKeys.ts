import { z } from 'zod';
import { ok, operation } from '../lib/http/operation';
import { API_KEYS_PAGE_SIZE, apiKeysPageQuery, apiKeyView, listApiKeys } from '../lib/packages/apiKeys';

operation('listApiKeys', {
  method: 'GET',
  route: 'me/api-keys',
  auth: 'session',
  summary: "The caller's API keys, without their secrets, a page at a time",
  description:
    `The keys the caller holds and nobody revoked, oldest first: expired ones too (they can be regenerated), and keys trusted ` +
    `publishing made until they expire. pageSize from 1 to ${API_KEYS_PAGE_SIZE} (the default); when more keys follow, the ` +
    'answer carries a Link header to the next page (rel="next", RFC 8288), which passes its continuationToken.',
  query: apiKeysPageQuery,
  responses: {
    200: {
      description: 'A page of keys',
      schema: z.array(apiKeyView),
      headers: { Link: 'Present when more keys follow: `<{path}?pageSize={n}&continuationToken={token}>; rel="next"`' },
    },
  },
  problems: ['invalid_request'],
  handle: async ({ caller, query, request }) => {
    const { keys, continuationToken } = await listApiKeys(caller.account, query.pageSize, query.continuationToken);
    if (continuationToken === null) return ok(keys);
    const next = new URLSearchParams({ pageSize: String(query.pageSize ?? API_KEYS_PAGE_SIZE), continuationToken });
    // A browser's script may read the header across origins only when it is exposed.
    const headers = { Link: `<${new URL(request.url).pathname}?${next}>; rel="next"`, 'Access-Control-Expose-Headers': 'Link' };
    return { ...ok(keys), headers };
  },
});
