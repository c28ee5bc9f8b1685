import { accepted, operation } from '../lib/http/operation';
import { resendOrganizationConfirmation } from '../lib/organizations/emailAddress';
import { organizationParams } from '../lib/organizations/organization';

operation('resendOrganizationEmailConfirmation', {
  method: 'POST',
  route: 'organizations/{name}/email/resend-confirmation',
  params: organizationParams,
  auth: 'session',
  summary: "Send the link that confirms the organization's email address again (admins)",
  description:
    'For an address never confirmed, or whose domain lapsed. The earlier link stops working. Limited to 5 an hour per admin and per address. ' +
    '400 `invalid_request` when the address is confirmed already.',
  responses: { 202: { description: 'A new link is on its way to the organization\'s address' } },
  problems: ['not_found', 'admin_required', 'too_many_requests'],
  handle: async ({ params, caller, clientAddress, log }) => {
    await resendOrganizationConfirmation(params.name, caller.account, clientAddress, log);
    return accepted();
  },
});
