import { ok, operation } from '../lib/http/operation';
import { organizationParams } from '../lib/organizations/organization';
import { optionalReasonBody } from '../lib/shared/audit';
import { setFreezeForSupport, supportAccountView } from '../lib/support/accounts';

operation('unfreezeOrganizationForSupport', {
  method: 'POST',
  route: 'site-admin/organizations/{name}/unfreeze',
  params: organizationParams,
  auth: 'site-admin',
  summary: 'Unfreeze an organization (site admins only); the body and its reason are optional',
  description:
    'The API keys the freeze suspended work again, unless they were revoked or expired meanwhile or a lock still holds them. ' +
    'Recorded in its trail and on the admin\'s own log; every admin of the organization is told.',
  body: optionalReasonBody,
  responses: { 200: { description: 'The organization as support sees it', schema: supportAccountView } },
  problems: ['not_found'],
  handle: async ({ params, body, caller, clientAddress, log }) =>
    ok(await setFreezeForSupport(caller.account, params.name, { frozen: false, reason: body?.reason }, clientAddress, log)),
});
