import { microsoftSignInBody, microsoftSignInResult, signInWithMicrosoft } from '../lib/accounts/microsoftSignIn';
import { ok, operation } from '../lib/http/operation';

operation('signInWithMicrosoft', {
  method: 'POST',
  route: 'auth/microsoft',
  auth: 'none',
  summary: 'Sign in with a Microsoft ID token, or report what the Microsoft redirect returned',
  description:
    'A linked Microsoft account signs in. An unlinked one learns whether it can register or which account already ' +
    'uses its email address. `{ error, errorDescription }` from the redirect answers a problem that explains what to do.',
  body: microsoftSignInBody,
  responses: { 200: { description: 'Signed in, or registration required', schema: microsoftSignInResult } },
  problems: [
    'invalid_id_token',
    'mfa_required',
    'identity_provider_unavailable',
    'email_linked_to_another_microsoft_account',
    'password_sign_in_required',
    'email_belongs_to_organization',
    'unmanaged_tenant',
    'microsoft_sign_in_failed',
  ],
  handle: async ({ body, clientAddress }) => ok(await signInWithMicrosoft(body, clientAddress)),
});
