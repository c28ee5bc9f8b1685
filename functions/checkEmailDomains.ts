import { app } from '@azure/functions';
import { checkEmailDomains } from '../lib/accounts/emailDomains/check';
import '../lib/shared/startup';

// Every day at 04:00 UTC: asks RDAP whether the domains of confirmed addresses expired or were registered again,
// each domain at most once in 30 days and a bounded number a run; an address whose domain lapsed counts as
// unconfirmed. It reads the domains due from their index, never every account.
app.timer('checkEmailDomains', {
  schedule: '0 0 4 * * *',
  handler: async (_timer, context) => {
    const tally = await checkEmailDomains(context);
    if (!tally) context.log('Another run of checkEmailDomains holds the lease: nothing to do');
    else if (Object.values(tally).some((count) => count > 0)) context.log('Email domains checked', tally);
  },
});
