import { noContent, operation } from '../lib/http/operation';
import { rejectTransform, transformTokenBody } from '../lib/organizations/transform';

operation('rejectTransform', {
  method: 'POST',
  route: 'organizations/transform/reject',
  auth: 'session',
  summary: 'As the named admin, decline to administer the requesting account',
  body: transformTokenBody,
  responses: { 204: { description: 'Declined' } },
  problems: ['invalid_token'],
  handle: async ({ body, caller, clientAddress, log }) => {
    await rejectTransform(body.token, caller.account, clientAddress, log);
    return noContent();
  },
});
