import { noContent, operation } from '../lib/http/operation';
import { cancelInvitation } from '../lib/organizations/membership';
import { memberParams } from '../lib/organizations/organization';

operation('cancelInvitation', {
  method: 'DELETE',
  route: 'organizations/{name}/invitations/{username}',
  params: memberParams,
  auth: 'session',
  summary: "Cancel an invitation (admins); its token stops working",
  responses: { 204: { description: 'No invitation is pending for that user' } },
  problems: ['not_found', 'admin_required'],
  handle: async ({ params, caller, clientAddress }) => {
    await cancelInvitation(params.name, params.username, caller.account, clientAddress);
    return noContent();
  },
});
