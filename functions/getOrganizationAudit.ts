import { ok, operation } from '../lib/http/operation';
import { organizationParams } from '../lib/organizations/organization';
import { getOrganizationAudit, organizationAuditPage } from '../lib/organizations/trail';
import { auditQuery } from '../lib/shared/audit';

operation('getOrganizationAudit', {
  method: 'GET',
  route: 'organizations/{name}/audit',
  params: organizationParams,
  auth: 'session',
  summary: "The organization's audit trail, newest first, a page at a time (members)",
  description:
    'Every push, unlist and relist done for the organization (which member, which key), changes of its packages\' owners and ' +
    'of its prefixes, its keys, and its membership (invited, joined, role changed, removed, left), with time and actor.',
  query: auditQuery,
  responses: { 200: { description: 'A page of events; pass continuationToken back for the next', schema: organizationAuditPage } },
  problems: ['not_found'],
  handle: async ({ params, query, caller }) => ok(await getOrganizationAudit(params.name, caller.account, query.pageSize, query.continuationToken)),
});
