import { noContent, operation } from '../lib/http/operation';
import { changeMemberRole, changeRoleBody } from '../lib/organizations/membership';
import { memberParams } from '../lib/organizations/organization';

operation('changeMemberRole', {
  method: 'PUT',
  route: 'organizations/{name}/members/{username}',
  params: memberParams,
  auth: 'session',
  summary: "Change a member's role (admins); the organization always keeps an admin",
  body: changeRoleBody,
  responses: { 204: { description: 'The role is set' } },
  problems: ['not_found', 'admin_required', 'last_admin', 'too_many_requests'],
  handle: async ({ params, body, caller, clientAddress, log }) => {
    await changeMemberRole(params.name, params.username, body.role, caller.account, clientAddress, log);
    return noContent();
  },
});
