import { noContent, operation } from '../lib/http/operation';
import { revokeMemberKeys } from '../lib/organizations/membership';
import { memberParams } from '../lib/organizations/organization';

operation('revokeMemberKeys', {
  method: 'POST',
  route: 'organizations/{name}/members/{username}/revoke-keys',
  params: memberParams,
  auth: 'session',
  summary: 'Revoke every API key a member holds for the organization, at once (admins)',
  description:
    'For a member whose account or keys may be in someone else\'s hands: every key the member holds whose owner is the ' +
    'organization stops working before this answers, those trusted publishing made too. The member stays a member. ' +
    'Recorded in the organization\'s trail; the member and every admin are told by email.',
  responses: { 204: { description: 'The keys are revoked' } },
  problems: ['not_found', 'admin_required'],
  handle: async ({ params, caller, clientAddress, log }) => {
    await revokeMemberKeys(params.name, params.username, caller.account, clientAddress, log);
    return noContent();
  },
});
