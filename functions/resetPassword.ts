import { resetPassword, resetPasswordBody } from '../lib/accounts/recovery/recovery';
import { ok, operation } from '../lib/http/operation';

operation('resetPassword', {
  method: 'POST',
  route: 'auth/reset-password',
  auth: 'none',
  summary: 'Set a new password with the token from a reset link; ends every session and lifts a lockout',
  body: resetPasswordBody,
  responses: { 200: { description: 'The password is set; sign in with it to link a Microsoft account' } },
  problems: ['invalid_token', 'weak_password'],
  handle: async ({ body, clientAddress, log }) => {
    await resetPassword(body.token, body.newPassword, clientAddress, log);
    return ok({ passwordReset: true });
  },
});
