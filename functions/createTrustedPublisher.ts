import { created, operation } from '../lib/http/operation';
import { createTrustedPublisher, createTrustedPublisherBody, trustedPublisherView } from '../lib/trustedPublishing/policies';

operation('createTrustedPublisher', {
  method: 'POST',
  route: 'me/trusted-publishers',
  auth: 'session',
  summary: 'Trust the jobs of a CI provider to get short-lived API keys for you or an organization you belong to',
  description:
    '`owner` the caller or an organization the caller belongs to; `provider` (default `github`) says whose jobs, and the fields beside it ' +
    'are that provider\'s criteria: for `github`, `repositoryOwner` and `repository` as in github.com/<owner>/<repository>, `workflowFile` ' +
    'the file name in .github/workflows, `environment` the deployment environment the job must run in (none: any). Fields another provider ' +
    'names are refused. The first token that fully matches pins the policy to the ids behind those names; unused, it lapses after 7 days.',
  body: createTrustedPublisherBody,
  responses: { 201: { description: 'The policy, pending its first use', schema: trustedPublisherView } },
  problems: ['owner_not_allowed', 'trusted_publisher_limit'],
  handle: async ({ body, caller, clientAddress, log }) => created(await createTrustedPublisher(caller.account, body, clientAddress, log)),
});
