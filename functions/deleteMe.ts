import { deleteMeBody, deletionView, requestDeletion } from '../lib/deletion/request';
import { accepted, operation } from '../lib/http/operation';

operation('deleteMe', {
  method: 'DELETE',
  route: 'me',
  auth: 'session',
  summary: 'Ask for the account to be deleted, after the grace period; type the username back to confirm',
  description:
    'The timer processAccountDeletions processes it once `scheduledFor` has passed; until then the account works as ' +
    'before and DELETE /api/me/deletion cancels. Asking again answers the schedule already set.',
  body: deleteMeBody,
  responses: { 202: { description: 'The deletion is scheduled', schema: deletionView } },
  problems: ['confirmation_mismatch'],
  handle: async ({ body, caller, clientAddress }) => accepted(await requestDeletion(caller.account, body.confirmUsername, clientAddress)),
});
