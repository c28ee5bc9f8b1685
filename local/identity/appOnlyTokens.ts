/**
 * App-only access tokens of the Microsoft identity platform: what an application (an app registration's service
 * principal, or a managed identity) gets for itself with the client credentials grant, as an Azure Pipelines job
 * gets one through a workload identity federation service connection with
 * `az account get-access-token --resource <App ID URI>`. Shaped here for the development identity behind
 * `npm start` and the tests' identity stand-in alike, after Microsoft's documentation:
 * - Claims: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference. v1.0 tokens: `iss`
 *   https://sts.windows.net/{tid}/, the client as `appid` and how it proved itself as `appidacr`, `idp` (the
 *   issuer, for an application of the tenant); v2.0 tokens: `iss` {host}/{tid}/v2.0, `azp` and `azpacr`. `aud` is
 *   the API's App ID URI as requested (v1.0) or always its client ID (v2.0); `oid` and `sub` the service
 *   principal's object ID; no `scp`, `name` or `amr` (no person signed in); `roles` only when the API's app roles
 *   were granted to the application (none here); `uti` names the token.
 * - `idtyp`: https://learn.microsoft.com/entra/identity-platform/optional-claims-reference ("only in app-only
 *   access tokens", `app`), present when the API's registration asks for it as an optional claim.
 * - `appidacr`/`azpacr`: `2` for a certificate or a client assertion (a federated credential, as Azure Pipelines'
 *   and managed identities' are), `1` for a client secret.
 * - `xms_mirid`: a managed identity's Azure resource ID, which tokens of managed identities carry.
 * - Header: v1.0 tokens carry `x5t` beside `kid`, v2.0 only `kid`
 *   (https://learn.microsoft.com/entra/identity-platform/access-tokens); keys at `{host}/{tid}/discovery/keys`
 *   (v1.0) and `{host}/{tid}/discovery/v2.0/keys` (v2.0).
 * Lifetime and the opaque claims (`aio`, `rh`) as on the platform's delegated access tokens
 * (./microsoftTokens).
 */
import * as crypto from 'node:crypto';
import { ACCESS_TOKEN_LIFETIME_SECONDS, GUID, signRs256, stableGuid, type SigningKey } from './microsoftTokens';

export type AccessTokenVersion = '1.0' | '2.0';
export const ACCESS_TOKEN_VERSIONS: readonly AccessTokenVersion[] = ['1.0', '2.0'];

/** A service principal: the identity of an application, or of a managed identity, in one tenant. */
export interface ServicePrincipal {
  tenantId: string;
  objectId: string;
  /** The application (client) ID it signs in with: `appid` (v1.0), `azp` (v2.0). */
  appId: string;
  /** A managed identity's Azure resource ID (`xms_mirid`); absent for an app registration's service principal. */
  managedIdentityResourceId?: string;
}

/** The API the token is for: its registration's App ID URI and application (client) ID. */
export interface ResourceApi {
  appIdUri: string;
  clientId: string;
}

export interface AppOnlyTokenOptions {
  api: ResourceApi;
  /** The API registration's `requestedAccessTokenVersion`: null or 1 give v1.0 tokens, 2 v2.0. */
  version: AccessTokenVersion;
  loginHost: string;
  issuedAt: number;
  /** How the application proved itself: a certificate or a client assertion (2), or a client secret (1). Default 2. */
  credential?: 'assertion' | 'secret';
}

/**
 * A service principal of `tenantId` fixed by its object ID (the same application every time); a managed
 * identity's when `managedIdentityName` is given (a user-assigned identity of a development subscription).
 */
export function servicePrincipalFor(tenantId: string, objectId: string, managedIdentityName?: string): ServicePrincipal {
  const principal = { tenantId: tenantId.toLowerCase(), objectId: objectId.toLowerCase(), appId: stableGuid('application', tenantId.toLowerCase(), objectId.toLowerCase()) };
  if (managedIdentityName === undefined) return principal;
  const subscription = stableGuid('subscription', principal.tenantId);
  return {
    ...principal,
    managedIdentityResourceId: `/subscriptions/${subscription}/resourcegroups/publishing/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${managedIdentityName}`,
  };
}

/** The claims of the app-only access token `principal` gets for `options.api`, in the order real tokens show them, and no others. */
export function appOnlyAccessTokenClaims(principal: ServicePrincipal, options: AppOnlyTokenOptions): Record<string, unknown> {
  const { api, version, loginHost, issuedAt } = options;
  const v1 = version === '1.0';
  const iss = v1 ? `https://sts.windows.net/${principal.tenantId}/` : `${loginHost}/${principal.tenantId}/v2.0`;
  const clientAuthentication = options.credential === 'secret' ? '1' : '2';
  return {
    aud: v1 ? api.appIdUri : api.clientId,
    iss,
    iat: issuedAt,
    nbf: issuedAt,
    exp: issuedAt + ACCESS_TOKEN_LIFETIME_SECONDS,
    aio: crypto.randomBytes(40).toString('base64'),
    ...(v1 ? { appid: principal.appId, appidacr: clientAuthentication, idp: iss } : { azp: principal.appId, azpacr: clientAuthentication }),
    idtyp: 'app',
    oid: principal.objectId,
    rh: `1.A${crypto.randomBytes(42).toString('base64url')}.`,
    sub: principal.objectId,
    tid: principal.tenantId,
    uti: crypto.randomBytes(16).toString('base64url'),
    ver: version,
    ...(principal.managedIdentityResourceId === undefined ? {} : { xms_mirid: principal.managedIdentityResourceId }),
  };
}

/** Signs as the platform does: RS256, with `x5t` beside `kid` in a v1.0 token's header. */
export const signAppOnlyToken = (claims: Record<string, unknown>, key: SigningKey): string => signRs256(claims, key, { x5t: claims.ver === '1.0' });

/** What `az account get-access-token` answers (as JSON), so a script reads `.accessToken` as it would there. */
export function azAccessTokenAnswer(accessToken: string, claims: Record<string, unknown>): Record<string, unknown> {
  return { accessToken, expires_on: claims.exp, tenant: claims.tid, tokenType: 'Bearer' };
}

/** What a script asks the development identity for: `{ tenantId?, objectId?, version? }`, GUIDs and "1.0" or "2.0". */
export interface WorkloadTokenRequest {
  tenantId?: string;
  objectId?: string;
  version?: AccessTokenVersion;
}

export const WORKLOAD_TOKEN_REQUEST_SHAPE = 'POST a JSON object { "tenantId"?: GUID, "objectId"?: GUID (the service principal), "version"?: "1.0" | "2.0" }';

/** The request, or undefined when it is not one. */
export function workloadTokenRequest(body: unknown): WorkloadTokenRequest | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { tenantId, objectId, version, ...rest } = body as Record<string, unknown>;
  const optionalGuid = (value: unknown) => value === undefined || (typeof value === 'string' && GUID.test(value));
  if (Object.keys(rest).length > 0 || !optionalGuid(tenantId) || !optionalGuid(objectId)) return undefined;
  if (version !== undefined && !ACCESS_TOKEN_VERSIONS.includes(version as AccessTokenVersion)) return undefined;
  return { tenantId: tenantId as string | undefined, objectId: objectId as string | undefined, version: version as AccessTokenVersion | undefined };
}
