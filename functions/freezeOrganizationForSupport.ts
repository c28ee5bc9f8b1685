import { ok, operation } from '../lib/http/operation';
import { freezeBody } from '../lib/organizations/freeze';
import { organizationParams } from '../lib/organizations/organization';
import { setFreezeForSupport, supportAccountView } from '../lib/support/accounts';

operation('freezeOrganizationForSupport', {
  method: 'POST',
  route: 'site-admin/organizations/{name}/freeze',
  params: organizationParams,
  auth: 'site-admin',
  summary: 'Freeze an organization, as its admins can (site admins only)',
  description:
    'Every API key it owns is suspended before this answers; no key can be made for it and trusted publishing gives none ' +
    'until it is unfrozen (by support or by one of its admins). Recorded in its trail, naming the admin, and on the admin\'s ' +
    'own log; every admin of the organization is told. Freezing it again keeps the first freeze.',
  body: freezeBody,
  responses: { 200: { description: 'The organization as support sees it, frozen', schema: supportAccountView } },
  problems: ['not_found'],
  handle: async ({ params, body, caller, clientAddress, log }) =>
    ok(await setFreezeForSupport(caller.account, params.name, { frozen: true, reason: body.reason }, clientAddress, log)),
});
