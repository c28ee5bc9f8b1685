import { ok, operation } from '../lib/http/operation';
import { getAccountForSupport, supportAccountParams, supportAccountView } from '../lib/support/accounts';

operation('getAccountForSupport', {
  method: 'GET',
  route: 'site-admin/accounts/{username}',
  params: supportAccountParams,
  auth: 'site-admin',
  summary: 'An account or organization as support sees it (site admins only)',
  description:
    'Its addresses, the type and email of its Microsoft account, its organizations (or, of an organization, its members ' +
    'and invitations), its lock and its deletion. A deleted one is shown until its name is released. The look-up is recorded in ' +
    "the account's security log (an organization's audit trail) with the site admin's name.",
  responses: { 200: { description: 'The account', schema: supportAccountView } },
  problems: ['not_found'],
  handle: async ({ params, caller, clientAddress }) => ok(await getAccountForSupport(caller.account, params.username, clientAddress)),
});
