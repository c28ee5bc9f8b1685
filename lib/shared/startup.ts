import { app } from '@azure/functions';
import { settings } from './settings';

// A misconfigured app must refuse to start and name the setting, rather than fail its first requests.
app.hook.appStart(() => {
  settings();
});
