import { cancelDeletion } from '../lib/deletion/request';
import { noContent, operation } from '../lib/http/operation';

operation('cancelDeletion', {
  method: 'DELETE',
  route: 'me/deletion',
  auth: 'session',
  summary: 'Cancel the deletion of the account before it is processed',
  responses: { 204: { description: 'No deletion is scheduled' } },
  problems: ['deletion_in_progress'],
  handle: async ({ caller, clientAddress }) => {
    await cancelDeletion(caller.account, clientAddress);
    return noContent();
  },
});
