import { ok, operation } from '../lib/http/operation';
import { getMyPackages, myPackagesView } from '../lib/packages/myPackages';

operation('getMyPackages', {
  method: 'GET',
  route: 'me/packages',
  auth: 'session',
  summary: 'The packages the caller owns, directly or through its organizations, and the owner invitations it received and sent',
  responses: { 200: { description: 'Packages and invitations', schema: myPackagesView } },
  problems: [],
  handle: async ({ caller }) => ok(await getMyPackages(caller.account)),
});
