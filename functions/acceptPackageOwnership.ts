import { ok, operation } from '../lib/http/operation';
import { acceptOwnerInvitation, ownerTokenBody } from '../lib/packages/owners';
import { packageParams, packageView } from '../lib/packages/packages';

operation('acceptPackageOwnership', {
  method: 'POST',
  route: 'packages/{id}/owners/accept',
  params: packageParams,
  auth: 'session',
  summary: 'Become an owner of a package with the token of an invitation',
  body: ownerTokenBody,
  responses: { 200: { description: 'The package with its new owner', schema: packageView } },
  problems: ['invalid_token', 'owner_limit'],
  handle: async ({ params, body, caller, clientAddress, log }) => ok(await acceptOwnerInvitation(params.id, body.token, caller.account, clientAddress, log)),
});
