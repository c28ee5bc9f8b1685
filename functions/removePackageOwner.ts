import { noContent, operation } from '../lib/http/operation';
import { removeOwner } from '../lib/packages/owners';
import { packageOwnerParams } from '../lib/packages/packages';

operation('removePackageOwner', {
  method: 'DELETE',
  route: 'packages/{id}/owners/{username}',
  params: packageOwnerParams,
  auth: 'session',
  summary: 'Remove an owner of a package; the last owner cannot be removed',
  responses: { 204: { description: 'No longer an owner' } },
  problems: ['not_found', 'not_an_owner', 'last_owner'],
  handle: async ({ params, caller, clientAddress, log }) => {
    await removeOwner(params.id, params.username, caller.account, clientAddress, log);
    return noContent();
  },
});
