import { accountView, toAccountView } from '../lib/accounts/account';
import { ok, operation } from '../lib/http/operation';

operation('getMe', {
  method: 'GET',
  route: 'me',
  auth: 'session-or-recovery',
  summary: 'The signed-in account (one point read); also for the recovery session of a password sign-in',
  responses: { 200: { description: 'The account', schema: accountView } },
  problems: [],
  handle: async ({ caller }) => ok(toAccountView(caller.account)),
});
