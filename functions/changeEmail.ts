import { z } from 'zod';
import { changeEmailBody, requestEmailChange } from '../lib/accounts/emailAddress';
import { accepted, operation } from '../lib/http/operation';

operation('changeEmail', {
  method: 'POST',
  route: 'me/email',
  auth: 'session',
  summary: 'Change the email address: the new one confirms by emailed link, the current one is told',
  body: changeEmailBody,
  responses: { 202: { description: 'The change waits for confirmation', schema: z.object({ pendingEmailAddress: z.string() }) } },
  problems: ['email_in_use', 'too_many_requests'],
  handle: async ({ body, caller, clientAddress, log }) =>
    accepted({ pendingEmailAddress: await requestEmailChange(caller.account, body.emailAddress, clientAddress, log) }),
});
