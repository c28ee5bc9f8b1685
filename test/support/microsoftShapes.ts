/**
 * The claim sets Microsoft's tokens have, as its documentation shows them, so every token our stand-ins mint
 * is held to them and cannot drift back to shapes Microsoft never issues:
 * - v2.0 ID tokens: https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference (its v2.0
 *   sample: a personal account, exp = iat + 86,700), work accounts as the platform issues them (65 minutes),
 *   with the optional claims `email` and `xms_edov`;
 * - v1.0 access tokens: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference.
 * - App-only access tokens, v1.0 and v2.0 (a service principal's own, with the client credentials grant): the
 *   same reference's claims for each version (v1.0: `appid`, `appidacr`, `idp`; v2.0: `azp`, `azpacr`), without
 *   the claims of a person (`scp`, `name`, `amr`, `unique_name`, `preferred_username`), with the optional claim
 *   `idtyp` = `app` (https://learn.microsoft.com/entra/identity-platform/optional-claims-reference) and, for a
 *   managed identity, `xms_mirid`; `x5t` beside `kid` in a v1.0 header only
 *   (https://learn.microsoft.com/entra/identity-platform/access-tokens).
 * `nonce` is there exactly when the authorization request carried one.
 */
import type { ResourceApi } from '../../local/identity/appOnlyTokens';
import { PERSONAL_ACCOUNT_TENANT, type ServicePrincipal } from '../standins/identity';

const PERSONAL_ID_TOKEN = ['ver', 'iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'name', 'preferred_username', 'oid', 'email', 'tid', 'aio'];
const WORK_ID_TOKEN = ['aud', 'iss', 'iat', 'nbf', 'exp', 'aio', 'name', 'oid', 'preferred_username', 'rh', 'sub', 'tid', 'uti', 'ver'];
const V1_APP_ONLY_TOKEN = ['aud', 'iss', 'iat', 'nbf', 'exp', 'aio', 'appid', 'appidacr', 'idp', 'idtyp', 'oid', 'rh', 'sub', 'tid', 'uti', 'ver'];
const V2_APP_ONLY_TOKEN = ['aud', 'iss', 'iat', 'nbf', 'exp', 'aio', 'azp', 'azpacr', 'idtyp', 'oid', 'rh', 'sub', 'tid', 'uti', 'ver'];
const V1_ACCESS_TOKEN = ['aud', 'iss', 'iat', 'nbf', 'exp', 'acr', 'amr', 'appid', 'appidacr', 'name', 'oid', 'scp', 'sub', 'tid', 'unique_name', 'uti', 'ver'];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function decodeClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function decodeHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}

const sorted = (names: string[]) => [...names].sort();

function expectRs256(token: string): void {
  expect(decodeHeader(token)).toEqual({ alg: 'RS256', typ: 'JWT', kid: expect.any(String) });
}

/** A personal account's v2.0 ID token: exactly the documented claims, `acr` only after two-step verification. */
export function expectPersonalIdToken(token: string, expected: { loginHost: string; clientId: string; twoStep: boolean; nonce?: boolean }): void {
  expectRs256(token);
  const claims = decodeClaims(token);
  const names = [...PERSONAL_ID_TOKEN, ...(expected.twoStep ? ['acr'] : []), ...(expected.nonce ? ['nonce'] : [])];
  expect(sorted(Object.keys(claims))).toEqual(sorted(names));
  expect(claims).toMatchObject({
    ver: '2.0',
    iss: `${expected.loginHost}/${PERSONAL_ACCOUNT_TENANT}/v2.0`,
    aud: expected.clientId,
    tid: PERSONAL_ACCOUNT_TENANT,
    oid: expect.stringMatching(/^00000000-0000-0000-[0-9a-f]{4}-[0-9a-f]{12}$/),
    sub: expect.stringMatching(/^[\w-]{43}$/),
    ...(expected.twoStep ? { acr: 'urn:microsoft:policies:mfa' } : {}),
  });
  expect(claims.preferred_username).toBe(claims.email);
  expect(claims.nbf).toBe(claims.iat);
  expect((claims.exp as number) - (claims.iat as number)).toBe(86_700);
}

/** A work account's v2.0 ID token: exactly the documented claims, never `amr` or `acr`. */
export function expectWorkIdToken(
  token: string,
  expected: { loginHost: string; clientId: string; email: boolean; emailVerified?: boolean; nonce?: boolean },
): void {
  expectRs256(token);
  const claims = decodeClaims(token);
  const names = [
    ...WORK_ID_TOKEN,
    ...(expected.email ? ['email'] : []),
    ...(expected.emailVerified ? ['xms_edov'] : []),
    ...(expected.nonce ? ['nonce'] : []),
  ];
  expect(sorted(Object.keys(claims))).toEqual(sorted(names));
  expect(claims.tid).toEqual(expect.stringMatching(GUID));
  expect(claims.tid).not.toBe(PERSONAL_ACCOUNT_TENANT);
  expect(claims).toMatchObject({
    ver: '2.0',
    iss: `${expected.loginHost}/${claims.tid}/v2.0`,
    aud: expected.clientId,
    oid: expect.stringMatching(GUID),
    sub: expect.stringMatching(/^[\w-]{43}$/),
    rh: expect.stringMatching(/^0\.A[\w-]+\.$/),
    uti: expect.stringMatching(/^[\w-]{22}$/),
    ...(expected.emailVerified ? { xms_edov: true } : {}),
  });
  expect(claims.nbf).toBe(claims.iat);
  expect((claims.exp as number) - (claims.iat as number)).toBe(3_900);
}

/** A v1.0 access token: exactly the documented claims; `amr` has `mfa` after multifactor sign-in. */
export function expectV1AccessToken(token: string, expected: { audience: string; clientId: string; mfa: boolean }): void {
  expectRs256(token);
  const claims = decodeClaims(token);
  expect(sorted(Object.keys(claims))).toEqual(sorted(V1_ACCESS_TOKEN));
  expect(claims).toMatchObject({
    ver: '1.0',
    iss: `https://sts.windows.net/${claims.tid}/`,
    aud: expected.audience,
    appid: expected.clientId,
    appidacr: '0',
    acr: '1',
    amr: expected.mfa ? ['pwd', 'mfa'] : ['pwd'],
    scp: expect.any(String),
    tid: expect.stringMatching(GUID),
    oid: expect.stringMatching(GUID),
  });
  expect(claims.unique_name).toEqual(expect.stringContaining('@'));
  expect(claims.nbf).toBe(claims.iat);
}

/**
 * An app-only access token `principal` got for `api`: exactly the documented claims of its version, naming the
 * service principal (`oid` and `sub`), its application and tenant, and no person.
 */
export function expectAppOnlyAccessToken(
  token: string,
  expected: { version: '1.0' | '2.0'; api: ResourceApi; principal: ServicePrincipal; loginHost: string; credential?: 'assertion' | 'secret' },
): void {
  const { version, api, principal } = expected;
  const v1 = version === '1.0';
  expect(decodeHeader(token)).toEqual({ alg: 'RS256', typ: 'JWT', kid: expect.any(String), ...(v1 ? { x5t: decodeHeader(token).kid } : {}) });
  const claims = decodeClaims(token);
  const names = [...(v1 ? V1_APP_ONLY_TOKEN : V2_APP_ONLY_TOKEN), ...(principal.managedIdentityResourceId ? ['xms_mirid'] : [])];
  expect(sorted(Object.keys(claims))).toEqual(sorted(names));
  const iss = v1 ? `https://sts.windows.net/${principal.tenantId}/` : `${expected.loginHost}/${principal.tenantId}/v2.0`;
  const clientAuthentication = expected.credential === 'secret' ? '1' : '2';
  expect(claims).toMatchObject({
    ver: version,
    iss,
    aud: v1 ? api.appIdUri : api.clientId,
    tid: principal.tenantId,
    oid: principal.objectId,
    sub: principal.objectId,
    idtyp: 'app',
    ...(v1 ? { appid: principal.appId, appidacr: clientAuthentication, idp: iss } : { azp: principal.appId, azpacr: clientAuthentication }),
    uti: expect.stringMatching(/^[\w-]{22}$/),
    rh: expect.stringMatching(/^1\.A[\w-]+\.$/),
    ...(principal.managedIdentityResourceId ? { xms_mirid: principal.managedIdentityResourceId } : {}),
  });
  for (const id of [claims.tid, claims.oid, v1 ? claims.appid : claims.azp]) expect(id).toEqual(expect.stringMatching(GUID));
  expect(claims.nbf).toBe(claims.iat);
  // Between 60 and 90 minutes, as access tokens live.
  expect((claims.exp as number) - (claims.iat as number)).toBeGreaterThanOrEqual(3600);
  expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(5400);
}
