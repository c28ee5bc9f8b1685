import { app } from '@azure/functions';
import { moveVersionsOffPackages } from '../lib/packages/packageVersions';
import '../lib/shared/startup';

// Every hour at minute 20: moves the versions package documents stored before versions had items of their own still
// hold onto items of their own, up to 20,000 versions a run, until none is left; then each run is one query that
// finds nothing. Runs at once with POST /admin/functions/movePackageVersions.
app.timer('movePackageVersions', {
  schedule: '0 20 * * * *',
  handler: async (_timer, context) => {
    const tally = await moveVersionsOffPackages(context);
    if (tally.packages + tally.versions > 0) context.log('Package versions moved', tally);
  },
});
