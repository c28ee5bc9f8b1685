import { accepted, operation } from '../lib/http/operation';
import { inviteMember, inviteMemberBody } from '../lib/organizations/membership';
import { organizationParams } from '../lib/organizations/organization';

operation('inviteMember', {
  method: 'POST',
  route: 'organizations/{name}/members',
  params: organizationParams,
  auth: 'session',
  summary: 'Invite an individual account, by username, as admin or collaborator (admins)',
  description:
    'An email carries a token that only the invited account can use, within 7 days. Inviting again replaces the invitation. ' +
    'At most 50 invitations wait at once (409 owner_limit); expired ones do not count.',
  body: inviteMemberBody,
  responses: { 202: { description: 'Invited' } },
  problems: ['not_found', 'admin_required', 'user_not_found', 'member_is_organization', 'already_member', 'owner_limit', { code: 'email_unconfirmed', status: 400 }, 'too_many_requests'],
  handle: async ({ params, body, caller, clientAddress, log }) => {
    await inviteMember(params.name, body, caller.account, clientAddress, log);
    return accepted();
  },
});
