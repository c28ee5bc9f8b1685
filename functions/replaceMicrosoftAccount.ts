import { accountWithSession } from '../lib/accounts/account';
import { replaceMicrosoftAccount, replaceMicrosoftAccountBody } from '../lib/accounts/microsoftAccountChange';
import { ok, operation } from '../lib/http/operation';

operation('replaceMicrosoftAccount', {
  method: 'PUT',
  route: 'me/microsoft-account',
  auth: 'session-or-recovery',
  summary: 'Link the Microsoft account of a fresh ID token in place of the current one',
  description:
    'Removes any password (password sign-in ends once a Microsoft account is linked) and ends every other session; ' +
    'the answer carries a fresh session for the caller. Allowed for the recovery session of a password sign-in.',
  body: replaceMicrosoftAccountBody,
  responses: { 200: { description: 'The account and a fresh session', schema: accountWithSession } },
  problems: ['invalid_id_token', 'mfa_required', 'identity_provider_unavailable', 'microsoft_account_linked_elsewhere'],
  handle: async ({ body, caller, clientAddress, log }) => ok(await replaceMicrosoftAccount(caller.account, body, clientAddress, log)),
});
