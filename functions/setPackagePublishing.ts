import { ok, operation } from '../lib/http/operation';
import { packageParams, packageView } from '../lib/packages/packages';
import { publishingBody, setTrustedPublishingOnly } from '../lib/packages/publishing';

operation('setPackagePublishing', {
  method: 'PUT',
  route: 'packages/{id}/publishing',
  params: packageParams,
  auth: 'session',
  summary: 'Turn trusted-publishing-only on or off for a package (owners, and admins of owning organizations)',
  description:
    'While trustedPublishingOnly is on, a push or an unlist or relist of the package with any API key not made by trusted ' +
    'publishing answers 403 trusted_publishing_required; owners signed in still unlist and relist. Every owner is told. ' +
    'Setting what is already so changes nothing. Anyone who does not manage the package gets 403 not_an_owner, as for the other owner routes.',
  body: publishingBody,
  responses: { 200: { description: 'The package as GET /api/packages/{id} shows it, with the switch as set', schema: packageView } },
  problems: ['not_found', 'not_an_owner'],
  handle: async ({ params, body, caller, clientAddress, log }) =>
    ok(await setTrustedPublishingOnly(params.id, body.trustedPublishingOnly, caller.account, clientAddress, log)),
});
