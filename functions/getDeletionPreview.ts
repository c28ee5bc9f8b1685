import { deletionPreview, previewDeletion } from '../lib/deletion/request';
import { ok, operation } from '../lib/http/operation';

operation('getDeletionPreview', {
  method: 'GET',
  route: 'me/deletion-preview',
  auth: 'session',
  summary: 'What to hand over before deleting the account: packages it alone owns, organizations it alone administers',
  responses: { 200: { description: 'The preview', schema: deletionPreview } },
  problems: [],
  handle: async ({ caller }) => ok(await previewDeletion(caller.account)),
});
