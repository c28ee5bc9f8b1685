import { noContent, operation } from '../lib/http/operation';
import { prefixParams } from '../lib/packages/prefixes';
import { releasePrefix } from '../lib/support/prefixes';

operation('releasePrefix', {
  method: 'DELETE',
  route: 'site-admin/prefixes/{prefix}',
  params: prefixParams,
  auth: 'site-admin',
  summary: 'Release a reserved package id prefix such as Contoso. (site admins only)',
  description: 'Anyone may push new ids under it again; packages already pushed under it keep their owners.',
  responses: { 204: { description: 'Released' } },
  problems: ['not_found'],
  handle: async ({ params, caller, clientAddress }) => {
    await releasePrefix(caller.account, params.prefix, clientAddress);
    return noContent();
  },
});
