import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigurationError, parseSettings } from '../lib/shared/settings';
import { startService } from '../local/start';
import { listenOnLoopback } from '../local/standins/listen';
import { createGitHubActionsStandIn } from './standins/githubActions';
import { startServiceProcess } from './support/process';
import { SETTINGS_IN_AZURE } from './support/settings';
import { provisionedCosmosStandIn } from './support/storage';
import { tokenIn } from './support/waitFor';

/** Every setting the service reads, and what tells it it runs in Azure. */
const SERVICE_SETTINGS = [
  'COSMOS_ENDPOINT',
  'COSMOS_KEY',
  'COSMOS_DATABASE',
  'COMMUNICATION_SERVICES_CONNECTION_STRING',
  'COMMUNICATION_SERVICES_ENDPOINT',
  'EMAIL_SENDER_ADDRESS',
  'MICROSOFT_CLIENT_ID',
  'MICROSOFT_LOGIN_HOST',
  'SESSION_SIGNING_KEY',
  'PUBLIC_BASE_URL',
  'ACCOUNT_DELETION_GRACE_PERIOD_HOURS',
  'SITE_ADMINS',
  'WORK_ACCOUNT_MFA',
  'MICROSOFT_MFA_API_AUDIENCE',
  'TRUSTED_PUBLISHING_AUDIENCE',
  'GITHUB_OIDC_ISSUER',
  'TRUSTED_PUBLISHING_ENTRA_AUDIENCE',
  'GITLAB_OIDC_ISSUER',
  'RDAP_BOOTSTRAP_URL',
  'PORT',
  'FUNCTIONS_MASTER_KEY',
  'NODE_ENV',
  'WEBSITE_INSTANCE_ID',
  'WEBSITE_SITE_NAME',
];

const REQUIRED = [
  'COSMOS_ENDPOINT',
  'COSMOS_DATABASE',
  'EMAIL_SENDER_ADDRESS',
  'MICROSOFT_CLIENT_ID',
  'SESSION_SIGNING_KEY',
  'PUBLIC_BASE_URL',
  'COMMUNICATION_SERVICES_CONNECTION_STRING',
  'COMMUNICATION_SERVICES_ENDPOINT',
];

/** A complete production configuration: managed identity for Cosmos DB and ACS. */
const VALID = SETTINGS_IN_AZURE;

/** What App Service passes as the value when it cannot resolve the setting's Key Vault reference. */
const UNRESOLVED_REFERENCE = '@Microsoft.KeyVault(SecretUri=https://kv-abcd1234efgh5.vault.azure.net/secrets/session-signing-key)';

/** The configuration error start-up stops with, or a failure if it did not stop. */
async function startUpFailure(env: NodeJS.ProcessEnv, print: (line: string) => void = () => undefined): Promise<ConfigurationError> {
  let service: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    service = await startService(env, print);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  await service.stop();
  throw new Error(`start-up did not fail with ${JSON.stringify(env)}`);
}

function settingsFailure(env: Record<string, string | undefined>): string {
  try {
    parseSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error(`the settings were accepted: ${JSON.stringify(env)}`);
}

describe('in production, a missing setting stops start-up', () => {
  it.each([
    ['NODE_ENV=production', { NODE_ENV: 'production' }],
    ['Azure (WEBSITE_INSTANCE_ID) without NODE_ENV', { WEBSITE_INSTANCE_ID: 'a1b2c3d4e5f6' }],
    ['Azure (WEBSITE_SITE_NAME) without NODE_ENV', { WEBSITE_SITE_NAME: 'gallery-accounts' }],
  ])('%s: names every missing setting and applies no embedded default', async (_label, given: Record<string, string>) => {
    const env: NodeJS.ProcessEnv = { ...given };
    const printed: string[] = [];
    const error = await startUpFailure(env, (line) => printed.push(line));

    expect(error.message).toMatch(/^The service cannot start: /);
    for (const name of REQUIRED) expect(error.message).toContain(name);
    expect(env).toEqual(given);
    expect(printed).toEqual([]);
  });

  it('names only what is missing when the rest is there', async () => {
    const { SESSION_SIGNING_KEY: _missing, ...rest } = VALID;
    const env = { NODE_ENV: 'production', ...rest };
    const message = (await startUpFailure(env)).message;
    expect(message).toBe('The service cannot start: SESSION_SIGNING_KEY is not set.');
    expect(env).toEqual({ NODE_ENV: 'production', ...rest });
  });

  it('treats an empty value as not set', () => {
    expect(settingsFailure({ ...VALID, COSMOS_DATABASE: '' })).toBe('The service cannot start: COSMOS_DATABASE is not set.');
  });

  it('names the Communication Services pair when neither is set, alongside other problems', () => {
    const { COMMUNICATION_SERVICES_ENDPOINT: _acs, EMAIL_SENDER_ADDRESS: _sender, ...rest } = VALID;
    const message = settingsFailure(rest);
    expect(message).toContain('EMAIL_SENDER_ADDRESS is not set');
    expect(message).toContain('COMMUNICATION_SERVICES_CONNECTION_STRING');
    expect(message).toContain('COMMUNICATION_SERVICES_ENDPOINT');
  });
});

describe('a malformed setting stops start-up, naming it', () => {
  it.each([
    ['SESSION_SIGNING_KEY', 'k'.repeat(31)],
    ['SESSION_SIGNING_KEY', 'é'.repeat(15)],
    ['SESSION_SIGNING_KEY', UNRESOLVED_REFERENCE],
    ['SESSION_SIGNING_KEY', 'k'.repeat(64)],
    ['SESSION_SIGNING_KEY', 'correct horse battery staple, twice: correct horse battery staple'],
    ['SESSION_SIGNING_KEY', 'passwordpassword'.repeat(4)],
    ['SESSION_SIGNING_KEY', randomBytes(31).toString('base64')],
    ['COSMOS_ENDPOINT', 'http://cosmos.example.com'],
    ['COSMOS_ENDPOINT', 'http://10.0.0.4:8081'],
    ['COSMOS_ENDPOINT', 'http://127.0.0.1.nip.io:8081'],
    ['COSMOS_ENDPOINT', 'http://localhost.evil.example'],
    ['COSMOS_ENDPOINT', 'cosmos.example.com'],
    ['COSMOS_ENDPOINT', 'ftp://cosmos.example.com'],
    ['COMMUNICATION_SERVICES_ENDPOINT', 'http://gallery-mail.communication.azure.com'],
    ['MICROSOFT_LOGIN_HOST', 'http://login.microsoftonline.com'],
    ['PUBLIC_BASE_URL', 'http://gallery.example'],
    ['PUBLIC_BASE_URL', 'not a url'],
    ['ACCOUNT_DELETION_GRACE_PERIOD_HOURS', 'a day'],
    ['ACCOUNT_DELETION_GRACE_PERIOD_HOURS', '1.5'],
    ['ACCOUNT_DELETION_GRACE_PERIOD_HOURS', '-1'],
    ['ACCOUNT_DELETION_GRACE_PERIOD_HOURS', '100000'],
    ['EMAIL_SENDER_ADDRESS', 'DoNotReply'],
    ['COSMOS_DATABASE', 'accounts; drop'],
    ['WORK_ACCOUNT_MFA', 'strict'],
    ['WORK_ACCOUNT_MFA', 'Verified'],
    ['MICROSOFT_MFA_API_AUDIENCE', 'gallery mfa'],
    ['TRUSTED_PUBLISHING_AUDIENCE', 'https://gallery.example nuget'],
    ['TRUSTED_PUBLISHING_AUDIENCE', 'https://gallery.example\n'],
    ['GITHUB_OIDC_ISSUER', 'http://token.actions.githubusercontent.com'],
    ['GITHUB_OIDC_ISSUER', 'token.actions.githubusercontent.com'],
    ['TRUSTED_PUBLISHING_ENTRA_AUDIENCE', 'gallery api'],
    ['TRUSTED_PUBLISHING_ENTRA_AUDIENCE', 'api://gallery-api 0f7a1d52-8c3b-4e6a-9b1d-2c4e6f8a0b13'],
    ['TRUSTED_PUBLISHING_ENTRA_AUDIENCE', ' , '],
    ['GITLAB_OIDC_ISSUER', 'http://gitlab.example.com'],
    ['GITLAB_OIDC_ISSUER', 'gitlab.example.com'],
    ['RDAP_BOOTSTRAP_URL', 'http://data.iana.org/rdap/dns.json'],
    ['RDAP_BOOTSTRAP_URL', 'data.iana.org/rdap/dns.json'],
  ])('%s = %j', (name, value) => {
    const message = settingsFailure({ ...VALID, [name]: value });
    expect(message).toMatch(new RegExp(`^The service cannot start: ${name} `));
    // Only the setting at fault is named.
    for (const other of Object.keys(VALID).filter((key) => key !== name)) expect(message).not.toContain(other);
  });

  it('names a value that is no URL at all alongside everything else that is wrong', () => {
    const message = settingsFailure({ COSMOS_ENDPOINT: 'cosmos.example.com' });
    expect(message).toContain('COSMOS_ENDPOINT must be an https:// URL');
    for (const name of REQUIRED.filter((n) => n !== 'COSMOS_ENDPOINT')) expect(message).toContain(name);
  });

  it('refuses both Communication Services settings at once', () => {
    const message = settingsFailure({
      ...VALID,
      COMMUNICATION_SERVICES_CONNECTION_STRING: 'endpoint=https://gallery-mail.communication.azure.com/;accesskey=c2VjcmV0',
    });
    expect(message).toContain('COMMUNICATION_SERVICES_CONNECTION_STRING');
    expect(message).toContain('COMMUNICATION_SERVICES_ENDPOINT');
    expect(message).toMatch(/exactly one/);
  });

  it('names a malformed connection string without repeating its access key', () => {
    const { COMMUNICATION_SERVICES_ENDPOINT: _endpoint, ...rest } = VALID;
    for (const connection of [
      'endpoint=http://gallery-mail.communication.azure.com/;accesskey=TOPSECRETKEY',
      'accesskey=TOPSECRETKEY',
      'endpoint=gallery-mail.communication.azure.com;accesskey=TOPSECRETKEY',
    ]) {
      const message = settingsFailure({ ...rest, COMMUNICATION_SERVICES_CONNECTION_STRING: connection });
      expect(message).toContain('COMMUNICATION_SERVICES_CONNECTION_STRING');
      expect(message).not.toContain('TOPSECRETKEY');
    }
  });

  it('stops verified work-account MFA without its audience, naming the setting', async () => {
    const error = await startUpFailure({ NODE_ENV: 'production', ...VALID, WORK_ACCOUNT_MFA: 'verified' });
    expect(error.message).toBe(
      'The service cannot start: MICROSOFT_MFA_API_AUDIENCE must be set when WORK_ACCOUNT_MFA is verified: the audience of the access token that shows multifactor sign-in.',
    );
  });

  it('does not repeat a short signing key in the message', () => {
    expect(settingsFailure({ ...VALID, SESSION_SIGNING_KEY: 'hunter2-hunter2' })).not.toContain('hunter2');
  });

  it('says what a signing key must be, and that an unresolved Key Vault reference is one', () => {
    expect(settingsFailure({ ...VALID, SESSION_SIGNING_KEY: 'hunter2-hunter2' })).toBe(
      'The service cannot start: SESSION_SIGNING_KEY must be base64 of at least 32 random bytes (for example `openssl rand -base64 48`).',
    );
    const reference = settingsFailure({ ...VALID, SESSION_SIGNING_KEY: UNRESOLVED_REFERENCE });
    expect(reference).toMatch(/^The service cannot start: SESSION_SIGNING_KEY is a Key Vault reference the platform could not resolve/);
    expect(reference).not.toContain('vault.azure.net');
  });

  it('stops a production start-up on an unresolved Key Vault reference, before serving anything', async () => {
    const error = await startUpFailure({ NODE_ENV: 'production', ...VALID, SESSION_SIGNING_KEY: UNRESOLVED_REFERENCE });
    expect(error.message).toMatch(/SESSION_SIGNING_KEY is a Key Vault reference/);
  });

  it.each(['a short key', 'k'.repeat(31), `${'k'.repeat(32)} ${'k'.repeat(32)}`])('refuses FUNCTIONS_MASTER_KEY=%j before starting anything', async (key) => {
    const error = await startUpFailure({ NODE_ENV: 'production', ...VALID, FUNCTIONS_MASTER_KEY: key });
    expect(error.message).toMatch(/^The service cannot start: FUNCTIONS_MASTER_KEY must be at least 32 characters/);
    expect(error.message).not.toContain(key);
  });

  it.each(['abc', '70000', '-1', '80.5', '7071abc'])('refuses PORT=%j before starting anything', async (port) => {
    const env = { PORT: port };
    const printed: string[] = [];
    const error = await startUpFailure(env, (line) => printed.push(line));
    expect(error.message).toContain('PORT');
    expect(env).toEqual({ PORT: port });
    expect(printed).toEqual([]);
  });

  it('stops a production start-up on a malformed value too', async () => {
    const error = await startUpFailure({ NODE_ENV: 'production', ...VALID, COSMOS_ENDPOINT: 'http://cosmos.example.com' });
    expect(error.message).toMatch(/COSMOS_ENDPOINT must use https:\/\//);
  });
});

describe('well-formed settings are accepted', () => {
  it('reads a complete configuration, with its defaults', () => {
    expect(parseSettings(VALID)).toEqual({
      ...VALID,
      COSMOS_ENDPOINT: 'https://gallery-accounts.documents.azure.com:443',
      MICROSOFT_LOGIN_HOST: 'https://login.microsoftonline.com',
      ACCOUNT_DELETION_GRACE_PERIOD_HOURS: 24,
      SITE_ADMINS: [],
      WORK_ACCOUNT_MFA: 'tenant',
      GITHUB_OIDC_ISSUER: 'https://token.actions.githubusercontent.com',
      RDAP_BOOTSTRAP_URL: 'https://data.iana.org/rdap/dns.json',
    });
  });

  it('takes PUBLIC_BASE_URL as the trusted publishing audience when none is set', () => {
    const { TRUSTED_PUBLISHING_AUDIENCE: _unset, ...rest } = VALID;
    expect(parseSettings(rest).TRUSTED_PUBLISHING_AUDIENCE).toBe('https://gallery.example');
    expect(parseSettings({ ...rest, PUBLIC_BASE_URL: 'https://gallery.example/' }).TRUSTED_PUBLISHING_AUDIENCE).toBe('https://gallery.example');
    expect(parseSettings({ ...rest, TRUSTED_PUBLISHING_AUDIENCE: 'https://www.nuget.org' }).TRUSTED_PUBLISHING_AUDIENCE).toBe('https://www.nuget.org');
  });

  it("takes GitLab.com as the GitLab issuer when none is set, and a self-managed instance's URL", () => {
    const { GITLAB_OIDC_ISSUER: _unset, ...rest } = VALID;
    expect(parseSettings(rest).GITLAB_OIDC_ISSUER).toBe('https://gitlab.com');
    expect(parseSettings({ ...rest, GITLAB_OIDC_ISSUER: 'https://gitlab.example.com/' }).GITLAB_OIDC_ISSUER).toBe('https://gitlab.example.com');
  });

  it.each(['api://gallery-mfa', 'https://gallery.example/mfa', '6a1b2c3d-0000-4000-8000-123456789abc'])(
    'reads verified work-account MFA with the audience %j',
    (audience) => {
      expect(parseSettings({ ...VALID, WORK_ACCOUNT_MFA: 'verified', MICROSOFT_MFA_API_AUDIENCE: audience })).toMatchObject({
        WORK_ACCOUNT_MFA: 'verified',
        MICROSOFT_MFA_API_AUDIENCE: audience,
      });
    },
  );

  it.each([
    'https://cosmos.example.com',
    'https://cosmos.example.com:8081/',
    'http://127.0.0.1:8081',
    'http://127.0.0.1:8081/',
    'http://localhost:8081',
    'http://[::1]:8081',
  ])('COSMOS_ENDPOINT = %j', (endpoint) => {
    expect(parseSettings({ ...VALID, COSMOS_ENDPOINT: endpoint }).COSMOS_ENDPOINT).toBe(endpoint.replace(/\/$/, ''));
  });

  it('accepts loopback http:// for every service endpoint, where the stand-ins live', () => {
    const { COMMUNICATION_SERVICES_ENDPOINT: _endpoint, ...rest } = VALID;
    const parsed = parseSettings({
      ...rest,
      COSMOS_ENDPOINT: 'http://localhost:8081',
      COMMUNICATION_SERVICES_CONNECTION_STRING: 'endpoint=http://127.0.0.1:7000/;accesskey=c2VjcmV0',
      MICROSOFT_LOGIN_HOST: 'http://127.0.0.1:7001/',
      PUBLIC_BASE_URL: 'http://localhost:3000',
      GITHUB_OIDC_ISSUER: 'http://127.0.0.1:7073',
      GITLAB_OIDC_ISSUER: 'http://127.0.0.1:7074/',
      RDAP_BOOTSTRAP_URL: 'http://127.0.0.1:7075/rdap/dns.json',
    });
    expect(parsed).toMatchObject({
      MICROSOFT_LOGIN_HOST: 'http://127.0.0.1:7001',
      PUBLIC_BASE_URL: 'http://localhost:3000',
      GITHUB_OIDC_ISSUER: 'http://127.0.0.1:7073',
      GITLAB_OIDC_ISSUER: 'http://127.0.0.1:7074',
      RDAP_BOOTSTRAP_URL: 'http://127.0.0.1:7075/rdap/dns.json',
    });
  });

  it("reads the entra provider's audiences, comma-separated, and leaves them unset (the provider off) when not given", () => {
    const audiences = ' api://0f7a1d52-8c3b-4e6a-9b1d-2c4e6f8a0b13, 0f7a1d52-8c3b-4e6a-9b1d-2C4E6F8A0B13,';
    expect(parseSettings({ ...VALID, TRUSTED_PUBLISHING_ENTRA_AUDIENCE: audiences }).TRUSTED_PUBLISHING_ENTRA_AUDIENCE).toEqual([
      'api://0f7a1d52-8c3b-4e6a-9b1d-2c4e6f8a0b13',
      '0f7a1d52-8c3b-4e6a-9b1d-2C4E6F8A0B13',
    ]);
    expect(parseSettings(VALID).TRUSTED_PUBLISHING_ENTRA_AUDIENCE).toBeUndefined();
    expect(parseSettings({ ...VALID, TRUSTED_PUBLISHING_ENTRA_AUDIENCE: '' }).TRUSTED_PUBLISHING_ENTRA_AUDIENCE).toBeUndefined();
  });

  it('reads the grace period and site admins', () => {
    const parsed = parseSettings({ ...VALID, ACCOUNT_DELETION_GRACE_PERIOD_HOURS: '48', SITE_ADMINS: ' ada, grace ,,' });
    expect(parsed.ACCOUNT_DELETION_GRACE_PERIOD_HOURS).toBe(48);
    expect(parsed.SITE_ADMINS).toEqual(['ada', 'grace']);
  });

  it.each([
    ['32 random bytes, base64', randomBytes(32).toString('base64')],
    ['48 random bytes, base64 (openssl rand -base64 48)', randomBytes(48).toString('base64')],
    ['32 random bytes, base64url without padding', randomBytes(32).toString('base64url')],
    ['32 random bytes, hex (openssl rand -hex 32)', randomBytes(32).toString('hex')],
  ])('accepts a signing key of %s', (_label, key) => {
    expect(parseSettings({ ...VALID, SESSION_SIGNING_KEY: key }).SESSION_SIGNING_KEY).toBe(key);
  });
});

describe('npm start in production', () => {
  const startProduction = async (env: Record<string, string>) => {
    const { url, process: child } = await startServiceProcess(path.resolve(__dirname, '..', 'dist', 'local', 'start.js'), {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      ...env,
    });
    return { url: url.replace('0.0.0.0', '127.0.0.1'), child };
  };
  /** Runs a timer through the host's admin API, as an operator would; answers the status. */
  const runTimer = async (url: string, headers: Record<string, string> = {}) =>
    (await fetch(`${url}/admin/functions/notifyExpiringApiKeys`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{}' })).status;
  const MASTER_KEY = randomBytes(32).toString('base64');

  it('serves no development console, identity or mailbox, and its admin API only the master key', async () => {
    const { COSMOS_ENDPOINT: _unreachable, ...rest } = VALID;
    const { url, child } = await startProduction({
      ...rest,
      // Never reached but by the timer run below, which fails there.
      COSMOS_ENDPOINT: 'https://cosmos.invalid',
      FUNCTIONS_MASTER_KEY: MASTER_KEY,
    });
    try {
      for (const route of ['/', '/console/config.json', '/console/console.js', '/dev/identity/token', '/dev/mailbox', '/dev/github-actions/token', '/dev/entra/token', '/dev/gitlab/token']) {
        expect({ route, status: (await fetch(`${url}${route}`)).status }).toEqual({ route, status: 404 });
      }
      expect(await runTimer(url)).toBe(401);
      expect(await runTimer(url, { 'x-functions-key': randomBytes(32).toString('base64') })).toBe(401);
      expect(await runTimer(url, { 'x-functions-key': MASTER_KEY })).toBe(202);
    } finally {
      child.kill();
    }
  });

  it('starts without TRUSTED_PUBLISHING_AUDIENCE, taking PUBLIC_BASE_URL, and without a master key, its admin API off', async () => {
    const cosmos = await provisionedCosmosStandIn();
    const github = createGitHubActionsStandIn({ audience: VALID.PUBLIC_BASE_URL });
    const issuer = await listenOnLoopback(github.handle);
    github.setIssuer(issuer.url);
    const { TRUSTED_PUBLISHING_AUDIENCE: _unset, ...rest } = VALID;
    const { url, child } = await startProduction({ ...rest, ...cosmos.settings, GITHUB_OIDC_ISSUER: issuer.url });
    try {
      const exchange = async (token: string) => {
        const response = await fetch(`${url}/api/v2/token`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'User-Agent': 'nuget/login-action' },
          body: JSON.stringify({ username: 'someone', tokenType: 'ApiKey' }),
        });
        return { status: response.status, body: await response.json() };
      };
      const run = { repository: github.repository('contoso/contoso-sdk'), workflowFile: 'release.yml' };
      // Asked for another audience, a token is refused for it; asked for the gallery's origin, it is checked on
      // to its signature (forged here, so nothing else is needed to tell the two apart).
      expect(await exchange(github.mint(run, { audience: 'https://www.nuget.org' }))).toEqual({
        status: 401,
        body: { error: 'The JSON web token has an incorrect audience.' },
      });
      expect(await exchange(github.mint(run, { signWith: 'foreign' }))).toEqual({ status: 401, body: { error: 'The JSON web token has an invalid signature.' } });
      expect(github.jwksRequests).toBe(1);

      expect(await runTimer(url)).toBe(401);
      expect(await runTimer(url, { 'x-functions-key': MASTER_KEY })).toBe(401);
    } finally {
      child.kill();
      await issuer.close();
      await cosmos.server.close();
    }
  });
});

describe('npm start with no settings (development defaults)', () => {
  const saved: Record<string, string | undefined> = {};

  beforeAll(() => {
    for (const name of SERVICE_SETTINGS) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
  });

  afterAll(() => {
    for (const name of SERVICE_SETTINGS) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  // The service reads its settings from process.env (and keeps them), so this is the file's only such start.
  it('serves the README walkthrough: dev token, sign-in, registration, the mailbox', async () => {
    process.env.PORT = '0';
    const printed: string[] = [];
    const service = await startService(process.env, (line) => printed.push(line));
    try {
      expect(service.url).toMatch(/^http:\/\/localhost:\d+$/);
      expect(process.env).toMatchObject({
        COSMOS_ENDPOINT: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        MICROSOFT_CLIENT_ID: 'local-development',
        PUBLIC_BASE_URL: 'http://localhost:3000',
      });
      expect(process.env.NODE_ENV).toBeUndefined();

      const post = (path: string, body: unknown) =>
        fetch(`${service.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

      expect(await (await fetch(`${service.url}/api/health`)).json()).toEqual({ status: 'ok' });

      const minted = await post('/dev/identity/token', { email: 'ada@example.com' });
      expect(minted.status).toBe(200);
      const { idToken } = (await minted.json()) as { idToken: string };

      const signIn = await post('/api/auth/microsoft', { idToken });
      expect(signIn.status).toBe(200);
      expect(await signIn.json()).toEqual({ status: 'registration_required', emailAddress: 'ada@example.com' });

      const registered = await post('/api/accounts', { idToken, username: 'ada' });
      expect(registered.status).toBe(201);
      const { account, sessionToken } = (await registered.json()) as { account: { username: string }; sessionToken: string };
      expect(account.username).toBe('ada');

      const mailbox = (await (await fetch(`${service.url}/dev/mailbox`)).json()) as Array<{ to: string[]; subject: string; links: string[] }>;
      expect(mailbox).toEqual([
        expect.objectContaining({
          to: ['ada@example.com'],
          subject: 'Confirm your email address',
          links: [expect.stringMatching(/^http:\/\/localhost:3000\/account\/confirm-email\?token=[\w-]+$/)],
        }),
      ]);
      const link = mailbox[0].links[0];
      expect(printed.join('\n')).toContain('ada@example.com');
      expect(printed.join('\n')).toContain(link);

      // The printed link works.
      const token = tokenIn(link);
      expect((await post('/api/auth/confirm-email', { token })).status).toBe(200);
      const me = await fetch(`${service.url}/api/me`, { headers: { Authorization: `Bearer ${sessionToken}` } });
      expect(await me.json()).toMatchObject({ username: 'ada', emailConfirmed: true });

      // An address on a domain the RDAP stand-in shows expired counts as unconfirmed once the check runs.
      expect(process.env.RDAP_BOOTSTRAP_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/rdap\/dns\.json$/);
      const { idToken: graceToken } = (await (await post('/dev/identity/token', { email: 'grace@expired.example' })).json()) as { idToken: string };
      const grace = (await (await post('/api/accounts', { idToken: graceToken, username: 'grace' })).json()) as { sessionToken: string };
      const graceMail = (await (await fetch(`${service.url}/dev/mailbox`)).json()) as Array<{ to: string[]; links: string[] }>;
      expect((await post('/api/auth/confirm-email', { token: tokenIn(graceMail.find((e) => e.to.includes('grace@expired.example'))!.links[0]) })).status).toBe(200);
      expect((await post('/admin/functions/checkEmailDomains', {})).status).toBe(202);
      const graceMe = async () => (await (await fetch(`${service.url}/api/me`, { headers: { Authorization: `Bearer ${grace.sessionToken}` } })).json()) as Record<string, unknown>;
      for (let waited = 0; waited < 5000 && (await graceMe()).emailDomainLapsed !== true; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await graceMe()).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
      expect(await (await fetch(`${service.url}/api/me`, { headers: { Authorization: `Bearer ${sessionToken}` } })).json()).toMatchObject({ emailConfirmed: true, emailDomainLapsed: false });
      expect(service.notes.join('\n')).toContain('/admin/functions/checkEmailDomains');

      // Trusted publishing, against the development stand-in for GitHub Actions' OIDC issuer, as docs/trusted-publishing/github.md walks it.
      const issuer = process.env.GITHUB_OIDC_ISSUER;
      expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(process.env.TRUSTED_PUBLISHING_AUDIENCE).toBe('http://localhost:3000');
      expect(await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()).toMatchObject({ issuer, jwks_uri: `${issuer}/.well-known/jwks` });
      const policy = await fetch(`${service.url}/api/me/trusted-publishers`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${sessionToken}` },
        body: JSON.stringify({ owner: 'ada', repositoryOwner: 'contoso', repository: 'contoso-sdk', workflowFile: 'release.yml' }),
      });
      expect(policy.status).toBe(201);
      const run = await post('/dev/github-actions/token', { repository: 'contoso/contoso-sdk', workflowFile: 'release.yml' });
      expect(run.status).toBe(200);
      const { value: oidcToken } = (await run.json()) as { value: string };
      const exchanged = await fetch(`${service.url}/api/v2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${oidcToken}`, 'User-Agent': 'nuget/login-action' },
        body: JSON.stringify({ username: 'ada', tokenType: 'ApiKey' }),
      });
      expect(exchanged.status).toBe(200);
      const { apiKey } = (await exchanged.json()) as { apiKey: string };
      const pushed = await fetch(`${service.url}/api/packages`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', 'X-NuGet-ApiKey': apiKey },
        body: JSON.stringify({ id: 'Contoso.Sdk', version: '1.0.0' }),
      });
      expect(pushed.status).toBe(201);
      expect(service.notes.join('\n')).toContain(`${service.url}/dev/github-actions/token`);

      // And from a Microsoft Entra workload, with the development identity's app-only token, as docs/trusted-publishing/azure-pipelines.md walks it.
      const [appIdUri, clientId] = process.env.TRUSTED_PUBLISHING_ENTRA_AUDIENCE!.split(',');
      expect(appIdUri).toBe(`api://${clientId}`);
      const workload = { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', objectId: '9246576b-c9b6-441d-a0ca-796721fd971e' };
      const entraPolicy = await fetch(`${service.url}/api/me/trusted-publishers`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${sessionToken}` },
        body: JSON.stringify({ owner: 'ada', provider: 'entra', ...workload }),
      });
      expect(entraPolicy.status).toBe(201);
      const azToken = await post('/dev/entra/token', workload);
      expect(azToken.status).toBe(200);
      const { accessToken } = (await azToken.json()) as { accessToken: string };
      const entraExchange = await fetch(`${service.url}/api/v2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${accessToken}`, 'User-Agent': 'azure-pipelines' },
        body: JSON.stringify({ username: 'ada', tokenType: 'ApiKey' }),
      });
      expect(entraExchange.status).toBe(200);
      expect(service.notes.join('\n')).toContain(`${service.url}/dev/entra/token`);
      // And from GitLab CI/CD, against the development stand-in for a GitLab instance, as docs/trusted-publishing/gitlab.md walks it.
      const gitlab = process.env.GITLAB_OIDC_ISSUER;
      expect(gitlab).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${gitlab}/.well-known/openid-configuration`)).json()).toMatchObject({ issuer: gitlab, jwks_uri: `${gitlab}/oauth/discovery/keys` });
      const gitlabPolicy = await fetch(`${service.url}/api/me/trusted-publishers`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${sessionToken}` },
        body: JSON.stringify({ owner: 'ada', provider: 'gitlab', namespace: 'contoso', project: 'contoso-sdk' }),
      });
      expect(gitlabPolicy.status).toBe(201);
      const job = await post('/dev/gitlab/token', { project: 'contoso/contoso-sdk' });
      expect(job.status).toBe(200);
      const jobToken = await job.text();
      const fromGitLab = await fetch(`${service.url}/api/v2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${jobToken}`, 'User-Agent': 'curl/8.5.0' },
        body: JSON.stringify({ username: 'ada', tokenType: 'ApiKey' }),
      });
      expect(fromGitLab.status).toBe(200);
      const { apiKey: gitlabKey } = (await fromGitLab.json()) as { apiKey: string };
      const pushedFromGitLab = await fetch(`${service.url}/api/packages`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', 'X-NuGet-ApiKey': gitlabKey },
        body: JSON.stringify({ id: 'Contoso.Sdk', version: '1.1.0' }),
      });
      expect(pushedFromGitLab.status).toBe(200);
      expect(service.notes.join('\n')).toContain(`${service.url}/dev/gitlab/token`);

      // The development console, configured for the development identity, which publishes its discovery document.
      const consolePage = await fetch(`${service.url}/`);
      expect(consolePage.status).toBe(200);
      expect(await consolePage.text()).toContain('development console');
      const consoleConfig = await (await fetch(`${service.url}/console/config.json`)).json();
      expect(consoleConfig).toEqual({
        clientId: 'local-development',
        loginHost: process.env.MICROSOFT_LOGIN_HOST,
        workAccountMfa: 'tenant',
        mfaApiAudience: null,
      });
      const discovery = (await (await fetch(`${process.env.MICROSOFT_LOGIN_HOST}/common/v2.0/.well-known/openid-configuration`)).json()) as Record<string, string>;
      expect(discovery.authorization_endpoint).toBe(`${process.env.MICROSOFT_LOGIN_HOST}/common/oauth2/v2.0/authorize`);

      // It says where the frontend must run, and which pages may sign in and be returned to after signing out.
      const notes = service.notes.join('\n');
      expect(notes).toContain('Frontend: http://localhost:3000 (PUBLIC_BASE_URL');
      expect(notes).toContain(`redirect and post-logout URIs: any on http://localhost:3000, ${service.url}, ${service.url.replace('localhost', '127.0.0.1')}.`);

      // The frontend's development origin may call the API.
      const preflight = await fetch(`${service.url}/api/accounts`, {
        method: 'OPTIONS',
        headers: { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'POST' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    } finally {
      await service.stop();
    }
    await expect(fetch(`${service.url}/api/health`)).rejects.toThrow();
  });
});
