import { accepted, operation } from '../lib/http/operation';
import { inviteOwner, inviteOwnerBody } from '../lib/packages/owners';
import { packageParams } from '../lib/packages/packages';

operation('invitePackageOwner', {
  method: 'POST',
  route: 'packages/{id}/owners',
  params: packageParams,
  auth: 'session',
  summary: 'Invite an account or organization to co-own a package (owners, and admins of owning organizations)',
  description:
    'An email carries a token, valid 7 days, for that account only (for an organization: one of its admins). Inviting the same account ' +
    'again replaces its invitation. An account or organization that has not confirmed its email address cannot be invited (400 ' +
    'email_unconfirmed). A package has at most 15 owners and 3 invitations waiting for an answer.',
  body: inviteOwnerBody,
  responses: { 202: { description: 'Invited' } },
  problems: ['not_found', 'not_an_owner', 'user_not_found', 'already_owner', { code: 'email_unconfirmed', status: 400 }, 'owner_limit', 'too_many_requests'],
  handle: async ({ params, body, caller, clientAddress, log }) => {
    await inviteOwner(params.id, body.username, caller.account, clientAddress, log);
    return accepted();
  },
});
