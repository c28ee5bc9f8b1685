import { operation } from '../lib/http/operation';
import { pushBody, pushedPackageView, pushPackage } from '../lib/packages/packages';

operation('pushPackage', {
  method: 'PUT',
  route: 'packages',
  auth: 'api-key',
  summary: 'The push check the package pipeline calls, with the pusher\'s key in X-NuGet-ApiKey',
  description:
    'A new id needs package:push and becomes owned by the key\'s owner, unless it falls under a prefix reserved by ' +
    'someone else; a new version needs package:push or package:pushversion and an owner\'s key (one trusted ' +
    'publishing made while the package is trusted-publishing-only). The push is recorded in the ' +
    'key owner\'s security log or, for an organization, its audit trail.',
  body: pushBody,
  responses: {
    201: { description: 'A new package id', schema: pushedPackageView },
    200: { description: 'A new version of a package', schema: pushedPackageView },
  },
  problems: ['api_key_scope', 'not_an_owner', 'trusted_publishing_required', 'prefix_reserved', 'package_version_exists'],
  handle: async ({ body, apiKey, clientAddress, log }) => {
    const { created, pkg } = await pushPackage(apiKey, body, clientAddress, log);
    return { status: created ? 201 : 200, body: pkg };
  },
});
