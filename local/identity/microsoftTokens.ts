/**
 * The tokens of the Microsoft identity platform, shaped after Microsoft's own documentation and samples, for
 * the development identity behind `npm start` and the identity stand-in of the tests alike, so neither can
 * mint a token Microsoft never issues:
 * - ID tokens (v2.0): https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference ("v2.0
 *   token" sample: ver, iss, sub, aud, exp = iat + 86,700, iat, nbf, name, preferred_username, oid, tid,
 *   nonce, aio) and the optional claims `email` and `xms_edov`
 *   (https://learn.microsoft.com/entra/identity-platform/optional-claims-reference). v2.0 ID tokens carry no
 *   `amr`; a personal account's carries `acr` only when `acr_values=urn:microsoft:policies:mfa` was asked for
 *   and two-step verification happened; a work account's never carries `acr`.
 * - Access tokens (v1.0): https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
 *   (`iss` https://sts.windows.net/{tid}/, `appid`, `appidacr`, `unique_name`; `amr` and `acr` exist only in
 *   v1.0 tokens).
 * - Keys: `{host}/{tenant}/discovery/v2.0/keys` and the v1.0 set `{host}/{tenant}/discovery/keys`, RSA keys
 *   used for RS256.
 */
import * as crypto from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import { newRsaKeyPair, type RsaKeyPair } from '../standins/rsaKeyPair';

/** The tenant every personal Microsoft account (outlook.com, hotmail.com, ...) signs in through. */
export const PERSONAL_ACCOUNT_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
/** The `acr_values` a relying party asks with, and the `acr` a personal account's ID token then carries. */
export const MFA_POLICY = 'urn:microsoft:policies:mfa';

/** The documented sample's lifetime of a personal account's ID token (exp − iat). */
export const PERSONAL_ID_TOKEN_LIFETIME_SECONDS = 86_700;
/** A work account's ID token lives 65 minutes (60 plus the platform's 5 minutes of slack). */
export const WORK_ID_TOKEN_LIFETIME_SECONDS = 3_900;
/** Access tokens live between 60 and 90 minutes, 75 on average; the average it is. */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 4_500;

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SigningKey {
  kid: string;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
}

export function newSigningKey({ privateKey, publicKey }: RsaKeyPair = newRsaKeyPair()): SigningKey {
  return { kid: crypto.randomBytes(20).toString('base64url'), privateKey, publicKey };
}

/** A key set as the platform publishes it (without the certificate chain, which nobody here reads). */
export function keySet(key: SigningKey): { keys: Array<Record<string, unknown>> } {
  const { n, e } = key.publicKey.export({ format: 'jwk' });
  return { keys: [{ kty: 'RSA', use: 'sig', kid: key.kid, n, e }] };
}

/** `x5t`: the key's thumbprint beside its `kid`, as v1.0 access tokens carry it (the platform's kid is that thumbprint). */
export function signRs256(claims: Record<string, unknown>, key: SigningKey, { x5t = false } = {}): string {
  // jsonwebtoken stamps an iat of its own on claims without one (and drops the claim with noTimestamp).
  const noTimestamp = !('iat' in claims);
  const header = { typ: 'JWT', alg: 'RS256', ...(x5t ? { x5t: key.kid } : {}) } as jwt.JwtHeader;
  return jwt.sign(claims, key.privateKey, { algorithm: 'RS256', keyid: key.kid, noTimestamp, header });
}

/**
 * The claims of `token` if it is an ID token `key` signed for `clientId` and issued by the tenant it names
 * (`{loginHost}/{tid}/v2.0`: Microsoft's issuers are per tenant); throws otherwise. An expired token passes, as
 * an `id_token_hint` may be one (OpenID Connect RP-Initiated Logout 1.0, section 2).
 */
export function verifyIdTokenHint(token: string, key: SigningKey, expected: { loginHost: string; clientId: string }): jwt.JwtPayload {
  const claims = jwt.verify(token, key.publicKey, { algorithms: ['RS256'], audience: expected.clientId, ignoreExpiration: true });
  if (typeof claims !== 'object' || typeof claims.tid !== 'string' || !GUID.test(claims.tid) || claims.iss !== `${expected.loginHost}/${claims.tid}/v2.0`) {
    throw new Error(`the ID token was not issued by a tenant of ${expected.loginHost}`);
  }
  return claims;
}

/** A Microsoft account as its tokens describe it. */
export interface MicrosoftPerson {
  tid: string;
  oid: string;
  name: string;
  preferredUsername: string;
  /** Always there for a personal account; a work account's user may have none. */
  email?: string;
  /** Work accounts: the tenant vouches for the email address (optional claim `xms_edov`). */
  emailVerifiedByTenant?: boolean;
}

export const isPersonal = (person: Pick<MicrosoftPerson, 'tid'>): boolean => person.tid === PERSONAL_ACCOUNT_TENANT;

/**
 * The same person every time for the same email address and kind of account: a personal account in the
 * consumer tenant with an oid of the form 00000000-0000-0000-xxxx-xxxxxxxxxxxx (as personal accounts' oids
 * are), a work account in a tenant of its own per email domain.
 */
export function personFor(details: { email: string; name?: string; kind: 'personal' | 'work'; emailVerifiedByTenant?: boolean }): MicrosoftPerson {
  const email = details.email.trim();
  const name = details.name?.trim() || email.split('@')[0];
  if (details.kind === 'personal') {
    const hex = digest('personal', email.toLowerCase()).toString('hex');
    return { tid: PERSONAL_ACCOUNT_TENANT, oid: `00000000-0000-0000-${hex.slice(0, 4)}-${hex.slice(4, 16)}`, name, preferredUsername: email, email };
  }
  const tid = stableGuid('tenant', email.slice(email.lastIndexOf('@') + 1).toLowerCase());
  return {
    tid,
    oid: stableGuid(tid, email.toLowerCase()),
    name,
    preferredUsername: email,
    email,
    ...(details.emailVerifiedByTenant ? { emailVerifiedByTenant: true } : {}),
  };
}

export interface IdTokenOptions {
  /** The login host the tenants' issuers live under, e.g. https://login.microsoftonline.com. */
  loginHost: string;
  clientId: string;
  issuedAt: number;
  /** Personal accounts: two-step verification happened, so `acr` shows it. */
  twoStep: boolean;
  /** Echoed when the authorization request carried one. */
  nonce?: string;
}

/** The claims of a v2.0 ID token for `person`, in the documented order, and no others. */
export function idTokenClaims(person: MicrosoftPerson, options: IdTokenOptions): Record<string, unknown> {
  const { loginHost, clientId, issuedAt, nonce } = options;
  const iss = `${loginHost}/${person.tid}/v2.0`;
  const sub = pairwiseSubject(person.oid, clientId);
  if (isPersonal(person)) {
    return {
      ver: '2.0',
      iss,
      sub,
      aud: clientId,
      exp: issuedAt + PERSONAL_ID_TOKEN_LIFETIME_SECONDS,
      iat: issuedAt,
      nbf: issuedAt,
      name: person.name,
      preferred_username: person.preferredUsername,
      oid: person.oid,
      email: person.email,
      tid: person.tid,
      ...(nonce === undefined ? {} : { nonce }),
      aio: opaque(),
      ...(options.twoStep ? { acr: MFA_POLICY } : {}),
    };
  }
  return {
    aud: clientId,
    iss,
    iat: issuedAt,
    nbf: issuedAt,
    exp: issuedAt + WORK_ID_TOKEN_LIFETIME_SECONDS,
    aio: opaque(),
    ...(person.email === undefined ? {} : { email: person.email }),
    name: person.name,
    ...(nonce === undefined ? {} : { nonce }),
    oid: person.oid,
    preferred_username: person.preferredUsername,
    rh: `0.A${crypto.randomBytes(48).toString('base64url')}.`,
    sub,
    tid: person.tid,
    uti: crypto.randomBytes(16).toString('base64url'),
    ver: '2.0',
    ...(person.emailVerifiedByTenant ? { xms_edov: true } : {}),
  };
}

export interface AccessTokenOptions {
  /** The API the token is for (its App ID URI or application ID), as requested. */
  audience: string;
  /** The application that asked for it (the SPA's client ID). */
  clientId: string;
  issuedAt: number;
  /** How the person signed in, e.g. ['pwd', 'mfa']. */
  amr: string[];
  /** The delegated permissions granted, space-separated. */
  scp: string;
}

/** The claims of a v1.0 access token for `person`, in the documented order, and no others. */
export function accessTokenClaims(person: MicrosoftPerson, options: AccessTokenOptions): Record<string, unknown> {
  const { audience, clientId, issuedAt } = options;
  return {
    aud: audience,
    iss: `https://sts.windows.net/${person.tid}/`,
    iat: issuedAt,
    nbf: issuedAt,
    exp: issuedAt + ACCESS_TOKEN_LIFETIME_SECONDS,
    acr: '1',
    amr: options.amr,
    appid: clientId,
    // 0: a public client (a single-page app) with no secret or certificate.
    appidacr: '0',
    name: person.name,
    oid: person.oid,
    scp: options.scp,
    // Pairwise per resource, like an ID token's per application.
    sub: pairwiseSubject(person.oid, audience),
    tid: person.tid,
    unique_name: person.preferredUsername,
    uti: crypto.randomBytes(16).toString('base64url'),
    ver: '1.0',
  };
}

/** What the token endpoint answers beside the tokens, so MSAL can key its account cache: `uid.utid`. */
export function clientInfo(person: Pick<MicrosoftPerson, 'tid' | 'oid'>): string {
  return Buffer.from(JSON.stringify({ uid: person.oid, utid: person.tid })).toString('base64url');
}

function digest(...parts: string[]): Buffer {
  return crypto.createHash('sha256').update(parts.join('\n')).digest();
}

/** A GUID fixed by its inputs, so the same email signs in as the same person every time. */
export function stableGuid(...parts: string[]): string {
  const bytes = digest(...parts).subarray(0, 16);
  // Version 5 and RFC 9562 variant bits, so strict GUID validators accept it like a real oid.
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Like the real platform, `sub` differs per application and is not the oid, so code cannot confuse the two. */
function pairwiseSubject(oid: string, audience: string): string {
  return digest(oid, audience).toString('base64url');
}

/** An opaque internal claim (`aio`): meaningless to relying parties, different every time. */
function opaque(): string {
  return crypto.randomBytes(72).toString('base64').replace(/\+/g, '!').replace(/\//g, '*').replace(/=+$/, '');
}
