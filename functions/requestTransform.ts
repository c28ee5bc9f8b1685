import { accepted, operation } from '../lib/http/operation';
import { requestTransform, requestTransformBody } from '../lib/organizations/transform';

operation('requestTransform', {
  method: 'POST',
  route: 'me/transform',
  auth: 'session-or-recovery',
  summary: 'Ask another confirmed individual account to administer this account as an organization',
  description: 'The account needs a confirmed email and no memberships. An email with a token goes to the admin, who accepts or rejects.',
  body: requestTransformBody,
  responses: { 202: { description: 'The request waits for the admin' } },
  problems: ['email_unconfirmed', 'transform_not_allowed', 'user_not_found', 'member_is_organization', { code: 'email_unconfirmed', status: 400 }, 'too_many_requests'],
  handle: async ({ body, caller, clientAddress, log }) => {
    await requestTransform(caller.account, body.adminUsername, clientAddress, log);
    return accepted();
  },
});
