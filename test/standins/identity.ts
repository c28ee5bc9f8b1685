import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import * as jwt from 'jsonwebtoken';
import {
  accessTokenClaims,
  idTokenClaims,
  keySet,
  newSigningKey,
  PERSONAL_ACCOUNT_TENANT,
  personFor,
  signRs256,
  type MicrosoftPerson,
  type SigningKey,
} from '../../local/identity/microsoftTokens';
import {
  appOnlyAccessTokenClaims,
  servicePrincipalFor,
  type AccessTokenVersion,
  type ResourceApi,
  type ServicePrincipal,
} from '../../local/identity/appOnlyTokens';
import { asyncListener, requestTarget, sendJson } from '../../local/standins/http';
import { testKeyPair } from './keyPairs';

export { PERSONAL_ACCOUNT_TENANT };
export type { ServicePrincipal };

/** The claims a test names to pick the person; any other claim given replaces the minted one. */
export interface PersonClaims {
  email?: string;
  oid?: string;
  tid?: string;
  name?: string;
}

interface SigningOptions {
  issuedAt?: Date;
  /** 'foreign' signs with a key absent from the key sets but under the current kid, as a forger would. */
  signWith?: 'current' | 'foreign';
  /**
   * For hostile tests. 'HS256' uses the public key's PEM as the HMAC secret (the classic
   * algorithm-confusion attack); 'none' leaves the token unsigned.
   */
  algorithm?: 'RS256' | 'HS256' | 'none';
}

export interface MintOptions extends SigningOptions {
  /** Replaces the lifetime Microsoft gives the kind of account (exp − iat). */
  expiresInSeconds?: number;
  /** Personal accounts: whether two-step verification happened (the `acr` claim). Defaults to true. */
  mfa?: boolean;
}

export interface AccessTokenMintOptions extends SigningOptions {
  /** The API the token is for (MICROSOFT_MFA_API_AUDIENCE). */
  audience: string;
  /** Whether the sign-in used a second factor (`amr` has `mfa`). Defaults to true. */
  mfa?: boolean;
}

export interface AppOnlyTokenMintOptions extends SigningOptions {
  /** The API the token is for: `aud` is its App ID URI (v1.0) or client ID (v2.0). */
  api: ResourceApi;
  /** Default 1.0, what an API registration gets unless it asks for v2.0 tokens. */
  version?: AccessTokenVersion;
  /** How the application proved itself: default a client assertion (a federated credential), or a client secret. */
  credential?: 'assertion' | 'secret';
  /** Claims to replace or add; one given as `undefined` is left out. */
  claims?: Record<string, unknown>;
}

export interface IdentityStandInOptions {
  clientId: string;
}

export interface IdentityStandIn {
  handle: http.RequestListener;
  /** The base URL the stand-in is served under; issuers are `${url}/${tid}/v2.0`. Call before minting. */
  setLoginHost(url: string): void;
  /**
   * A v2.0 ID token for `clientId`, shaped as Microsoft issues it for the person the claims name (a personal
   * account unless `tid` names another tenant). Other claims given replace the minted ones; one given as
   * `undefined` is left out.
   */
  mint(claims?: PersonClaims & Record<string, unknown>, options?: MintOptions): string;
  /** A v1.0 access token for `options.audience`, requested by `clientId`, shaped and overridden the same way. */
  mintAccessToken(claims: PersonClaims & Record<string, unknown>, options: AccessTokenMintOptions): string;
  /**
   * A service principal of a tenant the platform knows (a new one unless `tenantId` is given): an app
   * registration's, or a managed identity's when `managedIdentity` names one. Each call makes another.
   */
  servicePrincipal(options?: { tenantId?: string; managedIdentity?: string }): ServicePrincipal;
  /** The app-only access token `principal` gets for `options.api` (`az account get-access-token --resource`). */
  mintAppOnlyToken(principal: ServicePrincipal, options: AppOnlyTokenMintOptions): string;
  /**
   * A new tenant the platform knows, as an attacker can learn real tenants' ids (each domain's discovery
   * document names its tenant). Minting a token signed with the platform's key also makes its tenant known;
   * the key sets of any other tenant answer as Microsoft's do for one that does not exist.
   */
  createTenant(): string;
  /** Replaces the signing key with one under a new kid; the key sets then list only the new key. */
  rotateKeys(): void;
  /** While down, the key sets answer 503. */
  setOutage(down: boolean): void;
  readonly jwksRequests: number;
}

// Matched at the end of the path so the stand-in also works mounted under another server's prefix. Besides
// tenant GUIDs the real platform serves the same keys under these aliases, at the v2.0 and the v1.0 path.
const KEYS_PATH = /\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|common|organizations|consumers)\/discovery\/(v2\.0\/)?keys$/i;
const ALIASES = ['common', 'organizations', 'consumers'];

const DEFAULT_EMAIL = 'someone@example.com';
const PERSON_CLAIMS = ['email', 'oid', 'tid', 'name'];

/** Loopback double of the Microsoft identity platform for the tests: its key sets, and tokens minted on demand. */
export function createIdentityStandIn(options: IdentityStandInOptions): IdentityStandIn {
  let current = newSigningKey(testKeyPair());
  const foreign = newSigningKey(testKeyPair());
  let loginHost: string | undefined;
  let down = false;
  let jwksRequests = 0;
  const tenants = new Set([PERSONAL_ACCOUNT_TENANT]);
  const createTenant = () => {
    const tid = crypto.randomUUID();
    tenants.add(tid);
    return tid;
  };

  function personOf(claims: PersonClaims): MicrosoftPerson {
    const kind = claims.tid === undefined || claims.tid === PERSONAL_ACCOUNT_TENANT ? 'personal' : 'work';
    const person = personFor({ email: claims.email ?? DEFAULT_EMAIL, name: claims.name, kind });
    return { ...person, tid: claims.tid ?? person.tid, oid: claims.oid ?? person.oid };
  }

  function issue(minted: Record<string, unknown>, overrides: Record<string, unknown>, signing: SigningOptions, header: { x5t?: boolean } = {}): string {
    const claims = { ...minted };
    for (const [name, value] of Object.entries(overrides)) {
      // The claims that pick the person are not added to a token type that does not carry them.
      if (!PERSON_CLAIMS.includes(name) || name in minted) claims[name] = value;
    }
    for (const [name, value] of Object.entries(claims)) {
      if (value === undefined) delete claims[name];
    }
    // Only a tenant that exists gets tokens the platform signed; a forger's naming one makes it no tenant.
    const forged = signing.signWith === 'foreign' || (signing.algorithm ?? 'RS256') !== 'RS256';
    if (!forged && typeof claims.tid === 'string') tenants.add(claims.tid.toLowerCase());
    return sign(claims, signing.signWith === 'foreign' ? foreign : current, { kid: current.kid, ...header }, signing.algorithm);
  }

  function mint(overrides: PersonClaims & Record<string, unknown> = {}, mintOptions: MintOptions = {}): string {
    if (loginHost === undefined) throw new Error('Call setLoginHost(url) before minting tokens.');
    const issuedAt = Math.floor((mintOptions.issuedAt ?? new Date()).getTime() / 1000);
    const minted = idTokenClaims(personOf(overrides), { loginHost, clientId: options.clientId, issuedAt, twoStep: mintOptions.mfa !== false });
    if (mintOptions.expiresInSeconds !== undefined) minted.exp = issuedAt + mintOptions.expiresInSeconds;
    return issue(minted, overrides, mintOptions);
  }

  function mintAccessToken(overrides: PersonClaims & Record<string, unknown>, mintOptions: AccessTokenMintOptions): string {
    const issuedAt = Math.floor((mintOptions.issuedAt ?? new Date()).getTime() / 1000);
    const minted = accessTokenClaims(personOf(overrides), {
      audience: mintOptions.audience,
      clientId: options.clientId,
      issuedAt,
      amr: mintOptions.mfa === false ? ['pwd'] : ['pwd', 'mfa'],
      scp: 'user_impersonation',
    });
    return issue(minted, overrides, mintOptions);
  }

  function mintAppOnlyToken(principal: ServicePrincipal, mintOptions: AppOnlyTokenMintOptions): string {
    if (loginHost === undefined) throw new Error('Call setLoginHost(url) before minting tokens.');
    const issuedAt = Math.floor((mintOptions.issuedAt ?? new Date()).getTime() / 1000);
    const version = mintOptions.version ?? '1.0';
    const minted = appOnlyAccessTokenClaims(principal, { api: mintOptions.api, version, loginHost, issuedAt, credential: mintOptions.credential });
    return issue(minted, mintOptions.claims ?? {}, mintOptions, { x5t: version === '1.0' });
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { pathname } = requestTarget(req);
    if (req.method !== 'GET' || !KEYS_PATH.test(pathname)) {
      sendJson(res, 404, { error: `No route for ${req.method} ${pathname}.` });
      return;
    }
    jwksRequests++;
    const tenant = KEYS_PATH.exec(pathname)![1].toLowerCase();
    if (down) sendJson(res, 503, { error: 'temporarily_unavailable' });
    else if (ALIASES.includes(tenant) || tenants.has(tenant)) sendJson(res, 200, keySet(current));
    else sendJson(res, 400, tenantNotFound(tenant, loginHost ?? ''));
  }

  return {
    handle: asyncListener(serve),
    setLoginHost(url: string) {
      loginHost = url.replace(/\/+$/, '');
    },
    mint,
    mintAccessToken,
    servicePrincipal(principalOptions = {}) {
      const tenantId = principalOptions.tenantId ?? createTenant();
      tenants.add(tenantId.toLowerCase());
      return servicePrincipalFor(tenantId, crypto.randomUUID(), principalOptions.managedIdentity);
    },
    mintAppOnlyToken,
    createTenant,
    rotateKeys() {
      current = newSigningKey(testKeyPair());
    },
    setOutage(isDown: boolean) {
      down = isDown;
    },
    get jwksRequests() {
      return jwksRequests;
    },
  };
}

/**
 * What the platform answers for a tenant that does not exist: 400 and its error JSON (AADSTS90002), as MSAL and
 * azure-cli users report it for a GUID no tenant has (Azure/azure-cli#22145, #24376: `{"error":"invalid_tenant",
 * "error_description":"AADSTS90002: Tenant '…' not found. …","error_codes":[90002],…}`; mvertopoulos/vue-msal#24
 * shows the status, 400 Bad Request). Those reports are of the tenant's discovery document; its key sets answer
 * from the same tenant lookup.
 */
function tenantNotFound(tenant: string, loginHost: string): Record<string, unknown> {
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const traceId = crypto.randomUUID();
  const correlationId = crypto.randomUUID();
  return {
    error: 'invalid_tenant',
    error_description:
      `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. ` +
      'Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.' +
      `\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [90002],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${loginHost}/error?code=90002`,
  };
}

function sign(claims: Record<string, unknown>, key: SigningKey, header: { kid: string; x5t?: boolean }, algorithm: SigningOptions['algorithm'] = 'RS256'): string {
  const { kid } = header;
  switch (algorithm) {
    case 'RS256':
      return signRs256(claims, { ...key, kid }, { x5t: header.x5t });
    case 'HS256': {
      const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      return jwt.sign(claims, crypto.createSecretKey(Buffer.from(publicPem)), { algorithm, keyid: kid, noTimestamp: !('iat' in claims) });
    }
    case 'none':
      // jsonwebtoken refuses to produce unsigned tokens, so assemble one by hand.
      return `${base64UrlJson({ alg: 'none', typ: 'JWT', kid })}.${base64UrlJson(claims)}.`;
  }
}

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
