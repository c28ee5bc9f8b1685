import { FORGOT_PASSWORD_ANSWER, forgotPassword, forgotPasswordBody } from '../lib/accounts/recovery/recovery';
import { accepted, operation } from '../lib/http/operation';

operation('forgotPassword', {
  method: 'POST',
  route: 'auth/forgot-password',
  auth: 'none',
  summary: 'Email a one-hour, single-use password reset link, if an account uses the address',
  description: 'Answers the same, in about the same time, whether or not an account uses the address.',
  body: forgotPasswordBody,
  responses: { 202: { description: 'The same answer for every address' } },
  problems: ['too_many_requests'],
  handle: async ({ body, clientAddress, log }) => {
    await forgotPassword(body.emailAddress, clientAddress, log);
    return accepted(FORGOT_PASSWORD_ANSWER);
  },
});
