import { ok, operation } from '../lib/http/operation';
import { optionalReasonBody } from '../lib/shared/audit';
import { unfreezeOrganization } from '../lib/organizations/freeze';
import { organizationParams, organizationView } from '../lib/organizations/organization';

operation('unfreezeOrganization', {
  method: 'POST',
  route: 'organizations/{name}/unfreeze',
  params: organizationParams,
  auth: 'session',
  summary: 'Unfreeze the organization (admins); the body and its reason are optional',
  description:
    'The API keys the freeze suspended work again, unless they were revoked or expired meanwhile or a lock by support still ' +
    'holds them. Recorded in the organization\'s trail; every admin is told by email.',
  body: optionalReasonBody,
  responses: { 200: { description: 'The organization, no longer frozen', schema: organizationView } },
  problems: ['not_found', 'admin_required'],
  handle: async ({ params, body, caller, clientAddress, log }) => ok(await unfreezeOrganization(params.name, body?.reason, caller.account, clientAddress, log)),
});
