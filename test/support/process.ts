import { spawn } from 'node:child_process';
import path from 'node:path';

/** Starts a process running `npm start`'s compiled entry point with `env`, and resolves with its base URL. */
export async function startServiceProcess(entry: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [entry], { env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Read what it prints for as long as it runs, so a full pipe never stalls it.
  child.stderr!.resume();
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const started = /Account service on (http:\/\/\S+)\/api /.exec(output);
      if (started) resolve(started[1]);
    });
    child.once('exit', (code) => reject(new Error(`the service exited (${code}) before serving: ${output}`)));
  });
  return { url, process: child };
}

/** Every setting the service reads (and NODE_ENV and what marks Azure), none of which `npm start` on a fresh machine has. */
const SERVICE_SETTINGS =
  /^(COSMOS_|COMMUNICATION_SERVICES_|EMAIL_SENDER_ADDRESS|MICROSOFT_|SESSION_SIGNING_KEY|PUBLIC_BASE_URL|ACCOUNT_DELETION_|SITE_ADMINS|WORK_ACCOUNT_MFA|TRUSTED_PUBLISHING_|GITHUB_OIDC_|GITLAB_OIDC_|RDAP_|FUNCTIONS_MASTER_KEY|NODE_ENV|WEBSITE_)/;

/** `npm start` as a newcomer runs it (the compiled entry point, every development default), with nothing set but `extra`. */
export function startWithDevelopmentDefaults(extra: Record<string, string> = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SERVICE_SETTINGS.test(name)));
  return startServiceProcess(path.resolve(__dirname, '..', '..', 'dist', 'local', 'start.js'), { ...env, ...extra });
}
