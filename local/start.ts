/**
 * `npm start`: the whole API on http://localhost:7071/api and a development console at http://localhost:7071/.
 * Every setting left unset gets an embedded development default (an in-process Cosmos DB stand-in, a mailbox
 * that prints each email's links, a development identity that a browser app signs in against with MSAL). In
 * production none of them exist: a missing setting stops start-up, naming it.
 */
import { startLocalHost, type DevRoute } from './host';
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { ConfigurationError, parseSettings } from '../lib/shared/settings';
import { provisionContainers } from '../lib/shared/storage/cosmos';
import { createAcsEmailStandIn, type DeliveredEmail } from './standins/acsEmail';
import type { DevelopmentIssuer } from './standins/developmentIssuer';
import { listenOnLoopback, type LoopbackServer } from './standins/listen';
import { developmentConsoleRoutes } from './console';
import { createDevelopmentIdentity, DEVELOPMENT_GALLERY_API, DEVELOPMENT_SERVICE_PRINCIPAL, DEVELOPMENT_TENANT } from './identity/developmentIdentity';
import { createDevelopmentGitHubIssuer } from './githubActions/developmentIssuer';
import { createDevelopmentGitLabIssuer } from './gitlab/developmentIssuer';

const DEFAULT_PORT = 7071;
/** The site admin of `npm start`'s development defaults. */
const DEVELOPMENT_SITE_ADMIN = 'support';

function isProduction(env: NodeJS.ProcessEnv): boolean {
  return env.NODE_ENV === 'production' || Boolean(env.WEBSITE_INSTANCE_ID || env.WEBSITE_SITE_NAME);
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_PORT;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) {
    throw new ConfigurationError(`The service cannot start: PORT must be a port number, not '${value}'.`);
  }
  return port;
}

/**
 * The admin API's key in production (the real host keeps its own; this is the local host's). Unset, the admin
 * API is off. Set, it must be one nobody guesses.
 */
function parseMasterKey(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length < 32 || /\s/.test(value)) {
    throw new ConfigurationError(
      'The service cannot start: FUNCTIONS_MASTER_KEY must be at least 32 characters without white space (for example `openssl rand -base64 48`).',
    );
  }
  return value;
}

function describeEmail(email: DeliveredEmail): string {
  return [`\n📧 To ${email.to.join(', ')}: ${email.subject}`, ...email.links.map((link) => `   ${link}`)].join('\n');
}

function mailboxRoute(delivered: DeliveredEmail[]): http.RequestListener {
  return (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(delivered, null, 2));
  };
}

/**
 * A stand-in's port beside the API's: the development identity's is the next one, so a frontend's MSAL
 * configuration stays put, the GitHub Actions issuer's the one after, and the GitLab issuer's the one after that.
 */
const portBeside = (port: number, offset: number) => (port === 0 || port + offset > 65535 ? 0 : port + offset);

interface DevelopmentDefaults {
  routes: DevRoute[];
  notes: Array<(origin: string) => string>;
  standIns: LoopbackServer[];
  /** Told the host's origin once it listens. */
  listening: Array<(origin: string) => void>;
}

/** Fills each unset setting with a stand-in on loopback; returns the routes the stand-ins are served on. */
async function applyDevelopmentDefaults(
  env: NodeJS.ProcessEnv,
  port: number,
  print: (line: string) => void,
): Promise<DevelopmentDefaults> {
  const routes: DevRoute[] = [];
  // Written once the host has its address (PORT=0 picks one).
  const notes: Array<(origin: string) => string> = [];
  const standIns: LoopbackServer[] = [];
  const listening: Array<(origin: string) => void> = [];
  if (!env.COSMOS_ENDPOINT) {
    const { createCosmosStandIn } = await import('./standins/cosmos');
    const cosmos = await listenOnLoopback(createCosmosStandIn());
    standIns.push(cosmos);
    env.COSMOS_ENDPOINT = cosmos.url;
    env.COSMOS_KEY ??= randomBytes(32).toString('base64');
    notes.push(() => `Cosmos DB: in-process stand-in at ${cosmos.url} (data lives until the process stops)`);
  }
  env.COSMOS_DATABASE ||= 'accounts';
  if (!env.COMMUNICATION_SERVICES_CONNECTION_STRING && !env.COMMUNICATION_SERVICES_ENDPOINT) {
    const accessKey = randomBytes(32).toString('base64');
    const mailbox = createAcsEmailStandIn({ accessKey, onDelivered: (email) => print(describeEmail(email)) });
    // The ACS SDK accepts no path in its endpoint, so the mailbox gets a port of its own.
    const acs = await listenOnLoopback(mailbox.handle);
    standIns.push(acs);
    routes.push({ prefix: '/dev/mailbox', handler: mailboxRoute(mailbox.delivered) });
    env.COMMUNICATION_SERVICES_CONNECTION_STRING = `endpoint=${acs.url}/;accesskey=${accessKey}`;
    notes.push((origin) => `Email: local mailbox, printed here and listed at ${origin}/dev/mailbox`);
  }
  env.EMAIL_SENDER_ADDRESS ||= 'DoNotReply@gallery.example';
  if (!env.MICROSOFT_CLIENT_ID && !env.MICROSOFT_LOGIN_HOST) {
    env.MICROSOFT_CLIENT_ID = 'local-development';
    // Verified work-account MFA needs an API to get access tokens for; the development identity has one.
    if (env.WORK_ACCOUNT_MFA === 'verified') env.MICROSOFT_MFA_API_AUDIENCE ||= `api://${env.MICROSOFT_CLIENT_ID}`;
    const identity = createDevelopmentIdentity({ clientId: env.MICROSOFT_CLIENT_ID, mfaApiAudience: env.MICROSOFT_MFA_API_AUDIENCE || undefined });
    // An origin of its own, like login.microsoftonline.com, whose issuers are known before the host listens.
    const login = await listenOnLoopback(identity.handle, portBeside(port, 1));
    standIns.push(login);
    identity.setLoginHost(login.url);
    env.MICROSOFT_LOGIN_HOST = login.url;
    routes.push({ prefix: '/dev/identity/token', handler: identity.mintForScripts });
    // The frontend and the console may sign in from their pages and come back to them after signing out (redirect
    // and post-logout URIs, the token endpoint's CORS).
    const pageOrigins = (origin: string) => [env.PUBLIC_BASE_URL!, origin, origin.replace('//localhost:', '//127.0.0.1:')];
    listening.push((origin) => identity.allowOrigins(pageOrigins(origin)));
    notes.push(
      (origin) =>
        `Microsoft sign-in: development identity at ${login.url} (MSAL set-up: docs/frontend.md), client id ${env.MICROSOFT_CLIENT_ID};\n` +
        `   redirect and post-logout URIs: any on ${pageOrigins(origin).join(', ')}. Scripts get an ID token with\n` +
        `   curl -s -X POST ${origin}/dev/identity/token -H 'Content-Type: application/json' -d '{"email":"ada@example.com","name":"Ada"}'`,
    );
    // Trusted publishing from Microsoft Entra workloads (the entra provider) takes the development identity's
    // app-only tokens for its gallery API.
    env.TRUSTED_PUBLISHING_ENTRA_AUDIENCE ||= `${DEVELOPMENT_GALLERY_API.appIdUri},${DEVELOPMENT_GALLERY_API.clientId}`;
    routes.push({ prefix: '/dev/entra/token', handler: identity.mintWorkloadTokenForScripts });
    notes.push(
      (origin) =>
        `Microsoft Entra workloads (trusted publishing: docs/trusted-publishing/azure-pipelines.md): app-only tokens for the gallery API ${DEVELOPMENT_GALLERY_API.appIdUri}, as az account get-access-token gives them, with\n` +
        `   curl -s -X POST ${origin}/dev/entra/token -H 'Content-Type: application/json' -d '{"tenantId":"${DEVELOPMENT_TENANT}","objectId":"${DEVELOPMENT_SERVICE_PRINCIPAL}"}'`,
    );
  }
  env.SESSION_SIGNING_KEY ||= randomBytes(48).toString('base64');
  env.PUBLIC_BASE_URL ||= 'http://localhost:3000';
  notes.push(
    () =>
      `Frontend: ${env.PUBLIC_BASE_URL} (PUBLIC_BASE_URL, which must be your frontend dev server's origin): the API answers CORS only for it,\n` +
      `   and the links in emails lead to its pages`,
  );
  // Support's runbook can be tried at once: whoever registers this name acts for support.
  if (!env.SITE_ADMINS) {
    env.SITE_ADMINS = DEVELOPMENT_SITE_ADMIN;
    notes.push(() => `Site admin: register the username ${DEVELOPMENT_SITE_ADMIN} to act for support (SITE_ADMINS; docs/operations/support.md)`);
  }
  // Trusted publishing asks tokens for the gallery's own origin, as NuGet.org's are for https://www.nuget.org.
  env.TRUSTED_PUBLISHING_AUDIENCE ||= env.PUBLIC_BASE_URL;
  /**
   * A development CI issuer on an origin of its own (`offset` ports beside the API's), like
   * token.actions.githubusercontent.com or gitlab.com, known before the host listens; scripts get its tokens at
   * `route`. Answers the issuer's URL.
   */
  const serveIssuer = async (issuer: DevelopmentIssuer, offset: number, route: string, note: (issuerUrl: string, origin: string) => string) => {
    const served = await listenOnLoopback(issuer.handle, portBeside(port, offset));
    standIns.push(served);
    issuer.setIssuer(served.url);
    routes.push({ prefix: route, handler: issuer.mintForScripts });
    notes.push((origin) => note(served.url, origin));
    return served.url;
  };
  const audience = { audience: env.TRUSTED_PUBLISHING_AUDIENCE };
  env.GITHUB_OIDC_ISSUER ||= await serveIssuer(
    createDevelopmentGitHubIssuer(audience),
    2,
    '/dev/github-actions/token',
    (issuer, origin) =>
      `GitHub Actions OIDC: development issuer at ${issuer} (trusted publishing: docs/trusted-publishing/github.md). Scripts get a workflow run's token with\n` +
      `   curl -s -X POST ${origin}/dev/github-actions/token -H 'Content-Type: application/json' -d '{"repository":"contoso/contoso-sdk","workflowFile":"release.yml"}'`,
  );
  env.GITLAB_OIDC_ISSUER ||= await serveIssuer(
    createDevelopmentGitLabIssuer(audience),
    3,
    '/dev/gitlab/token',
    (issuer, origin) =>
      `GitLab CI/CD ID tokens: development issuer at ${issuer} (trusted publishing: docs/trusted-publishing/gitlab.md). Scripts get a pipeline job's ID token with\n` +
      `   curl -s -X POST ${origin}/dev/gitlab/token -H 'Content-Type: application/json' -d '{"project":"contoso/contoso-sdk"}'`,
  );
  if (!env.RDAP_BOOTSTRAP_URL) {
    const { createRdapStandIn, serveExampleDomains } = await import('./standins/rdap');
    const rdap = createRdapStandIn();
    const server = await listenOnLoopback(rdap.handle);
    standIns.push(server);
    rdap.setOrigin(server.url);
    serveExampleDomains(rdap);
    env.RDAP_BOOTSTRAP_URL = rdap.bootstrapUrl();
    notes.push(
      (origin) =>
        `RDAP: stand-in at ${env.RDAP_BOOTSTRAP_URL}: example.com, .net and .org are healthy; a confirmed address at expired.example or\n` +
        `   reregistered.example lapses when the lapsed-domain check runs: curl -X POST ${origin}/admin/functions/checkEmailDomains -H 'Content-Type: application/json' -d '{}'`,
    );
  }
  return { routes, notes, standIns, listening };
}

export interface RunningService {
  url: string;
  notes: string[];
  stop(): Promise<void>;
}

/**
 * Starts the API as `npm start` does, from the settings in `env` (normally process.env), which it completes
 * with development defaults outside production. With `print` the mailbox and logs go there, not the console.
 */
export async function startService(env: NodeJS.ProcessEnv, print: (line: string) => void = console.log): Promise<RunningService> {
  const port = parsePort(env.PORT);
  const masterKey = parseMasterKey(env.FUNCTIONS_MASTER_KEY);
  const production = isProduction(env);
  const { routes, notes, standIns, listening }: DevelopmentDefaults = production
    ? { routes: [], notes: [], standIns: [], listening: [] }
    : await applyDevelopmentDefaults(env, port, print);
  const stopStandIns = () => Promise.all(standIns.map((server) => server.close()));
  try {
    const settings = parseSettings(env);
    const { PUBLIC_BASE_URL } = settings;
    // The function app reads its settings from the process environment, as it does in Azure.
    if (env !== process.env) Object.assign(process.env, env);
    // In production infra/ provisions them; /api/health names whatever is missing.
    if (!production) await provisionContainers();
    if (!production) {
      routes.push(...developmentConsoleRoutes(settings));
      notes.push((origin) => `Development console: ${origin}/`);
    }
    const host = await startLocalHost({
      port,
      hostname: production ? '0.0.0.0' : '127.0.0.1',
      corsOrigins: [PUBLIC_BASE_URL],
      runSchedules: true,
      // As in Azure, the admin API needs the master key in production; outside it, it is open as under `func start`.
      adminAccess: production ? { masterKey } : undefined,
      devRoutes: routes,
      log: print,
    });
    const url = host.url.replace('127.0.0.1', 'localhost');
    for (const tell of listening) tell(url);
    return {
      url,
      notes: notes.map((note) => note(url)),
      // The stand-ins go too, or their listening sockets would keep the process alive after stop().
      stop: async () => {
        await host.close();
        await stopStandIns();
      },
    };
  } catch (error) {
    await stopStandIns();
    throw error;
  }
}

if (require.main === module) {
  startService(process.env)
    .then((service) => {
      console.log(`Account service on ${service.url}/api (OpenAPI: ${service.url}/api/openapi.json)`);
      for (const note of service.notes) console.log(`- ${note}`);
      const stop = () => void service.stop().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((error: unknown) => {
      console.error(error instanceof ConfigurationError ? error.message : error);
      process.exit(1);
    });
}
