/**
 * The development identity behind `npm start`: an OpenID Connect provider at the Microsoft identity platform's
 * paths that a single-page app using @azure/msal-browser signs in against with no Azure at all.
 *
 * The protocol (authorization code flow with PKCE, redirect URI and client checks, state, nonce, prompt,
 * response_mode, single-use codes, the token endpoint's CORS) is oidc-provider's, a certified implementation.
 * What Microsoft does differently is ours: the discovery documents (one per tenant, and `common`,
 * `organizations` and `consumers`), the key sets at both of Microsoft's key paths, and the tokens, which are
 * minted by ./microsoftTokens (the code the tests' identity stand-in uses too) so they carry exactly the claims
 * Microsoft's tokens carry, with the issuer of the person's own tenant. oidc-provider is a development
 * dependency, loaded when the first browser sign-in arrives at a development identity, which never exists in
 * production.
 *
 * Paths, as on login.microsoftonline.com:
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration
 *   GET  /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys
 *   GET  /{tenant}/oauth2/v2.0/authorize   (then the sign-in page at /sign-in/{uid})
 *   POST /{tenant}/oauth2/v2.0/token
 *   GET  /{tenant}/oauth2/v2.0/logout      (also POST; ends the sign-in session, then back to post_logout_redirect_uri)
 *
 * Besides people it has workloads: a script gets the app-only access token a service principal would get for the
 * gallery API (./appOnlyTokens), signed with the same keys as everything else the identity issues.
 */
import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import {
  accessTokenClaims,
  ACCESS_TOKEN_LIFETIME_SECONDS,
  clientInfo,
  GUID,
  idTokenClaims,
  isPersonal,
  keySet,
  MFA_POLICY,
  newSigningKey,
  PERSONAL_ACCOUNT_TENANT,
  personFor,
  signRs256,
  stableGuid,
  verifyIdTokenHint,
  type MicrosoftPerson,
} from './microsoftTokens';
import {
  appOnlyAccessTokenClaims,
  azAccessTokenAnswer,
  servicePrincipalFor,
  signAppOnlyToken,
  WORKLOAD_TOKEN_REQUEST_SHAPE,
  workloadTokenRequest,
  type ResourceApi,
} from './appOnlyTokens';
import { signInPage, type SignInChoice } from './signInPage';

export interface DevelopmentIdentityOptions {
  /** The application the frontend signs in as (MICROSOFT_CLIENT_ID). */
  clientId: string;
  /** The API whose v1.0 access tokens show multifactor sign-in (MICROSOFT_MFA_API_AUDIENCE), if any. */
  mfaApiAudience?: string;
}

export interface DevelopmentIdentity {
  /** Serves Microsoft's paths at the root of its own origin. */
  handle: http.RequestListener;
  /** The base URL it is served under (the login host); issuers are `${url}/${tid}/v2.0`. Call before serving. */
  setLoginHost(url: string): void;
  /**
   * Origins whose pages may sign in (any redirect URI on them), redeem codes from a browser (CORS) and be
   * returned to after signing out (any post_logout_redirect_uri on them).
   */
  allowOrigins(origins: string[]): void;
  /**
   * A shortcut for scripts: `POST { email, name?, accountType?, twoStep? }` answers `{ idToken, mfaToken? }`,
   * the tokens a browser sign-in of that person would give (`mfaToken` when an MFA API is configured).
   */
  mintForScripts: http.RequestListener;
  /**
   * Another for scripts: `POST { tenantId?, objectId?, version? }` answers what `az account get-access-token
   * --resource <App ID URI>` answers a job signed in as that service principal: `{ accessToken, ... }`, an
   * app-only token for DEVELOPMENT_GALLERY_API (v1.0 unless asked for 2.0).
   */
  mintWorkloadTokenForScripts: http.RequestListener;
}

/**
 * The gallery API whose app-only tokens the identity gives scripts, and `npm start` takes for trusted publishing
 * (TRUSTED_PUBLISHING_ENTRA_AUDIENCE): a registration of its own, under an api:// App ID URI.
 */
const DEVELOPMENT_GALLERY_API_CLIENT_ID = stableGuid('development gallery API');
export const DEVELOPMENT_GALLERY_API: ResourceApi = { appIdUri: `api://${DEVELOPMENT_GALLERY_API_CLIENT_ID}`, clientId: DEVELOPMENT_GALLERY_API_CLIENT_ID };

/** The service principal a script's token names unless it says: one of the tenant contoso.example's people sign in to. */
export const DEVELOPMENT_TENANT = stableGuid('tenant', 'contoso.example');
export const DEVELOPMENT_SERVICE_PRINCIPAL = stableGuid('service principal', DEVELOPMENT_TENANT, 'publishing');

const TENANT = '([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|common|organizations|consumers)';
const DISCOVERY_PATH = new RegExp(`^/${TENANT}/v2\\.0/\\.well-known/openid-configuration$`);
const KEYS_PATH = new RegExp(`^/${TENANT}/discovery/(v2\\.0/)?keys$`);
const PROTOCOL_PATH = new RegExp(`^/${TENANT}(/oauth2/v2\\.0/(authorize|token|logout))$`);
/** oidc-provider's own follow-up paths (resuming an authorization after the sign-in page, confirming a logout). */
const PROVIDER_PATH = /^\/oauth2\/v2\.0\//;
const SIGN_IN_PATH = /^\/sign-in\/([\w-]+)$/;
/** The extra authorization parameter that carries the path's tenant through the sign-in page. */
const AUTHORITY_TENANT = 'authority_tenant';
/** The delegated permission an API exposes by default, which a `.default` request gets. */
const DEFAULT_API_SCOPE = 'user_impersonation';
const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const MAX_PEOPLE = 1000;

// oidc-provider is an ES module. TypeScript compiles import() to require() in CommonJS output, so this keeps a
// real dynamic import.
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<OidcProviderModule>;

export function createDevelopmentIdentity(options: DevelopmentIdentityOptions): DevelopmentIdentity {
  const signingKey = newSigningKey();
  let loginHost = '';
  const allowedOrigins = new Set<string>();
  /** Who signed in, by oidc-provider's account id. */
  const people = new Map<string, MicrosoftPerson>();
  const remember = (accountId: string, person: MicrosoftPerson) => {
    people.set(accountId, person);
    if (people.size > MAX_PEOPLE) people.delete(people.keys().next().value as string);
  };
  /** The MFA API's permissions, the one API it issues access tokens for (as `{audience}/{permission}` scopes). */
  const api = options.mfaApiAudience;
  const apiScopes = api === undefined ? [] : [`${api}/.default`, `${api}/${DEFAULT_API_SCOPE}`];

  /**
   * oidc-provider, loaded when the first browser sign-in arrives: scripts, and the tests that only mint tokens,
   * never need it.
   */
  let protocol: Promise<{ provider: OidcProvider; listener: http.RequestListener }> | undefined;
  const oidc = () => (protocol ??= startProvider());

  async function startProvider() {
    const { default: Provider, interactionPolicy } = await importModule('oidc-provider');
    // Microsoft's prompt values beyond oidc-provider's login and consent, each satisfied by the sign-in page.
    const policy = interactionPolicy.base();
    for (const name of ['select_account', 'create']) policy.add(new interactionPolicy.Prompt({ name, requestable: true }));

    const provider = new Provider('http://development-identity.invalid', {
      clients: [
        {
          client_id: options.clientId,
          // A single-page app: a public client; its redirect URIs are checked by origin below.
          token_endpoint_auth_method: 'none',
          application_type: 'web',
          redirect_uris: ['http://localhost/'],
          response_types: ['code'],
          grant_types: ['authorization_code'],
        },
      ],
      pkce: { required: () => true },
      acrValues: [MFA_POLICY],
      extraParams: [AUTHORITY_TENANT],
      scopes: ['openid', 'offline_access', ...apiScopes],
      // The OpenID scopes Microsoft supports and the claims they stand for.
      claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
      ttl: {
        AccessToken: ACCESS_TOKEN_LIFETIME_SECONDS,
        AuthorizationCode: 600,
        IdToken: 3600,
        Interaction: 3600,
        Session: 24 * 3600,
        Grant: 24 * 3600,
      },
      routes: {
        authorization: '/oauth2/v2.0/authorize',
        token: '/oauth2/v2.0/token',
        end_session: '/oauth2/v2.0/logout',
        // Served by oidc-provider but never published: the key sets and discovery documents are Microsoft's.
        jwks: '/oidc/jwks',
        userinfo: '/oidc/userinfo',
      },
      interactions: { policy, url: (_ctx: unknown, interaction: { uid: string }) => `/sign-in/${interaction.uid}` },
      findAccount: (_ctx: unknown, accountId: string) => ({ accountId, claims: () => ({ sub: accountId }) }),
      // Consent is the app registration's business: every authorization may have every scope it asks for.
      loadExistingGrant: async (ctx: OidcContext) => {
        const grant = new ctx.oidc.provider.Grant({ accountId: ctx.oidc.account!.accountId, clientId: ctx.oidc.client!.clientId });
        grant.addOIDCScope([...OIDC_SCOPES, ...apiScopes].join(' '));
        await grant.save();
        return grant;
      },
      clientBasedCORS: (_ctx: unknown, origin: string) => allowedOrigins.has(origin),
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      jwks: { keys: [{ ...signingKey.privateKey.export({ format: 'jwk' }), kid: signingKey.kid, use: 'sig', alg: 'RS256' }] },
      features: {
        devInteractions: { enabled: false },
        rpInitiatedLogout: {
          enabled: true,
          // Microsoft asks nothing when one person is signed in: the page confirms the sign-out at once.
          logoutSource: (ctx: OidcContext, form: string) => {
            ctx.body = signInPage.signingOut(form);
          },
          // Where a sign-out without a post_logout_redirect_uri ends, as on Microsoft's.
          postLogoutSuccessSource: (ctx: OidcContext) => {
            ctx.type = 'html';
            ctx.body = signInPage.signedOut();
          },
        },
      },
      renderError: (ctx: OidcContext, out: Record<string, string>) => {
        ctx.type = 'html';
        ctx.body = signInPage.error(out, ctx.oidc?.route?.startsWith('end_session') ? 'Sign-out' : 'Sign-in');
      },
    });
    provider.Client.prototype.redirectUriAllowed = (uri: string) => URL.canParse(uri) && allowedOrigins.has(new URL(uri).origin);
    provider.Client.prototype.postLogoutRedirectUriAllowed = provider.Client.prototype.redirectUriAllowed;
    // oidc-provider would check an id_token_hint against its own single issuer, and so refuse every ID token here:
    // they are minted by ./microsoftTokens, each with the issuer of the person's tenant, as Microsoft's are.
    provider.IdToken.validate = async (token, client) => verifyIdTokenHint(token, signingKey, { loginHost, clientId: client.clientId });

    // Microsoft's authorization response carries client_info and no iss.
    provider.on('authorization.success', (ctx: OidcContext, out: Record<string, unknown>) => {
      delete out.iss;
      const person = ctx.oidc.session?.accountId ? people.get(ctx.oidc.session.accountId) : undefined;
      if (person) out.client_info = clientInfo(person);
    });

    // The token endpoint answers Microsoft's tokens in place of oidc-provider's.
    provider.use(async (ctx: OidcContext, next: () => Promise<void>) => {
      await next();
      const code = ctx.oidc?.route === 'token' && ctx.status === 200 ? ctx.oidc.entities.AuthorizationCode : undefined;
      const person = code ? people.get(code.accountId) : undefined;
      if (!code || !person) return;
      const issuedAt = Math.floor(Date.now() / 1000);
      const body = ctx.body as Record<string, unknown>;
      body.id_token = signRs256(
        idTokenClaims(person, { loginHost, clientId: options.clientId, issuedAt, twoStep: code.acr === MFA_POLICY, nonce: code.nonce }),
        signingKey,
      );
      const forApi = code.scope.split(' ').filter((scope) => apiScopes.includes(scope));
      if (api !== undefined && forApi.length > 0) {
        const scp = forApi.map((scope) => scope.slice(api.length + 1)).map((scope) => (scope === '.default' ? DEFAULT_API_SCOPE : scope));
        body.access_token = signRs256(
          accessTokenClaims(person, { audience: api, clientId: options.clientId, issuedAt, amr: code.amr ?? ['pwd'], scp: scp.join(' ') }),
          signingKey,
        );
        body.scope = scp.map((scope) => `${api}/${scope}`).join(' ');
        body.expires_in = ACCESS_TOKEN_LIFETIME_SECONDS;
      }
      body.ext_expires_in = body.expires_in;
      body.client_info = clientInfo(person);
    });
    return { provider, listener: provider.callback() };
  }

  function discovery(tenant: string): Record<string, unknown> {
    const base = `${loginHost}/${tenant}`;
    // The issuer of `common` and `organizations` is a template: each token names its own tenant.
    const issuerTenant = tenant === 'consumers' ? PERSONAL_ACCOUNT_TENANT : GUID.test(tenant) ? tenant.toLowerCase() : '{tenantid}';
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${loginHost}/${issuerTenant}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
      tenant_region_scope: null,
      cloud_instance_name: 'microsoftonline.com',
    };
  }

  async function serveSignIn(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { provider } = await oidc();
    const details = await provider.interactionDetails(req, res);
    const params = details.params as Record<string, string | undefined>;
    const context = {
      tenant: params[AUTHORITY_TENANT] ?? 'common',
      mfaRequested: (params.acr_values ?? '').split(' ').includes(MFA_POLICY),
      loginHint: params.login_hint,
    };
    if (req.method === 'GET') {
      send(res, 200, 'text/html; charset=utf-8', signInPage.form(context));
      return;
    }
    const choice = signInPage.read(await readForm(req), context);
    if ('cancelled' in choice) {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' }, { mergeWithLastSubmission: false });
      return;
    }
    if ('invalid' in choice) {
      send(res, 400, 'text/html; charset=utf-8', signInPage.form(context, choice.invalid));
      return;
    }
    const person = personOf(choice, context.tenant);
    const accountId = `${person.tid}.${person.oid}`;
    remember(accountId, person);
    const twoStep = choice.twoStep;
    await provider.interactionFinished(
      req,
      res,
      {
        login: {
          accountId,
          // A personal account's token shows two-step verification only when the app asked for it.
          acr: isPersonal(person) && twoStep && context.mfaRequested ? MFA_POLICY : undefined,
          amr: twoStep ? ['pwd', 'mfa'] : ['pwd'],
        },
        // The page answers every prompt Microsoft knows at once (consent is the app registration's business).
        consent: {},
        select_account: {},
        create: {},
      },
      { mergeWithLastSubmission: false },
    );
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://development-identity.invalid');
    const { pathname } = url;
    let match: RegExpExecArray | null;
    if (req.method === 'OPTIONS' && (DISCOVERY_PATH.test(pathname) || KEYS_PATH.test(pathname))) {
      res.writeHead(204, { ...PUBLIC_CORS, 'Access-Control-Allow-Methods': 'GET', 'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? '' }).end();
    } else if (req.method === 'GET' && (match = DISCOVERY_PATH.exec(pathname))) {
      send(res, 200, 'application/json; charset=utf-8', JSON.stringify(discovery(match[1])), PUBLIC_CORS);
    } else if (req.method === 'GET' && KEYS_PATH.test(pathname)) {
      send(res, 200, 'application/json; charset=utf-8', JSON.stringify(keySet(signingKey)), PUBLIC_CORS);
    } else if ((match = PROTOCOL_PATH.exec(pathname))) {
      if (match[3] === 'authorize') url.searchParams.set(AUTHORITY_TENANT, match[1].toLowerCase());
      if (match[3] === 'logout') await asLogoutOfTheApp(req, url.searchParams);
      req.url = `${match[2]}${url.search}`;
      (await oidc()).listener(req, res);
    } else if (PROVIDER_PATH.test(pathname)) {
      (await oidc()).listener(req, res);
    } else if (SIGN_IN_PATH.test(pathname) && (req.method === 'GET' || req.method === 'POST')) {
      await serveSignIn(req, res);
    } else {
      send(res, 404, 'application/json; charset=utf-8', JSON.stringify({ error: 'not_found', error_description: `No route for ${req.method} ${pathname}.` }));
    }
  }

  /**
   * A logout request as oidc-provider must see it to honour its post_logout_redirect_uri, which it checks only for
   * a known client. MSAL sends neither client_id nor id_token_hint, and Microsoft checks the URI against the app
   * the browser signed in to: this identity has one app. Microsoft takes the parameters by GET or POST alike;
   * they reach oidc-provider in the query of a GET, where it reads the same ones.
   */
  async function asLogoutOfTheApp(req: http.IncomingMessage, query: URLSearchParams): Promise<void> {
    if (req.method === 'POST') {
      for (const [name, value] of await readForm(req)) query.append(name, value);
      req.method = 'GET';
    }
    if (!query.has('client_id') && !query.has('id_token_hint')) query.set('client_id', options.clientId);
  }

  async function mintForScripts(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const request = req.method === 'POST' ? scriptRequest(await readJson(req)) : undefined;
    if (!request) {
      send(res, 400, 'application/json; charset=utf-8', JSON.stringify({ error: SCRIPT_REQUEST_SHAPE }));
      return;
    }
    const person = personOf(request, 'common');
    const issuedAt = Math.floor(Date.now() / 1000);
    const idToken = signRs256(idTokenClaims(person, { loginHost, clientId: options.clientId, issuedAt, twoStep: request.twoStep }), signingKey);
    const mfaToken =
      api === undefined
        ? undefined
        : signRs256(
            accessTokenClaims(person, { audience: api, clientId: options.clientId, issuedAt, amr: request.twoStep ? ['pwd', 'mfa'] : ['pwd'], scp: DEFAULT_API_SCOPE }),
            signingKey,
          );
    send(res, 200, 'application/json; charset=utf-8', JSON.stringify({ idToken, ...(mfaToken ? { mfaToken } : {}) }));
  }

  async function mintWorkloadTokenForScripts(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const request = req.method === 'POST' ? workloadTokenRequest(await readJson(req)) : undefined;
    if (!request) {
      send(res, 400, 'application/json; charset=utf-8', JSON.stringify({ error: WORKLOAD_TOKEN_REQUEST_SHAPE }));
      return;
    }
    const principal = servicePrincipalFor(request.tenantId ?? DEVELOPMENT_TENANT, request.objectId ?? DEVELOPMENT_SERVICE_PRINCIPAL);
    const claims = appOnlyAccessTokenClaims(principal, { api: DEVELOPMENT_GALLERY_API, version: request.version ?? '1.0', loginHost, issuedAt: Math.floor(Date.now() / 1000) });
    send(res, 200, 'application/json; charset=utf-8', JSON.stringify(azAccessTokenAnswer(signAppOnlyToken(claims, signingKey), claims)));
  }

  return {
    handle: listener(serve),
    setLoginHost(url: string) {
      loginHost = url.replace(/\/+$/, '');
    },
    allowOrigins(origins: string[]) {
      for (const origin of origins) allowedOrigins.add(new URL(origin).origin);
    },
    mintForScripts: listener(mintForScripts),
    mintWorkloadTokenForScripts: listener(mintWorkloadTokenForScripts),
  };
}

/** The person a sign-in names; a work account signing in through a tenant's own authority belongs to that tenant. */
function personOf(choice: SignInChoice, authorityTenant: string): MicrosoftPerson {
  const person = personFor({ email: choice.email, name: choice.name, kind: choice.accountType, emailVerifiedByTenant: choice.emailVerified });
  return choice.accountType === 'work' && GUID.test(authorityTenant) ? { ...person, tid: authorityTenant.toLowerCase() } : person;
}

const SCRIPT_REQUEST_SHAPE = "expected JSON { email: string, name?: string, accountType?: 'personal' | 'work', twoStep?: boolean }";

function scriptRequest(body: unknown): SignInChoice | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { email, name, accountType = 'personal', twoStep = true, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email)) return undefined;
  if ((name !== undefined && typeof name !== 'string') || (accountType !== 'personal' && accountType !== 'work') || typeof twoStep !== 'boolean') {
    return undefined;
  }
  return { email, name, accountType, twoStep, emailVerified: false };
}

/** Discovery documents and key sets may be read from any page, as Microsoft's are. */
const PUBLIC_CORS = { 'Access-Control-Allow-Origin': '*' };

function send(res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Cache-Control': 'no-store' }).end(body);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams(await readBody(req));
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  try {
    return JSON.parse(await readBody(req));
  } catch {
    return undefined;
  }
}

/** A failure answers 500 rather than leaving the browser waiting. */
function listener(serve: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): http.RequestListener {
  return (req, res) => {
    serve(req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else send(res, 500, 'text/plain; charset=utf-8', error instanceof Error ? error.message : String(error));
    });
  };
}

// The little of oidc-provider's API used here (it ships no type declarations).
interface OidcContext {
  status: number;
  type: string;
  body: unknown;
  oidc: {
    route: string;
    provider: { Grant: new (fields: { accountId: string; clientId: string }) => OidcGrant };
    account?: { accountId: string };
    client?: { clientId: string };
    params: Record<string, string | undefined>;
    session?: { accountId?: string };
    entities: { AuthorizationCode?: { accountId: string; scope: string; nonce?: string; acr?: string; amr?: string[] } };
  };
}

interface OidcGrant {
  jti: string;
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}

interface OidcProvider {
  Client: { prototype: { redirectUriAllowed(uri: string): boolean; postLogoutRedirectUriAllowed(uri: string): boolean } };
  IdToken: { validate(token: string, client: { clientId: string }): Promise<unknown> };
  on(event: 'authorization.success', listener: (ctx: OidcContext, out: Record<string, unknown>) => void): void;
  use(middleware: (ctx: OidcContext, next: () => Promise<void>) => Promise<void>): void;
  callback(): http.RequestListener;
  interactionDetails(req: http.IncomingMessage, res: http.ServerResponse): Promise<{ uid: string; params: Record<string, unknown> }>;
  interactionFinished(req: http.IncomingMessage, res: http.ServerResponse, result: object, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
}

interface OidcProviderModule {
  default: new (issuer: string, configuration: object) => OidcProvider;
  interactionPolicy: {
    base(): { add(prompt: unknown): void };
    Prompt: new (options: { name: string; requestable: boolean }) => unknown;
  };
}
