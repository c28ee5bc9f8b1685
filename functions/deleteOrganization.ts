import { noContent, operation } from '../lib/http/operation';
import { organizationParams } from '../lib/organizations/organization';
import { deleteOrganizationAndItsPolicies } from '../lib/trustedPublishing/policies';

operation('deleteOrganization', {
  method: 'DELETE',
  route: 'organizations/{name}',
  params: organizationParams,
  auth: 'session',
  summary: 'Delete an organization with no other members and no packages; its name stays reserved',
  description: 'Its API keys are revoked and the trusted publishing policies it owns removed.',
  responses: { 204: { description: 'Deleted' } },
  problems: ['not_found', 'admin_required', 'organization_not_empty'],
  handle: async ({ params, caller, clientAddress, log }) => {
    await deleteOrganizationAndItsPolicies(params.name, caller.account, clientAddress, log);
    return noContent();
  },
});
