import { ok, operation } from '../lib/http/operation';
import { optionalReasonBody } from '../lib/shared/audit';
import { releasedUsernameView, releaseUsername, supportAccountParams } from '../lib/support/accounts';

operation('releaseUsername', {
  method: 'POST',
  route: 'site-admin/usernames/{username}/release',
  params: supportAccountParams,
  auth: 'site-admin',
  summary: 'Let a deleted account\'s or organization\'s name be registered again (site admins only); the body and its reason are optional',
  description:
    'Safe against a registration at the same moment: the registration either finds the name still taken, or takes the freed name. ' +
    'A name in SITE_ADMINS is never released: whoever registered it would be a site admin.',
  body: optionalReasonBody,
  responses: { 200: { description: 'The name is free', schema: releasedUsernameView } },
  problems: ['username_in_use', 'site_admin_name', 'not_found'],
  handle: async ({ params, body, caller, clientAddress }) => ok(await releaseUsername(caller.account, params.username, body?.reason, clientAddress)),
});
