import { z } from 'zod';
import { ok, operation } from '../lib/http/operation';
import { listTrustedPublishers, trustedPublisherView } from '../lib/trustedPublishing/policies';

operation('listTrustedPublishers', {
  method: 'GET',
  route: 'me/trusted-publishers',
  auth: 'session',
  summary: "The caller's trusted publishing policies, then those of the organizations it administers",
  description:
    'The policies the caller made, oldest first, then those other members made for organizations the caller is an admin of. Each shows its ' +
    '`provider` and, in `criteria`, what that provider\'s tokens are matched on (a `github` policy also at the top level, where they were ' +
    'before providers).',
  responses: { 200: { description: 'The policies, each with its status', schema: z.array(trustedPublisherView) } },
  problems: [],
  handle: async ({ caller }) => ok(await listTrustedPublishers(caller.account)),
});
