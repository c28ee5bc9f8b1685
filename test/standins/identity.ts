import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import * as jwt from 'jsonwebtoken';
import { asyncListener, isRecord, parseJson, readBody, requestTarget, sendJson } from './http';

/** The tenant every personal Microsoft account (outlook.com, hotmail.com, ...) signs in through. */
export const PERSONAL_ACCOUNT_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

/** The claims of a Microsoft identity platform v2.0 ID token that the service relies on. */
export interface IdTokenClaims {
  ver: '2.0';
  iss: string;
  aud: string;
  sub: string;
  oid: string;
  tid: string;
  email: string;
  name: string;
  preferred_username: string;
  amr: string[];
  iat: number;
  nbf: number;
  exp: number;
}

export interface MintOptions {
  issuedAt?: Date;
  /** Defaults to 3600. */
  expiresInSeconds?: number;
  /** Defaults to true: amr is ['pwd', 'mfa'] rather than ['pwd']. */
  mfa?: boolean;
  /** 'foreign' signs with a key absent from the JWKS but under the current kid, as a forger would. */
  signWith?: 'current' | 'foreign';
  /**
   * For hostile tests. 'HS256' uses the public key's PEM as the HMAC secret (the classic
   * algorithm-confusion attack); 'none' leaves the token unsigned.
   */
  algorithm?: 'RS256' | 'HS256' | 'none';
}

export interface IdentityStandInOptions {
  clientId: string;
}

export interface IdentityStandIn {
  handle: http.RequestListener;
  /** The base URL the stand-in is served under; issuers are `${url}/${tid}/v2.0`. Call before minting. */
  setLoginHost(url: string): void;
  /** A token for `clientId`; a claim overridden with `undefined` is left out. */
  mint(claims?: Partial<IdTokenClaims> & Record<string, unknown>, options?: MintOptions): string;
  /** Replaces the signing key with one under a new kid; the JWKS then lists only the new key. */
  rotateKeys(): void;
  /** While down, the JWKS answers 503. */
  setOutage(down: boolean): void;
  readonly jwksRequests: number;
}

// Matched at the end of the path so the stand-in also works mounted under another server's prefix.
// Besides tenant GUIDs the real platform serves the same keys under these aliases.
const JWKS_PATH = /\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|common|organizations|consumers)\/discovery\/v2\.0\/keys$/i;
const TOKEN_PATH = /\/token$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const DEFAULT_EMAIL = 'someone@example.com';
const TOKEN_REQUEST_SHAPE = 'expected JSON { email: string, name?: string, tid?: GUID, oid?: string, mfa?: boolean }';

interface SigningKey {
  kid: string;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
}

interface TokenRequest {
  email: string;
  name?: string;
  tid?: string;
  oid?: string;
  mfa?: boolean;
}

/** Loopback double of the Microsoft identity platform: signing keys, and ID tokens minted on demand. */
export function createIdentityStandIn(options: IdentityStandInOptions): IdentityStandIn {
  let current = newSigningKey();
  const foreign = newSigningKey();
  let loginHost: string | undefined;
  let down = false;
  let jwksRequests = 0;

  function mint(overrides: Partial<IdTokenClaims> & Record<string, unknown> = {}, mintOptions: MintOptions = {}): string {
    if (loginHost === undefined) throw new Error('Call setLoginHost(url) before minting tokens.');
    const issuedAt = Math.floor((mintOptions.issuedAt ?? new Date()).getTime() / 1000);
    const tid = overrides.tid ?? PERSONAL_ACCOUNT_TENANT;
    const email = overrides.email ?? DEFAULT_EMAIL;
    const oid = overrides.oid ?? stableGuid(email, tid);
    const claims: Record<string, unknown> = {
      ver: '2.0',
      iss: `${loginHost}/${tid}/v2.0`,
      aud: options.clientId,
      sub: pairwiseSubject(oid, options.clientId),
      oid,
      tid,
      email,
      name: email.split('@')[0],
      preferred_username: email,
      amr: mintOptions.mfa === false ? ['pwd'] : ['pwd', 'mfa'],
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + (mintOptions.expiresInSeconds ?? 3600),
      ...overrides,
    };
    for (const [name, value] of Object.entries(claims)) {
      if (value === undefined) delete claims[name];
    }
    return sign(claims, mintOptions.signWith === 'foreign' ? foreign : current, current.kid, mintOptions.algorithm);
  }

  function serveKeys(res: http.ServerResponse): void {
    jwksRequests++;
    if (down) {
      sendJson(res, 503, { error: 'temporarily_unavailable' });
      return;
    }
    const { n, e } = current.publicKey.export({ format: 'jwk' });
    sendJson(res, 200, { keys: [{ kty: 'RSA', use: 'sig', kid: current.kid, n, e }] });
  }

  async function issueToken(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const request = parseTokenRequest(parseJson(await readBody(req)));
    if (!request) {
      sendJson(res, 400, { error: TOKEN_REQUEST_SHAPE });
      return;
    }
    const { mfa, ...claims } = request;
    sendJson(res, 200, { idToken: mint(definedOnly(claims), { mfa }) });
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { pathname } = requestTarget(req);
    if (req.method === 'GET' && JWKS_PATH.test(pathname)) serveKeys(res);
    else if (req.method === 'POST' && TOKEN_PATH.test(pathname)) await issueToken(req, res);
    else sendJson(res, 404, { error: `No route for ${req.method} ${pathname}.` });
  }

  return {
    handle: asyncListener(serve),
    setLoginHost(url: string) {
      loginHost = url.replace(/\/+$/, '');
    },
    mint,
    rotateKeys() {
      current = newSigningKey();
    },
    setOutage(isDown: boolean) {
      down = isDown;
    },
    get jwksRequests() {
      return jwksRequests;
    },
  };
}

function sign(claims: Record<string, unknown>, key: SigningKey, kid: string, algorithm: MintOptions['algorithm'] = 'RS256'): string {
  // jsonwebtoken stamps its own iat unless told not to; a test that removed the claim means it.
  const noTimestamp = !('iat' in claims);
  switch (algorithm) {
    case 'RS256':
      return jwt.sign(claims, key.privateKey, { algorithm, keyid: kid, noTimestamp });
    case 'HS256': {
      const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      return jwt.sign(claims, crypto.createSecretKey(Buffer.from(publicPem)), { algorithm, keyid: kid, noTimestamp });
    }
    case 'none':
      // jsonwebtoken refuses to produce unsigned tokens, so assemble one by hand.
      return `${base64UrlJson({ alg: 'none', typ: 'JWT', kid })}.${base64UrlJson(claims)}.`;
  }
}

function newSigningKey(): SigningKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: crypto.randomBytes(20).toString('base64url'), privateKey, publicKey };
}

/** A GUID fixed by its inputs, so the same email signs in as the same person every time. */
function stableGuid(...parts: string[]): string {
  const bytes = crypto.createHash('sha256').update(parts.join('\n')).digest().subarray(0, 16);
  // Version 5 and RFC 9562 variant bits, so strict GUID validators accept it like a real oid.
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Like the real platform, `sub` differs per application and is not the oid, so code cannot confuse the two. */
function pairwiseSubject(oid: string, clientId: string): string {
  return crypto.createHash('sha256').update(`${oid}\n${clientId}`).digest('base64url');
}

function parseTokenRequest(body: unknown): TokenRequest | undefined {
  if (!isRecord(body)) return undefined;
  const { email, name, tid, oid, mfa } = body;
  if (typeof email !== 'string' || !email.includes('@')) return undefined;
  if (name !== undefined && typeof name !== 'string') return undefined;
  if (tid !== undefined && !(typeof tid === 'string' && GUID.test(tid))) return undefined;
  if (oid !== undefined && !(typeof oid === 'string' && oid !== '')) return undefined;
  if (mfa !== undefined && typeof mfa !== 'boolean') return undefined;
  return { email, name, tid, oid, mfa };
}

/** mint() reads an explicit undefined as "leave the claim out", so only the fields given may be passed on. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
