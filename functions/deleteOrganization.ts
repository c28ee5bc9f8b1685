import { noContent, operation } from '../lib/http/operation';
import { deleteOrganization } from '../lib/organizations/lifecycle';
import { organizationParams } from '../lib/organizations/organization';

operation('deleteOrganization', {
  method: 'DELETE',
  route: 'organizations/{name}',
  params: organizationParams,
  auth: 'session',
  summary: 'Delete an organization with no other members and no packages; its name stays reserved',
  responses: { 204: { description: 'Deleted' } },
  problems: ['not_found', 'admin_required', 'organization_not_empty'],
  handle: async ({ params, caller, clientAddress, log }) => {
    await deleteOrganization(params.name, caller.account, clientAddress, log);
    return noContent();
  },
});
