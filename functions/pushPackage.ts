import { operation } from '../lib/http/operation';
import { pushBody, pushedVersionView, pushPackage } from '../lib/packages/packages';

operation('pushPackage', {
  method: 'PUT',
  route: 'packages',
  auth: 'api-key',
  summary: 'The push check the package pipeline calls, with the pusher\'s key in X-NuGet-ApiKey',
  description:
    'A new id needs package:push and becomes owned by the key\'s owner, unless it falls under a prefix reserved by ' +
    'someone else; a new version needs package:push or package:pushversion and an owner\'s key (one trusted ' +
    'publishing made while the package is trusted-publishing-only). The push is recorded in the ' +
    'key owner\'s security log or, for an organization, its audit trail. It answers the version pushed, never the ' +
    'whole version list, and costs the same however many versions the package has.',
  body: pushBody,
  responses: {
    201: { description: 'A new package id', schema: pushedVersionView },
    200: { description: 'A new version of a package', schema: pushedVersionView },
  },
  problems: ['api_key_scope', 'not_an_owner', 'trusted_publishing_required', 'prefix_reserved', 'package_version_exists'],
  handle: async ({ body, apiKey, clientAddress, log }) => {
    const { created, pushed } = await pushPackage(apiKey, body, clientAddress, log);
    return { status: created ? 201 : 200, body: pushed };
  },
});
