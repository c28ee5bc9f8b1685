import { ok, operation } from '../lib/http/operation';
import { acceptInvitation, invitationTokenBody } from '../lib/organizations/membership';
import { organizationParams } from '../lib/organizations/organization';

operation('acceptInvitation', {
  method: 'POST',
  route: 'organizations/{name}/members/accept',
  params: organizationParams,
  auth: 'session',
  summary: 'Join an organization with the token of an invitation to the caller',
  body: invitationTokenBody,
  responses: { 200: { description: 'The caller is a member' } },
  problems: ['invalid_token'],
  handle: async ({ params, body, caller, clientAddress, log }) => {
    await acceptInvitation(params.name, body.token, caller.account, clientAddress, log);
    return ok({ joined: true });
  },
});
