import { z } from 'zod';
import { ok, operation } from '../lib/http/operation';
import { listPrefixes, prefixView } from '../lib/packages/prefixes';

operation('listPrefixes', {
  method: 'GET',
  route: 'site-admin/prefixes',
  auth: 'session',
  summary: 'Every reserved package id prefix with its owners (site admins only)',
  responses: { 200: { description: 'The reservations', schema: z.array(prefixView) } },
  problems: ['site_admin_required'],
  handle: async ({ caller }) => ok(await listPrefixes(caller.account)),
});
