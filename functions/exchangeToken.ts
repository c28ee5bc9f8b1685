import { ok, operation } from '../lib/http/operation';
import { checkTokenRequestHeaders, exchangeToken, tokenRequestBody, tokenResponse } from '../lib/trustedPublishing/tokenExchange';

operation('exchangeToken', {
  method: 'POST',
  route: 'v2/token',
  auth: 'bearer',
  summary: "NuGet.org's token API: a CI job's OIDC token for a short-lived API key (trusted publishing)",
  description:
    'What the NuGet/login action calls: the job\'s OIDC token (a GitHub Actions workflow run\'s; its issuer names its provider) as Bearer, `Content-Type: application/json`, a ' +
    '`User-Agent`, and `{ username, tokenType: "ApiKey" }`, `username` being the account that made the trust policy. The key has the ' +
    'policy\'s scopes and globs (by default package:push and `*`), is owned by the policy\'s owner, and works for 15 minutes. Errors answer NuGet.org\'s shape, `{ error }`, ' +
    'and say nothing about which accounts or policies exist.',
  errorShape: 'nuget',
  checkHeaders: checkTokenRequestHeaders,
  body: tokenRequestBody,
  responses: { 200: { description: 'The key', schema: tokenResponse } },
  problems: [],
  handle: async ({ bearerToken, body, clientAddress, log }) => ok(await exchangeToken(bearerToken, body, clientAddress, log)),
});
