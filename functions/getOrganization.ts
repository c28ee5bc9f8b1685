import { ok, operation } from '../lib/http/operation';
import { organizationForMember, organizationParams, organizationView, toOrganizationView } from '../lib/organizations/organization';

operation('getOrganization', {
  method: 'GET',
  route: 'organizations/{name}',
  params: organizationParams,
  auth: 'session',
  summary: 'An organization, for its members; admins also see its address and pending invitations',
  responses: { 200: { description: 'The organization', schema: organizationView } },
  problems: ['not_found'],
  handle: async ({ params, caller }) =>
    ok(toOrganizationView(await organizationForMember(params.name, caller.account), caller.account.id)),
});
