import { app } from '@azure/functions';
import { moveOrganizationPolicies } from '../lib/trustedPublishing/store';
import '../lib/shared/startup';

// Every day at 05:00 UTC: moves the trusted publishing policies members stored for organizations in their own
// partitions, before organizations held their own, into the organizations', so jobs may name the organization;
// once none is left, a run is one query.
app.timer('moveOrganizationPolicies', {
  schedule: '0 0 5 * * *',
  handler: async (_timer, context) => {
    const tally = await moveOrganizationPolicies(context);
    if (tally.moved + tally.left + tally.failed > 0) context.log('Trusted publishing policies moved to their organizations', tally);
  },
});
