import { passwordSignInBody, recoverySession, signInWithPassword } from '../lib/accounts/recovery/recovery';
import { ok, operation } from '../lib/http/operation';

operation('signInWithPassword', {
  method: 'POST',
  route: 'auth/password',
  auth: 'none',
  summary: 'Recover an account with its password: a session that can only link a Microsoft account',
  description:
    'The session may read GET /api/me, link a Microsoft account and transform the account; anything else answers 403 ' +
    '`microsoft_account_required`. Repeated failures lock the account for a growing time.',
  body: passwordSignInBody,
  responses: { 200: { description: 'A recovery session', schema: recoverySession } },
  problems: ['invalid_credentials', 'account_locked', 'too_many_requests'],
  handle: async ({ body, clientAddress }) => ok(await signInWithPassword(body.username, body.password, clientAddress)),
});
