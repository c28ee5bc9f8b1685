// The development console: Microsoft sign-in with @azure/msal-browser, then the account service's API, the way
// a frontend does it. Plain JavaScript on purpose: read it as an example.
'use strict';

/** Personal Microsoft accounts show two-step verification in the ID token's acr only when the app asks for it. */
const MFA_POLICY = 'urn:microsoft:policies:mfa';
/** The tenant of every personal Microsoft account; any other is a work account's. */
const PERSONAL_ACCOUNT_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const SESSION_KEY = 'gallery.sessionToken';

const $ = (id) => document.getElementById(id);

/** MSAL's configuration: Microsoft's authority `common` in production, or another identity provider by its host. */
async function msalConfiguration(config) {
  const loginHost = new URL(config.loginHost);
  const auth = { clientId: config.clientId, redirectUri: `${location.origin}/`, postLogoutRedirectUri: `${location.origin}/` };
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

const LOGIN_REQUEST = {
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
async function mfaTokenFor(msalApp, config, result) {
  if (config.workAccountMfa !== 'verified' || result.idTokenClaims.tid === PERSONAL_ACCOUNT_TENANT) return null;
  const apiPrefix = `${config.mfaApiAudience}/`;
  if (result.scopes.some((scope) => scope.startsWith(apiPrefix))) return result.accessToken;
  const request = { scopes: [`${apiPrefix}.default`], account: result.account };
  try {
    const silent = await msalApp.acquireTokenSilent({ ...request, cacheLookupPolicy: msal.CacheLookupPolicy.AccessTokenAndRefreshToken });
    return silent.accessToken;
  } catch (error) {
    if (!(error instanceof msal.InteractionRequiredAuthError)) throw error;
    await msalApp.acquireTokenRedirect(request);
    return undefined;
  }
}

async function api(method, path, body) {
  const headers = {};
  const session = sessionStorage.getItem(SESSION_KEY);
  if (session) headers.Authorization = `Bearer ${session}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw Object.assign(new Error(json?.detail ?? `${method} ${path} answered ${response.status}`), { problem: json });
  return json;
}

function showProblem(error) {
  const problem = $('problem');
  if (!error) {
    problem.hidden = true;
    return;
  }
  const code = error.problem?.code ?? error.errorCode ?? 'error';
  problem.dataset.code = code;
  problem.textContent = `${code}: ${error.message}`;
  problem.hidden = false;
}

function show(section) {
  for (const id of ['signed-out', 'register', 'signed-in']) $(id).hidden = id !== section;
}

async function showAccount() {
  const account = await api('GET', '/me');
  for (const [field, value] of Object.entries({
    username: account.username,
    emailAddress: account.emailAddress,
    emailConfirmed: account.emailConfirmed ? 'yes' : 'not yet: use the link in the email',
    microsoftAccount: account.microsoftAccount?.email ?? '(none)',
    accountType: account.microsoftAccount?.accountType ?? '',
    twoFactor: account.microsoftAccount?.twoFactor ?? '',
  })) {
    document.querySelector(`#account [data-field="${field}"]`).textContent = String(value);
  }
  await showKeys();
  show('signed-in');
  return account;
}

async function showKeys() {
  const keys = await api('GET', '/me/api-keys');
  $('keys').replaceChildren(
    ...keys.map((key) => {
      const item = document.createElement('li');
      item.dataset.keyId = key.id;
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.textContent = 'Revoke';
      revoke.addEventListener('click', () => run(async () => {
        await api('DELETE', `/me/api-keys/${encodeURIComponent(key.id)}`);
        $('new-key').hidden = true;
        await showKeys();
      }));
      item.append(`${key.description}: ${key.packageGlobs.join(', ')} (${key.scopes.join(', ')}), expires ${key.expiresAt.slice(0, 10)} `, revoke);
      return item;
    }),
  );
}

/** Runs an action, showing its problem if it fails. */
async function run(action) {
  showProblem(undefined);
  try {
    await action();
  } catch (error) {
    showProblem(error);
  }
}

async function main() {
  const config = await (await fetch('/console/config.json')).json();
  $('signs-in-with').textContent = `Signs in with ${config.loginHost} as app ${config.clientId}; work accounts: ${
    config.workAccountMfa === 'verified' ? 'multifactor verified with an access token' : 'their tenant\'s policy'
  }.`;
  const msalApp = new msal.PublicClientApplication(await msalConfiguration(config));
  await msalApp.initialize();
  /** The tokens of the sign-in being registered. */
  let pending;

  $('sign-in').addEventListener('click', () => run(() => msalApp.loginRedirect(LOGIN_REQUEST)));

  $('register-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    run(async () => {
      const emailAddress = form.get('emailAddress') || undefined;
      const registered = await api('POST', '/accounts', { ...pending, username: form.get('username'), emailAddress });
      sessionStorage.setItem(SESSION_KEY, registered.sessionToken);
      pending = undefined;
      await showAccount();
    });
  });

  $('create-key').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    run(async () => {
      const owner = $('account').querySelector('[data-field="username"]').textContent;
      const created = await api('POST', '/me/api-keys', {
        description: form.get('description'),
        scopes: ['package:push'],
        packageGlobs: [form.get('packageGlob')],
        owner,
        expiresInDays: 365,
      });
      $('new-key-secret').textContent = created.key;
      $('new-key').hidden = false;
      event.target.reset();
      await showKeys();
    });
  });

  $('sign-out-everywhere').addEventListener('click', () => run(async () => {
    // A session that has ended already (401) needs no ending: sign out of Microsoft all the same.
    await api('POST', '/auth/sign-out-everywhere').catch((error) => {
      if (error.problem?.status !== 401) throw error;
    });
    sessionStorage.removeItem(SESSION_KEY);
    // End the Microsoft sign-in too (MSAL forgets its tokens, the identity its session), then come back here
    // (postLogoutRedirectUri), where handleRedirectPromise finishes the sign-out.
    await msalApp.logoutRedirect({ account: msalApp.getAllAccounts()[0] });
  }));

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
      const tokens = { idToken: result.idToken, ...(mfaToken ? { mfaToken } : {}) };
      const signedIn = await api('POST', '/auth/microsoft', tokens);
      if (signedIn.status === 'registration_required') {
        pending = tokens;
        $('register-form').elements.emailAddress.value = signedIn.emailAddress ?? '';
        show('register');
        return;
      }
      sessionStorage.setItem(SESSION_KEY, signedIn.sessionToken);
    }
    if (sessionStorage.getItem(SESSION_KEY)) await showAccount();
    else show('signed-out');
  });
  if (leaving) return;
  if ($('signed-out').hidden && $('register').hidden && $('signed-in').hidden) show('signed-out');
  document.body.dataset.ready = 'true';
}

main().catch(showProblem);
