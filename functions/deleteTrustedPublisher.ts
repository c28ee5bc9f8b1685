import { noContent, operation } from '../lib/http/operation';
import { deleteTrustedPublisher, trustedPublisherParams } from '../lib/trustedPublishing/policies';

operation('deleteTrustedPublisher', {
  method: 'DELETE',
  route: 'me/trusted-publishers/{id}',
  params: trustedPublisherParams,
  auth: 'session',
  summary: 'Remove a trusted publishing policy (its creator, or an admin of the organization that owns it)',
  description: 'It makes no key from then on, and the keys it made stop working at once.',
  responses: { 204: { description: 'Removed' } },
  problems: ['not_found'],
  handle: async ({ params, caller, clientAddress, log }) => {
    await deleteTrustedPublisher(caller.account, params.id, clientAddress, log);
    return noContent();
  },
});
