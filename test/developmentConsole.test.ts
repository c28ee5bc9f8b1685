/**
 * The development console in a real browser: headless Chromium drives the page `npm start` serves at `/`, which
 * signs in with the real @azure/msal-browser (authorization code flow with PKCE, state and nonce) against the
 * development identity, then registers, shows the account, creates and revokes an API key and signs out
 * everywhere, as a frontend would. Each service runs as `npm start` runs it (the compiled entry point in a
 * child process, no settings: every development default), once in tenant mode and once in verified mode.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServiceProcess } from './support/process';
import { expectPersonalIdToken, expectV1AccessToken, expectWorkIdToken } from './support/microsoftShapes';

/** Debian's Chromium, kept off the network: no QUIC, no background or component traffic, no sync. */
const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
const SERVICE_SETTINGS = /^(COSMOS_|COMMUNICATION_SERVICES_|EMAIL_SENDER_ADDRESS|MICROSOFT_|SESSION_SIGNING_KEY|PUBLIC_BASE_URL|ACCOUNT_DELETION_|SITE_ADMINS|WORK_ACCOUNT_MFA|TRUSTED_PUBLISHING_|GITHUB_OIDC_|NODE_ENV|WEBSITE_)/;

interface Console {
  url: string;
  process: ChildProcess;
  config: { clientId: string; loginHost: string; mfaApiAudience: string | null };
}

jest.setTimeout(60_000);

let browser: Browser;
const services: ChildProcess[] = [];

beforeAll(async () => {
  // A fresh profile in a temporary directory, as every launch without a user data directory gets.
  browser = await chromium.launch({ ...CHROMIUM, headless: true });
});

afterAll(async () => {
  await browser?.close();
  for (const child of services) child.kill();
});

/** `npm start` with nothing set but `extra`. */
async function startConsole(extra: Record<string, string> = {}): Promise<Console> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SERVICE_SETTINGS.test(name)));
  const { url, process: child } = await startServiceProcess(path.resolve(__dirname, '..', 'dist', 'local', 'start.js'), { ...env, ...extra });
  services.push(child);
  const config = (await (await fetch(`${url}/console/config.json`)).json()) as Console['config'];
  return { url, process: child, config };
}

interface Person {
  email: string;
  name: string;
  accountType: 'personal' | 'work';
  twoStep: boolean;
}

let counter = 0;
const person = (accountType: Person['accountType'], twoStep: boolean): Person => {
  counter += 1;
  return { email: `dev${counter}-${Date.now()}@${accountType === 'work' ? 'contoso.example' : 'outlook.example'}`, name: `Developer ${counter}`, accountType, twoStep };
};

/** What the console posted to the service's sign-in: the tokens MSAL got. */
interface Posted {
  idToken: string;
  mfaToken?: string;
}

/** Opens the console in a browser context of its own (no cookies or storage from other tests), runs `use`, closes it. */
async function withConsole(service: Console, use: (page: Page, posted: Posted[]) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const posted: Posted[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/auth/microsoft') posted.push(request.postDataJSON() as Posted);
    });
    await page.goto(`${service.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    await use(page, posted);
  } finally {
    await context.close();
  }
}

/** Clicks "Sign in with Microsoft", fills in the development identity's sign-in page, and comes back. */
async function signIn(page: Page, service: Console, who: Person): Promise<void> {
  await page.click('#sign-in');
  await page.waitForURL(`${service.config.loginHost}/sign-in/**`);
  // The console asks for two-step verification, and the page says so.
  await expect(page.textContent('body')).resolves.toContain('The app asked for two-step verification');
  await page.fill('input[name=email]', who.email);
  await page.fill('input[name=name]', who.name);
  await page.check(`input[name=accountType][value=${who.accountType}]`);
  await page.check(`input[name=twoStep][value=${who.twoStep ? 'on' : 'off'}]`);
  await page.click('button[value=sign-in]');
  await page.waitForURL(`${service.url}/**`);
  await page.waitForSelector('body[data-ready="true"]');
}

async function register(page: Page, username: string): Promise<void> {
  await page.waitForSelector('#register:not([hidden])');
  await page.fill('#register-form input[name=username]', username);
  await page.click('#register-form button[type=submit]');
  await page.waitForSelector('#signed-in:not([hidden])');
}

const field = (page: Page, name: string) => page.textContent(`#account [data-field="${name}"]`);
const problem = async (page: Page) => (await page.waitForSelector('#problem:not([hidden])')).textContent();

describe('the development console with WORK_ACCOUNT_MFA=tenant (the default)', () => {
  let service: Console;

  beforeAll(async () => {
    service = await startConsole();
  });

  it('signs a personal account with two-step verification in through MSAL, registers it, manages a key and signs out everywhere', async () => {
    await withConsole(service, async (page, posted) => {
      const ada = person('personal', true);
      await signIn(page, service, ada);
      await register(page, `ada-${counter}`);

      expect(await field(page, 'username')).toBe(`ada-${counter}`);
      expect(await field(page, 'emailAddress')).toBe(ada.email);
      expect(await field(page, 'accountType')).toBe('personal');
      expect(await field(page, 'twoFactor')).toBe('verified');
      // The ID token MSAL received is Microsoft's personal-account shape, with the nonce MSAL sent.
      expect(posted).toHaveLength(1);
      expectPersonalIdToken(posted[0].idToken, { loginHost: service.config.loginHost, clientId: service.config.clientId, twoStep: true, nonce: true });

      await page.fill('#create-key input[name=description]', 'CI push');
      await page.fill('#create-key input[name=packageGlob]', 'Ada.*');
      await page.click('#create-key button[type=submit]');
      await page.waitForSelector('#new-key:not([hidden])');
      expect(await page.textContent('#new-key-secret')).toMatch(/^gak1\./);
      await expect(page.locator('#keys li').textContent()).resolves.toContain('CI push: Ada.* (package:push)');

      await page.click('#keys li button');
      await page.waitForSelector('#keys li', { state: 'detached' });

      const session = await page.evaluate('sessionStorage.getItem("gallery.sessionToken")');
      await page.click('#sign-out-everywhere');
      await page.waitForSelector('#signed-out:not([hidden])');
      const me = await fetch(`${service.url}/api/me`, { headers: { Authorization: `Bearer ${session}` } });
      expect(me.status).toBe(401);

      // Signing in again finds the linked account: no registration this time.
      await signIn(page, service, ada);
      await page.waitForSelector('#signed-in:not([hidden])');
      expect(await field(page, 'username')).toBe(`ada-${counter}`);
    });
  });

  it('refuses a personal account without two-step verification: mfa_required', async () => {
    await withConsole(service, async (page, posted) => {
      await signIn(page, service, person('personal', false));
      expect(await problem(page)).toMatch(/^mfa_required: .*two-step verification/);
      expect(await page.isHidden('#register')).toBe(true);
      expectPersonalIdToken(posted[0].idToken, { loginHost: service.config.loginHost, clientId: service.config.clientId, twoStep: false, nonce: true });
    });
  });

  it("lets a work account's tenant policy govern", async () => {
    await withConsole(service, async (page, posted) => {
      // Without two-step sign-in too: the tenant's own policy decides, and its ID token never says.
      await signIn(page, service, person('work', false));
      await register(page, `grace-${counter}`);
      expect(await field(page, 'accountType')).toBe('work');
      expect(await field(page, 'twoFactor')).toBe('tenant_policy');
      expectWorkIdToken(posted[0].idToken, { loginHost: service.config.loginHost, clientId: service.config.clientId, email: true, nonce: true });
      expect(posted[0]).not.toHaveProperty('mfaToken');
    });
  });
});

describe('the development console with WORK_ACCOUNT_MFA=verified', () => {
  let service: Console;

  beforeAll(async () => {
    service = await startConsole({ WORK_ACCOUNT_MFA: 'verified' });
  });

  it('signs a work account in with the access token that shows its multifactor sign-in, asked for after the ID token showed a work account', async () => {
    await withConsole(service, async (page, posted) => {
      await signIn(page, service, person('work', true));
      await register(page, `linus-${counter}`);
      expect(await field(page, 'twoFactor')).toBe('verified');
      const { idToken, mfaToken } = posted[0];
      expectWorkIdToken(idToken, { loginHost: service.config.loginHost, clientId: service.config.clientId, email: true, nonce: true });
      expectV1AccessToken(mfaToken!, { audience: service.config.mfaApiAudience!, clientId: service.config.clientId, mfa: true });
    });
  });

  it('asks a personal account for no access token: its acr shows two-step verification', async () => {
    await withConsole(service, async (page, posted) => {
      await signIn(page, service, person('personal', true));
      await register(page, `ada-${counter}`);
      expect(await field(page, 'twoFactor')).toBe('verified');
      expect(posted).toEqual([{ idToken: expect.any(String) }]);
    });
  });

  it('refuses a work account whose sign-in used no second factor: mfa_required', async () => {
    await withConsole(service, async (page, posted) => {
      await signIn(page, service, person('work', false));
      expect(await problem(page)).toMatch(/^mfa_required: .*multifactor/);
      expectV1AccessToken(posted[0].mfaToken!, { audience: service.config.mfaApiAudience!, clientId: service.config.clientId, mfa: false });
    });
  });
});
