import { z } from 'zod';
import { ok, operation } from '../lib/http/operation';
import { listPrefixes, prefixView } from '../lib/packages/prefixes';

operation('listPrefixes', {
  method: 'GET',
  route: 'site-admin/prefixes',
  auth: 'site-admin',
  summary: 'Every reserved package id prefix with its owners (site admins only)',
  responses: { 200: { description: 'The reservations', schema: z.array(prefixView) } },
  problems: [],
  handle: async () => ok(await listPrefixes()),
});
