import { noContent, operation } from '../lib/http/operation';
import { ownerTokenBody, rejectOwnerInvitation } from '../lib/packages/owners';
import { packageParams } from '../lib/packages/packages';

operation('rejectPackageOwnership', {
  method: 'POST',
  route: 'packages/{id}/owners/reject',
  params: packageParams,
  auth: 'session',
  summary: 'Decline an invitation to own a package, with its token (the invited account, or an admin of the invited organization)',
  body: ownerTokenBody,
  responses: { 204: { description: 'Declined; the token no longer works' } },
  problems: ['invalid_token'],
  handle: async ({ params, body, caller, clientAddress, log }) => {
    await rejectOwnerInvitation(params.id, body.token, caller.account, clientAddress, log);
    return noContent();
  },
});
