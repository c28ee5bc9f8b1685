import { ok, operation } from '../lib/http/operation';
import { acceptTransform, transformTokenBody } from '../lib/organizations/transform';

operation('acceptTransform', {
  method: 'POST',
  route: 'organizations/transform/accept',
  auth: 'session',
  summary: 'As the named admin, turn the requesting account into an organization',
  description:
    'The account keeps its name, email address and packages, and loses its own sign-in credentials and sessions. ' +
    'If an accept was interrupted, accepting again finishes it.',
  body: transformTokenBody,
  responses: { 200: { description: 'The account is an organization with the caller as admin' } },
  problems: ['invalid_token', 'transform_not_allowed', 'email_unconfirmed'],
  handle: async ({ body, caller, clientAddress, log }) => {
    await acceptTransform(body.token, caller.account, clientAddress, log);
    return ok({ transformed: true });
  },
});
