import { noContent, operation } from '../lib/http/operation';
import { listedBody, packageVersionParams, setVersionListed } from '../lib/packages/packages';

operation('setVersionListed', {
  method: 'PUT',
  route: 'packages/{id}/versions/{version}/listed',
  params: packageVersionParams,
  auth: 'session-or-api-key',
  summary: 'Unlist or relist one version of a package, with an API key or as an owner',
  description:
    'With X-NuGet-ApiKey: a key with package:unlist whose globs cover the id and whose owner owns the package (one trusted ' +
    'publishing made while the package is trusted-publishing-only). Otherwise a ' +
    'session of an owner, or of an admin of an owning organization. An unlisted version stays installable by its exact ' +
    'version and cannot be pushed again. Setting what is already so changes nothing.',
  body: listedBody,
  responses: { 204: { description: 'The version is listed or unlisted as asked' } },
  problems: ['not_found', 'api_key_scope', 'not_an_owner', 'trusted_publishing_required'],
  handle: async ({ params, body, apiKey, caller, clientAddress }) => {
    await setVersionListed(params.id, params.version, body.listed, apiKey ? { key: apiKey } : { account: caller.account }, clientAddress);
    return noContent();
  },
});
