import { ok, operation } from '../lib/http/operation';
import { getPackage, packageParams, packageView } from '../lib/packages/packages';

operation('getPackage', {
  method: 'GET',
  route: 'packages/{id}',
  params: packageParams,
  auth: 'none',
  summary: "A package's owners, its first 100 versions and how many it has, whether it is listed, and the owner invitations waiting",
  responses: { 200: { description: 'The package', schema: packageView } },
  problems: ['not_found'],
  handle: async ({ params }) => ok(await getPackage(params.id)),
});
