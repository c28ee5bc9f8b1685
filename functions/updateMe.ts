import { accountView } from '../lib/accounts/account';
import { updateMe, updateMeBody } from '../lib/accounts/profile';
import { ok, operation } from '../lib/http/operation';

operation('updateMe', {
  method: 'PATCH',
  route: 'me',
  auth: 'session',
  summary: 'Change account settings; a username can never be changed',
  body: updateMeBody,
  responses: { 200: { description: 'The account, unchanged', schema: accountView } },
  problems: ['username_immutable'],
  handle: async ({ body, caller }) => ok(updateMe(body, caller.account)),
});
