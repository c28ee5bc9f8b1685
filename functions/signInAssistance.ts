import { z } from 'zod';
import { SIGN_IN_ASSISTANCE_ANSWER, maskedEmailOf, sendSignInAssistance, signInAssistanceBody } from '../lib/accounts/recovery/recovery';
import { accepted, ok, operation } from '../lib/http/operation';

operation('signInAssistance', {
  method: 'POST',
  route: 'auth/sign-in-assistance',
  auth: 'none',
  summary: 'Help finding the Microsoft account an account signs in with',
  description:
    'With a username only: the account\'s email address, masked. With the username and the account\'s email address: ' +
    'an email to that address naming the linked Microsoft account; the answer is the same whatever the address.',
  body: signInAssistanceBody,
  responses: {
    200: { description: 'The masked email address', schema: z.object({ maskedEmailAddress: z.string() }) },
    202: { description: 'The same answer for every address' },
  },
  problems: ['user_not_found', 'too_many_requests'],
  handle: async ({ body, clientAddress, log }) => {
    if (body.emailAddress === undefined) return ok({ maskedEmailAddress: await maskedEmailOf(body.username, clientAddress) });
    await sendSignInAssistance(body.username, body.emailAddress, clientAddress, log);
    return accepted(SIGN_IN_ASSISTANCE_ANSWER);
  },
});
