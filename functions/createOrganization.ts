import { created, operation } from '../lib/http/operation';
import { createOrganization, createOrganizationBody } from '../lib/organizations/lifecycle';
import { organizationView } from '../lib/organizations/organization';

operation('createOrganization', {
  method: 'POST',
  route: 'organizations',
  auth: 'session',
  summary: 'Create an organization with the caller as its admin',
  description: 'The name shares the username namespace; the caller\'s email must be confirmed; the organization\'s address gets a confirmation link.',
  body: createOrganizationBody,
  responses: { 201: { description: 'The organization, as its admin sees it', schema: organizationView } },
  problems: ['email_unconfirmed', 'invalid_username', 'username_unavailable', 'email_in_use', 'too_many_requests'],
  handle: async ({ body, caller, clientAddress, log }) => created(await createOrganization(body, caller.account, clientAddress, log)),
});
