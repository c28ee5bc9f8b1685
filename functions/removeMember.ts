import { noContent, operation } from '../lib/http/operation';
import { removeMember } from '../lib/organizations/membership';
import { memberParams } from '../lib/organizations/organization';

operation('removeMember', {
  method: 'DELETE',
  route: 'organizations/{name}/members/{username}',
  params: memberParams,
  auth: 'session',
  summary: 'Remove a member (admins), or leave (the member); the organization always keeps an admin',
  responses: { 204: { description: 'No longer a member' } },
  problems: ['not_found', 'admin_required', 'last_admin'],
  handle: async ({ params, caller, clientAddress, log }) => {
    await removeMember(params.name, params.username, caller.account, clientAddress, log);
    return noContent();
  },
});
