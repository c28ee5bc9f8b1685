import { accountView } from '../lib/accounts/account';
import { updateMe, updateMeBody } from '../lib/accounts/profile';
import { ok, operation } from '../lib/http/operation';

operation('updateMe', {
  method: 'PATCH',
  route: 'me',
  auth: 'session',
  summary: 'Change account settings (which emails the account gets); a username can never be changed',
  description:
    '`notifications.emailAllowed: false` stops every email that is not about the account\'s own security or a request it ' +
    'must answer; `notifications.notifyPackagePushed: false` stops the email sent for each version pushed of a package it owns. ' +
    'Both are true until turned off. Naming `username` is refused, and nothing changes.',
  body: updateMeBody,
  responses: { 200: { description: 'The account, with its settings', schema: accountView } },
  problems: ['username_immutable'],
  handle: async ({ body, caller, clientAddress }) => ok(await updateMe(body, caller.account, clientAddress)),
});
