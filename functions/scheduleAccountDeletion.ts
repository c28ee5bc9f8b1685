import { accepted, operation } from '../lib/http/operation';
import { optionalReasonBody } from '../lib/shared/audit';
import { scheduleAccountDeletion, supportAccountParams, supportAccountView } from '../lib/support/accounts';

operation('scheduleAccountDeletion', {
  method: 'POST',
  route: 'site-admin/accounts/{username}/delete',
  params: supportAccountParams,
  auth: 'site-admin',
  summary: 'Schedule the deletion of an account or organization, due now (site admins only); the body and its reason are optional',
  description:
    'The timer processAccountDeletions processes it on its next run, as for a deletion the account asked for (a deletion ' +
    'it asked for is brought forward); the account cannot cancel it. A deleted account is answered as it is.',
  body: optionalReasonBody,
  responses: { 202: { description: 'The account, its deletion scheduled', schema: supportAccountView } },
  problems: ['not_found'],
  handle: async ({ params, body, caller, clientAddress }) =>
    accepted(await scheduleAccountDeletion(caller.account, params.username, body?.reason, clientAddress)),
});
