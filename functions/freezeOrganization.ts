import { ok, operation } from '../lib/http/operation';
import { freezeBody, freezeOrganization } from '../lib/organizations/freeze';
import { organizationParams, organizationView } from '../lib/organizations/organization';

operation('freezeOrganization', {
  method: 'POST',
  route: 'organizations/{name}/freeze',
  params: organizationParams,
  auth: 'session',
  summary: 'Freeze the organization (admins): every API key it owns stops until it is unfrozen',
  description:
    'Before this answers, every API key the organization owns answers 401 invalid_api_key, whoever holds it; while it is ' +
    'frozen no key can be made or regenerated for it and trusted publishing gives no keys for it. Members\' sessions and ' +
    'their own keys are not affected. Recorded in the organization\'s trail with the reason; every admin is told by email. ' +
    'Freezing a frozen organization keeps the first freeze (and finishes suspending its keys, should a freeze have stopped halfway).',
  body: freezeBody,
  responses: { 200: { description: 'The organization, frozen', schema: organizationView } },
  problems: ['not_found', 'admin_required'],
  handle: async ({ params, body, caller, clientAddress, log }) => ok(await freezeOrganization(params.name, body.reason, caller.account, clientAddress, log)),
});
