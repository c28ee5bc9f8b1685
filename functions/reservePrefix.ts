import { created, operation } from '../lib/http/operation';
import { prefixView, reservePrefixBody } from '../lib/packages/prefixes';
import { reservePrefix } from '../lib/support/prefixes';

operation('reservePrefix', {
  method: 'POST',
  route: 'site-admin/prefixes',
  auth: 'site-admin',
  summary: 'Reserve a package id prefix such as Contoso. for its owners (site admins only)',
  description: 'Only the owners may then push new ids under it. Reserving a prefix again replaces its owners.',
  body: reservePrefixBody,
  responses: { 201: { description: 'The reservation', schema: prefixView } },
  problems: ['user_not_found'],
  handle: async ({ body, caller, clientAddress }) => created(await reservePrefix(caller.account, body, clientAddress)),
});
