import { app } from '@azure/functions';
import { notifyExpiringApiKeys } from '../lib/packages/keyExpiry';
import '../lib/shared/startup';

// Every day at 06:00 UTC: emails the holder of each API key that expires within 7 days, then within a day,
// once each however often it runs; it reads the keys' expiry entries of the next eight days, never every key.
app.timer('notifyExpiringApiKeys', {
  schedule: '0 0 6 * * *',
  handler: async (_timer, context) => {
    const tally = await notifyExpiringApiKeys(context);
    if (tally.warned + tally.failed > 0) context.log('Expiry warnings', tally);
  },
});
