import { confirmEmail, confirmEmailBody } from '../lib/accounts/emailAddress';
import { ok, operation } from '../lib/http/operation';

operation('confirmEmail', {
  method: 'POST',
  route: 'auth/confirm-email',
  auth: 'none',
  summary: 'Confirm an email address, or a change to a new one, with the token from its link',
  body: confirmEmailBody,
  responses: { 200: { description: 'The address is confirmed' } },
  problems: ['invalid_token', 'email_in_use'],
  handle: async ({ body, clientAddress, log }) => {
    await confirmEmail(body.token, clientAddress, log);
    return ok({ emailConfirmed: true });
  },
});
