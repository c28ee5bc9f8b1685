import { auditPage, auditQuery, readAuditLog } from '../lib/shared/audit';
import { ok, operation } from '../lib/http/operation';

operation('getAuditLog', {
  method: 'GET',
  route: 'me/audit',
  auth: 'session',
  summary: "The account's own security log, newest first, a page at a time",
  query: auditQuery,
  responses: { 200: { description: 'A page of events; pass continuationToken back for the next', schema: auditPage } },
  problems: [],
  handle: async ({ caller, query }) => ok(await readAuditLog(caller.account.id, query.pageSize, query.continuationToken)),
});
