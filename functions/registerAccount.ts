import { accountWithSession } from '../lib/accounts/account';
import { registerAccount, registerAccountBody } from '../lib/accounts/registration';
import { created, operation } from '../lib/http/operation';

operation('registerAccount', {
  method: 'POST',
  route: 'accounts',
  auth: 'none',
  summary: 'Register an individual account linked to a Microsoft account',
  description:
    'Takes a fresh ID token (issued within the last 10 minutes), a username that was never used in any casing, and ' +
    'optionally an email address (default: the token\'s). Sends a confirmation link; the account works at once.',
  body: registerAccountBody,
  responses: { 201: { description: 'The new account and a session for it', schema: accountWithSession } },
  problems: [
    'invalid_username',
    'invalid_id_token',
    'mfa_required',
    'identity_provider_unavailable',
    'microsoft_account_in_use',
    'username_unavailable',
    'email_in_use',
    'too_many_requests',
  ],
  handle: async ({ body, clientAddress, log }) => created(await registerAccount(body, clientAddress, log)),
});
