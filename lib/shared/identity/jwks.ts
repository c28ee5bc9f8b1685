import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { clock } from '../clock';
import { Problem } from '../problems';

interface KeySet {
  keys: Map<string, KeyObject>;
  fetchedAt: number;
}

/**
 * Microsoft and GitHub rotate keys every few weeks and publish the next one beside the current one; a day-old
 * copy is still good, and an unknown kid refreshes it.
 */
const MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** An attacker can send tokens with made-up kids; refresh at most this often per key set. */
const MIN_REFRESH_INTERVAL_MS = 60 * 1000;
const MAX_KEY_SETS = 1000;
const FETCH_TIMEOUT_MS = 5000;

const keySets = new Map<string, KeySet>();
const inflight = new Map<string, Promise<KeySet>>();

async function download(url: string): Promise<KeySet> {
  const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`JWKS ${url} answered ${response.status}`);
  const body = (await response.json()) as { keys?: Array<JsonWebKey & { kid?: string; kty?: string; use?: string }> };
  const keys = new Map<string, KeyObject>();
  for (const jwk of body.keys ?? []) {
    if (jwk.kty !== 'RSA' || !jwk.kid || (jwk.use && jwk.use !== 'sig')) continue;
    keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
  }
  return { keys, fetchedAt: clock.now().getTime() };
}

async function refresh(url: string): Promise<KeySet> {
  let pending = inflight.get(url);
  if (!pending) {
    pending = download(url).finally(() => inflight.delete(url));
    inflight.set(url, pending);
  }
  const fresh = await pending;
  if (keySets.size >= MAX_KEY_SETS && !keySets.has(url)) keySets.delete(keySets.keys().next().value as string);
  keySets.set(url, fresh);
  return fresh;
}

/**
 * The signing key `kid` from the key set at `url`: fetched once, cached, and fetched again when it is stale
 * or does not know the kid. With no usable copy and the issuer unreachable, it fails closed with the
 * problem `unavailable` makes (each issuer's callers say what cannot be checked).
 */
export async function signingKey(url: string, kid: string, unavailable: () => Problem): Promise<KeyObject | undefined> {
  const cached = keySets.get(url);
  // A copy from the future (the clock was set back since) counts as stale.
  const age = cached ? clock.now().getTime() - cached.fetchedAt : Infinity;
  if (cached && age >= 0 && age < MAX_AGE_MS && (cached.keys.has(kid) || age < MIN_REFRESH_INTERVAL_MS)) {
    return cached.keys.get(kid);
  }
  try {
    return (await refresh(url)).keys.get(kid);
  } catch {
    if (cached) return cached.keys.get(kid);
    throw unavailable();
  }
}
