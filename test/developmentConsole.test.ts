/**
 * The development console in a real browser: headless Chromium drives the page `npm start` serves at `/`, which
 * signs in with the real @azure/msal-browser (authorization code flow with PKCE, state and nonce) against the
 * development identity, then registers, shows the account, creates and revokes an API key and signs out
 * everywhere (of the service, and of the identity with MSAL's logoutRedirect), as a frontend would. Each service
 * runs as `npm start` runs it (the compiled entry point in a child process, no settings: every development
 * default), once in tenant mode and once in verified mode. The identity's logout endpoint is also driven without a
 * browser, with the requests MSAL sends and those it must refuse.
 */
import type { ChildProcess } from 'node:child_process';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { newSigningKey, signRs256 } from '../local/identity/microsoftTokens';
import { startWithDevelopmentDefaults } from './support/process';
import { expectPersonalIdToken, expectV1AccessToken, expectWorkIdToken } from './support/microsoftShapes';

/** Debian's Chromium, kept off the network: no QUIC, no background or component traffic, no sync. */
const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

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
  const { url, process: child } = await startWithDevelopmentDefaults(extra);
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

/**
 * Whether the development identity still has a sign-in session in this browser: it answers an authorization
 * request with `prompt=none` (what MSAL's ssoSilent sends) with a code, or with `login_required`.
 */
async function identityKnowsTheBrowser(context: BrowserContext, service: Console): Promise<boolean> {
  const authorize = `${service.config.loginHost}/common/oauth2/v2.0/authorize?${new URLSearchParams({
    client_id: service.config.clientId,
    response_type: 'code',
    redirect_uri: `${service.url}/`,
    response_mode: 'query',
    scope: 'openid',
    prompt: 'none',
    state: 'probe',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  })}`;
  const answer = await context.request.get(authorize, { maxRedirects: 0 });
  const back = new URL(answer.headers().location);
  expect(`${back.origin}${back.pathname}`).toBe(`${service.url}/`);
  if (back.searchParams.has('code')) return true;
  expect(back.searchParams.get('error')).toBe('login_required');
  return false;
}

/**
 * Clicks "Sign out everywhere", which ends the service's sessions, then MSAL's logoutRedirect goes through the
 * identity's logout and comes back to the console: without a page that asks anything, or this times out.
 */
async function signOut(page: Page, service: Console): Promise<void> {
  await Promise.all([page.waitForURL(`${service.config.loginHost}/**`, { timeout: 10_000 }), page.click('#sign-out-everywhere')]);
  await page.waitForURL(`${service.url}/**`, { timeout: 10_000 });
  await page.waitForSelector('body[data-ready="true"]');
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
      expect(await identityKnowsTheBrowser(page.context(), service)).toBe(true);
      const navigations: string[] = [];
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) navigations.push(frame.url());
      });
      await signOut(page, service);
      expect(await page.isVisible('#signed-out')).toBe(true);
      expect(await page.isHidden('#problem')).toBe(true);
      expect(await page.evaluate('sessionStorage.getItem("gallery.sessionToken")')).toBeNull();
      const logoutRequest = new URL(navigations.find((url) => url.startsWith(`${service.config.loginHost}/common/oauth2/v2.0/logout?`))!);
      expect(logoutRequest.searchParams.get('post_logout_redirect_uri')).toBe(`${service.url}/`);
      // Back with the state MSAL sent.
      expect(new URL(page.url()).searchParams.get('state')).toBe(logoutRequest.searchParams.get('state'));
      const me = await fetch(`${service.url}/api/me`, { headers: { Authorization: `Bearer ${session}` } });
      expect(me.status).toBe(401);
      // The identity's sign-in session is over: the next sign-in asks for the person.
      expect(await identityKnowsTheBrowser(page.context(), service)).toBe(false);

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

  it("signs out of the identity even when the service's session has ended already", async () => {
    await withConsole(service, async (page) => {
      await signIn(page, service, person('personal', true));
      await register(page, `hopper-${counter}`);
      // Signed out everywhere from another device: this page's session answers 401 now.
      const session = await page.evaluate('sessionStorage.getItem("gallery.sessionToken")');
      expect((await fetch(`${service.url}/api/auth/sign-out-everywhere`, { method: 'POST', headers: { Authorization: `Bearer ${session}` } })).status).toBe(204);

      await signOut(page, service);
      expect(await page.isVisible('#signed-out')).toBe(true);
      expect(await identityKnowsTheBrowser(page.context(), service)).toBe(false);
    });
  });

  describe("the development identity's sign-out, as MSAL's logoutRedirect asks for it (no browser)", () => {
    /** The frontend's development origin (PUBLIC_BASE_URL's default), where a sign-out may return. */
    const FRONTEND = 'http://localhost:3000';

    /** An ID token of the development identity, as a browser sign-in (or a script) gets it. */
    async function mintedIdToken(): Promise<string> {
      const minted = await fetch(`${service.url}/dev/identity/token`, { method: 'POST', body: JSON.stringify({ email: 'ada@outlook.example' }) });
      return ((await minted.json()) as { idToken: string }).idToken;
    }

    /**
     * A sign-out as a browser goes through it, without running the pages' scripts: the logout request, then the
     * form its page submits at once, with the cookies it set. Answers where it ends: a redirect, or a page.
     */
    async function logout(params: Record<string, string>, method: 'GET' | 'POST' = 'GET') {
      const form = new URLSearchParams(params);
      const endpoint = `${service.config.loginHost}/common/oauth2/v2.0/logout`;
      const request = method === 'GET' ? await fetch(`${endpoint}?${form}`, { redirect: 'manual' }) : await fetch(endpoint, { method, body: form, redirect: 'manual' });
      const page = await request.text();
      const action = /<form[^>]* action="([^"]+)"/.exec(page)?.[1];
      if (request.status !== 200 || !action) return { status: request.status, location: request.headers.get('location'), page };
      // The form's fields, with those tied to it from outside (form="..."), as a browser submits them.
      const fields = new URLSearchParams([...page.matchAll(/<input type="hidden"[^>]* name="(\w+)" value="([^"]*)"/g)].map(([, name, value]): [string, string] => [name, value]));
      const cookie = request.headers
        .getSetCookie()
        .map((header) => header.split(';')[0])
        .join('; ');
      const confirmed = await fetch(new URL(action, service.config.loginHost), { method: 'POST', body: fields, headers: { cookie }, redirect: 'manual' });
      return { status: confirmed.status, location: confirmed.headers.get('location'), page: await confirmed.text() };
    }

    it('returns to the post_logout_redirect_uri with the state, though MSAL names no client', async () => {
      // What logoutRedirect sends: post_logout_redirect_uri, client-request-id and state; no client_id.
      const ended = await logout({ post_logout_redirect_uri: `${FRONTEND}/signed-out`, 'client-request-id': crypto.randomUUID(), state: 'eyJpZCI6IjEifQ' });
      expect(ended).toMatchObject({ status: 303, location: `${FRONTEND}/signed-out?state=eyJpZCI6IjEifQ` });
    });

    it('accepts its own ID token as id_token_hint: issued by the tenant it names, not by oidc-provider', async () => {
      const ended = await logout({ id_token_hint: await mintedIdToken(), post_logout_redirect_uri: `${FRONTEND}/` });
      expect(ended).toMatchObject({ status: 303, location: `${FRONTEND}/` });
    });

    it('takes the request by POST too, as Microsoft does', async () => {
      const ended = await logout({ post_logout_redirect_uri: `${service.url}/`, state: 's' }, 'POST');
      expect(ended).toMatchObject({ status: 303, location: `${service.url}/?state=s` });
    });

    it('refuses an id_token_hint it did not sign', async () => {
      const [, payload] = (await mintedIdToken()).split('.');
      const forged = signRs256(JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>, newSigningKey());
      const ended = await logout({ id_token_hint: forged, post_logout_redirect_uri: `${FRONTEND}/` });
      expect(ended).toMatchObject({ status: 400, location: null, page: expect.stringContaining('could not validate id_token_hint') });
    });

    it.each([
      ['another origin', 'https://attacker.example/'],
      ['another port', 'http://localhost:3001/'],
      ['no absolute URL', '/signed-out'],
    ])('refuses a post_logout_redirect_uri on %s, as Microsoft refuses one not registered', async (_, uri) => {
      const ended = await logout({ post_logout_redirect_uri: uri, state: 's' });
      expect(ended).toMatchObject({ status: 400, location: null, page: expect.stringContaining('post_logout_redirect_uri not registered') });
    });

    it("ends on its own page without a post_logout_redirect_uri, in Microsoft's words", async () => {
      const ended = await logout({});
      expect(ended.status).toBe(303);
      expect(await (await fetch(new URL(ended.location!, service.config.loginHost))).text()).toContain('You signed out of your account');
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
