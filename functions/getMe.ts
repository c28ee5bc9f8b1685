import { app } from '@azure/functions';
import { accountView, toAccountView } from '../lib/accounts/account';
import { ok, operation } from '../lib/http/operation';

app.http(
  'getMe',
  operation({
    name: 'getMe',
    method: 'GET',
    route: 'me',
    auth: 'session',
    summary: 'The signed-in account (one point read)',
    responses: { 200: { description: 'The account', schema: accountView } },
    problems: [],
    handle: async ({ caller }) => ok(toAccountView(caller.account)),
  }),
);
