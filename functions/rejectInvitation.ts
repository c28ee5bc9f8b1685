import { noContent, operation } from '../lib/http/operation';
import { invitationTokenBody, rejectInvitation } from '../lib/organizations/membership';
import { organizationParams } from '../lib/organizations/organization';

operation('rejectInvitation', {
  method: 'POST',
  route: 'organizations/{name}/members/reject',
  params: organizationParams,
  auth: 'session',
  summary: 'Decline an invitation to the caller',
  body: invitationTokenBody,
  responses: { 204: { description: 'Declined' } },
  problems: ['invalid_token'],
  handle: async ({ params, body, caller, clientAddress }) => {
    await rejectInvitation(params.name, body.token, caller.account, clientAddress);
    return noContent();
  },
});
