import { ok, operation } from '../lib/http/operation';
import { getPackageVersions, packageParams, versionsPage, versionsPageQuery } from '../lib/packages/packages';

operation('getPackageVersions', {
  method: 'GET',
  route: 'packages/{id}/versions',
  params: packageParams,
  auth: 'none',
  summary: "A package's versions in NuGet's order, a page at a time",
  description:
    'pageSize from 1 to 1000 (default 100); pass the continuationToken of a page back for the next. Each page costs the same ' +
    'wherever it is in the list, and a package may hold 100,000 versions.',
  query: versionsPageQuery,
  responses: { 200: { description: 'A page of versions; continuationToken is null on the last', schema: versionsPage } },
  problems: ['not_found'],
  handle: async ({ params, query }) => ok(await getPackageVersions(params.id, query.pageSize, query.continuationToken)),
});
