import { noContent, operation } from '../lib/http/operation';
import { withdrawOwnerInvitation } from '../lib/packages/owners';
import { packageOwnerParams } from '../lib/packages/packages';

operation('withdrawPackageOwnerInvitation', {
  method: 'DELETE',
  route: 'packages/{id}/owners/invitations/{username}',
  params: packageOwnerParams,
  auth: 'session',
  summary: 'Withdraw the invitation to own a package waiting for an account or organization (owners, and admins of owning organizations)',
  responses: { 204: { description: 'Withdrawn; its token no longer works' } },
  problems: ['not_found', 'not_an_owner'],
  handle: async ({ params, caller, clientAddress, log }) => {
    await withdrawOwnerInvitation(params.id, params.username, caller.account, clientAddress, log);
    return noContent();
  },
});
