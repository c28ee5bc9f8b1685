// The development console: Microsoft sign-in with @azure/msal-browser, then the account service's API through the
// typed client (@gallery/account-client), the way a frontend does it. Read it as an example; `npm run build` bundles
// it for the browser (local/bundle.ts).
import {
  AuthError,
  CacheLookupPolicy,
  InteractionRequiredAuthError,
  PublicClientApplication,
  type AuthenticationResult,
  type BrowserAuthOptions,
  type Configuration,
  type IdTokenClaims,
  type RedirectRequest,
} from '@azure/msal-browser';
import { createGalleryClient, type MicrosoftTokens, type RegistrationRequired } from '@gallery/account-client';

/** What local/console.ts serves at /console/config.json: the settings a frontend would be built with. */
interface ConsoleConfig {
  clientId: string;
  loginHost: string;
  workAccountMfa: 'tenant' | 'verified';
  mfaApiAudience: string | null;
}

/** Personal Microsoft accounts show two-step verification in the ID token's acr only when the app asks for it. */
const MFA_POLICY = 'urn:microsoft:policies:mfa';
/** The tenant of every personal Microsoft account; any other is a work account's. */
const PERSONAL_ACCOUNT_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const SESSION_KEY = 'gallery.sessionToken';

const gallery = createGalleryClient({ baseUrl: `${location.origin}/api`, sessionToken: () => sessionStorage.getItem(SESSION_KEY) });

function $<Element extends HTMLElement = HTMLElement>(id: string): Element {
  const element = document.getElementById(id);
  if (!element) throw new Error(`The page has no #${id}`);
  return element as Element;
}

/** MSAL's configuration: Microsoft's authority `common` in production, or another identity provider by its host. */
async function msalConfiguration(config: ConsoleConfig): Promise<Configuration> {
  const loginHost = new URL(config.loginHost);
  const auth: BrowserAuthOptions = { clientId: config.clientId, redirectUri: `${location.origin}/`, postLogoutRedirectUri: `${location.origin}/` };
  if (loginHost.host === 'login.microsoftonline.com') {
    auth.authority = `${loginHost.origin}/common`;
  } else {
    // The development identity (or another stand-in). MSAL takes only https:// authorities and checks unknown
    // hosts with Microsoft's instance discovery: name the host as known and hand MSAL the discovery document,
    // and it calls only the endpoints that document names (over http:// on this machine).
    auth.authority = `https://${loginHost.host}/common`;
    auth.knownAuthorities = [loginHost.host];
    const discovery = await fetch(`${loginHost.origin}/common/v2.0/.well-known/openid-configuration`);
    auth.authorityMetadata = await discovery.text();
  }
  return { auth, cache: { cacheLocation: 'sessionStorage' } };
}

const LOGIN_REQUEST: RedirectRequest = {
  scopes: ['openid', 'profile', 'email'],
  // The service accepts ID tokens issued in the last 10 minutes; MSAL would hand out a cached one for a day.
  prompt: 'login',
  extraQueryParameters: { acr_values: MFA_POLICY },
};

/**
 * In verified mode a work account also shows its multifactor sign-in, with a v1.0 access token for the MFA API
 * (an API registration for work accounts only, so it is asked for after the sign-in shows a work account).
 * Silently first, with the refresh token of this sign-in; if that needs the person, by a redirect, which the
 * sign-in session answers without asking again: then this returns undefined and the page is left.
 */
async function mfaTokenFor(msalApp: PublicClientApplication, config: ConsoleConfig, result: AuthenticationResult): Promise<string | null | undefined> {
  if (config.workAccountMfa !== 'verified' || (result.idTokenClaims as IdTokenClaims).tid === PERSONAL_ACCOUNT_TENANT) return null;
  const apiPrefix = `${config.mfaApiAudience}/`;
  if (result.scopes.some((scope) => scope.startsWith(apiPrefix))) return result.accessToken;
  const request = { scopes: [`${apiPrefix}.default`], account: result.account };
  try {
    const silent = await msalApp.acquireTokenSilent({ ...request, cacheLookupPolicy: CacheLookupPolicy.AccessTokenAndRefreshToken });
    return silent.accessToken;
  } catch (error) {
    if (!(error instanceof InteractionRequiredAuthError)) throw error;
    await msalApp.acquireTokenRedirect(request);
    return undefined;
  }
}

/** Shows what went wrong: a problem the service answered (its code and detail), or nothing. */
function showProblem(problem: { code: string; detail: string } | undefined): void {
  const shown = $('problem');
  shown.hidden = !problem;
  if (!problem) return;
  shown.dataset.code = problem.code;
  shown.textContent = `${problem.code}: ${problem.detail}`;
}

/** Shows an error thrown on the way: MSAL's by its error code. */
function showError(error: unknown): void {
  showProblem({ code: error instanceof AuthError ? error.errorCode : 'error', detail: error instanceof Error ? error.message : String(error) });
}

function show(section: 'signed-out' | 'register' | 'signed-in'): void {
  for (const id of ['signed-out', 'register', 'signed-in']) $(id).hidden = id !== section;
}

async function showAccount(): Promise<void> {
  const { data: account, error } = await gallery.GET('/me');
  if (error) return showProblem(error);
  for (const [field, value] of Object.entries({
    username: account.username,
    emailAddress: account.emailAddress,
    emailConfirmed: account.emailConfirmed ? 'yes' : 'not yet: use the link in the email',
    microsoftAccount: account.microsoftAccount?.email ?? '(none)',
    accountType: account.microsoftAccount?.accountType ?? '',
    twoFactor: account.microsoftAccount?.twoFactor ?? '',
  })) {
    $('account').querySelector(`[data-field="${field}"]`)!.textContent = value;
  }
  await showKeys();
  show('signed-in');
}

async function showKeys(): Promise<void> {
  const { data: keys, error } = await gallery.GET('/me/api-keys');
  if (error) return showProblem(error);
  $('keys').replaceChildren(
    ...keys.map((key) => {
      const item = document.createElement('li');
      item.dataset.keyId = key.id;
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.textContent = 'Revoke';
      revoke.addEventListener('click', () =>
        run(async () => {
          const { error: refused } = await gallery.DELETE('/me/api-keys/{id}', { params: { path: { id: key.id } } });
          if (refused) return showProblem(refused);
          $('new-key').hidden = true;
          await showKeys();
        }),
      );
      item.append(`${key.description}: ${key.packageGlobs.join(', ')} (${key.scopes.join(', ')}), expires ${key.expiresAt.slice(0, 10)} `, revoke);
      return item;
    }),
  );
}

/** Runs an action, clearing the problem shown before it and showing what it throws. */
async function run(action: () => Promise<void>): Promise<void> {
  showProblem(undefined);
  try {
    await action();
  } catch (error) {
    showError(error);
  }
}

async function main(): Promise<void> {
  const config = (await (await fetch('/console/config.json')).json()) as ConsoleConfig;
  $('signs-in-with').textContent = `Signs in with ${config.loginHost} as app ${config.clientId}; work accounts: ${
    config.workAccountMfa === 'verified' ? 'multifactor verified with an access token' : "their tenant's policy"
  }.`;
  const msalApp = new PublicClientApplication(await msalConfiguration(config));
  await msalApp.initialize();
  /** The sign-in being registered. */
  let registration: RegistrationRequired | undefined;

  $('sign-in').addEventListener('click', () => run(() => msalApp.loginRedirect(LOGIN_REQUEST)));

  $<HTMLFormElement>('register-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    run(async () => {
      const emailAddress = String(form.get('emailAddress') ?? '') || undefined;
      const registered = await registration!.register({ username: String(form.get('username')), emailAddress });
      if (registered.error) return showProblem(registered.error);
      sessionStorage.setItem(SESSION_KEY, registered.data.sessionToken);
      registration = undefined;
      await showAccount();
    });
  });

  $<HTMLFormElement>('create-key').addEventListener('submit', (event) => {
    event.preventDefault();
    const keyForm = event.target as HTMLFormElement;
    const form = new FormData(keyForm);
    run(async () => {
      const owner = $('account').querySelector('[data-field="username"]')!.textContent ?? '';
      const { data: created, error } = await gallery.POST('/me/api-keys', {
        body: {
          description: String(form.get('description')),
          scopes: ['package:push'],
          packageGlobs: [String(form.get('packageGlob'))],
          owner,
          expiresInDays: 365,
        },
      });
      if (error) return showProblem(error);
      $('new-key-secret').textContent = created.key;
      $('new-key').hidden = false;
      keyForm.reset();
      await showKeys();
    });
  });

  $('sign-out-everywhere').addEventListener('click', () =>
    run(async () => {
      const { error } = await gallery.POST('/auth/sign-out-everywhere');
      // A session that has ended already needs no ending: sign out of Microsoft all the same.
      if (error && error.code !== 'unauthorized') return showProblem(error);
      sessionStorage.removeItem(SESSION_KEY);
      // End the Microsoft sign-in too (MSAL forgets its tokens, the identity its session), then come back here
      // (postLogoutRedirectUri), where handleRedirectPromise finishes the sign-out.
      await msalApp.logoutRedirect({ account: msalApp.getAllAccounts()[0] });
    }),
  );

  let leaving = false;
  await run(async () => {
    // On every page load, before any other MSAL call: back from the sign-in page MSAL redeems the code (PKCE) and
    // checks state and nonce; back from signing out it ends that interaction (or the next sign-in would fail with
    // interaction_in_progress); otherwise it answers null.
    const result = await msalApp.handleRedirectPromise();
    if (result) {
      sessionStorage.removeItem(SESSION_KEY);
      const mfaToken = await mfaTokenFor(msalApp, config, result);
      leaving = mfaToken === undefined;
      if (leaving) return;
      const tokens: MicrosoftTokens = { idToken: result.idToken, ...(mfaToken ? { mfaToken } : {}) };
      const signedIn = await gallery.signInWithMicrosoft(tokens);
      if (signedIn.error) return showProblem(signedIn.error);
      if (signedIn.data.status === 'registration_required') {
        registration = signedIn.data;
        $('register-form').querySelector<HTMLInputElement>('input[name=emailAddress]')!.value = registration.emailAddress ?? '';
        show('register');
        return;
      }
      sessionStorage.setItem(SESSION_KEY, signedIn.data.sessionToken);
    }
    if (sessionStorage.getItem(SESSION_KEY)) await showAccount();
    else show('signed-out');
  });
  if (leaving) return;
  if ($('signed-out').hidden && $('register').hidden && $('signed-in').hidden) show('signed-out');
  document.body.dataset.ready = 'true';
}

main().catch(showError);
