import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { clock } from '../clock';
import type { Problem } from '../problems';

/**
 * What the cache knows of one key set URL. Anyone can send a token naming any tenant, so what strangers make
 * it fetch is bounded: a token is checked as far as it can be without keys before it gets here (its callers),
 * a key set is fetched again at most once a minute whatever the last answer was, strangers' fetches are
 * rationed, and the key sets that have verified a token are kept apart from those that verified nothing.
 */
interface KeySet {
  keys: Map<string, KeyObject>;
  /** When the issuer last answered, with keys or that it has none (an unknown tenant); undefined: never. */
  answeredAt: number | undefined;
  /** When the last fetch started, whatever came of it. */
  triedAt: number;
}

/**
 * Microsoft and GitHub rotate keys every few weeks and publish the next one beside the current one; a day-old
 * copy is still good, and an unknown kid refreshes it.
 */
const MAX_AGE_MS = 24 * 60 * 60 * 1000;
/**
 * Made-up kids, tenants that do not exist and an issuer that is down all get the same answer as last time
 * until a minute has passed since the last fetch of that key set.
 */
const MIN_REFETCH_INTERVAL_MS = 60 * 1000;
/**
 * First fetches of key sets that have verified nothing yet (a new tenant's first sign-in, or a forged token
 * naming some tenant) per minute and instance; beyond it they wait, answered as the issuer being unavailable.
 */
const STRANGER_FETCHES_PER_MINUTE = 60;
const STRANGER_WINDOW_MS = 60 * 1000;
/** Tenants people sign in from; only tokens those tenants really signed bring one in. */
const MAX_PROVEN_KEY_SETS = 1000;
/** Key sets that verified nothing: a flood of forged tokens churns these, and only these. */
const MAX_UNPROVEN_KEY_SETS = 100;
const FETCH_TIMEOUT_MS = 5000;

/** Least recently used first. */
const proven = new Map<string, KeySet>();
/** Oldest first. */
const unproven = new Map<string, KeySet>();
const inflight = new Map<string, Promise<KeySet>>();
let strangerWindow = { startedAt: Number.NEGATIVE_INFINITY, fetches: 0 };

const now = () => clock.now().getTime();

/** Within `interval` after `since`; a time from the future (the clock was set back since) is not. */
const within = (since: number | undefined, interval: number, at: number) => since !== undefined && at - since >= 0 && at - since < interval;

/**
 * A 4xx other than a timeout or throttling is the issuer's answer that there is no such key set: Microsoft
 * answers 400 `invalid_tenant` (AADSTS90002) for a tenant that does not exist.
 */
const hasNoSuchKeySet = (status: number) => status >= 400 && status < 500 && status !== 408 && status !== 429;

async function download(url: string): Promise<Map<string, KeyObject>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (hasNoSuchKeySet(response.status)) {
    await response.body?.cancel();
    return new Map();
  }
  if (!response.ok) throw new Error(`JWKS ${url} answered ${response.status}`);
  const body = (await response.json()) as { keys?: Array<JsonWebKey & { kid?: string; kty?: string; use?: string }> };
  const keys = new Map<string, KeyObject>();
  for (const jwk of body.keys ?? []) {
    if (jwk.kty !== 'RSA' || !jwk.kid || (jwk.use && jwk.use !== 'sig')) continue;
    keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
  }
  return keys;
}

function remember(url: string, keySet: KeySet): void {
  if (proven.has(url)) {
    proven.set(url, keySet);
    return;
  }
  unproven.delete(url);
  unproven.set(url, keySet);
  if (unproven.size > MAX_UNPROVEN_KEY_SETS) unproven.delete(unproven.keys().next().value as string);
}

/** The key set verified a token: it stays, and only other proven key sets, used longer ago, can push it out. */
function prove(url: string, fallback: KeySet): void {
  const keySet = unproven.get(url) ?? proven.get(url) ?? fallback;
  unproven.delete(url);
  proven.delete(url);
  proven.set(url, keySet);
  if (proven.size > MAX_PROVEN_KEY_SETS) proven.delete(proven.keys().next().value as string);
}

function strangerMayFetch(at: number): boolean {
  if (!within(strangerWindow.startedAt, STRANGER_WINDOW_MS, at)) strangerWindow = { startedAt: at, fetches: 0 };
  if (strangerWindow.fetches >= STRANGER_FETCHES_PER_MINUTE) return false;
  strangerWindow.fetches += 1;
  return true;
}

/** A fetch of `url` (one at a time per URL), or undefined when strangers have used up this minute's fetches. */
function fetchKeySet(url: string, cached: KeySet | undefined, at: number): Promise<KeySet> | undefined {
  const pending = inflight.get(url);
  if (pending) return pending;
  if (!proven.has(url) && !strangerMayFetch(at)) return undefined;
  const fetching = download(url)
    .then(
      (keys): KeySet => ({ keys, answeredAt: now(), triedAt: at }),
      // Unreachable or failing: the copy there was stays in use, and is not asked for again for a minute.
      (): KeySet => ({ keys: cached?.keys ?? new Map(), answeredAt: cached?.answeredAt, triedAt: at }),
    )
    .then((keySet) => {
      remember(url, keySet);
      return keySet;
    })
    .finally(() => inflight.delete(url));
  inflight.set(url, fetching);
  return fetching;
}

/** The key set to look `kid` up in: the cached one while it is fresh and knows the kid or was fetched a moment ago. */
async function keySetFor(url: string, kid: string, unavailable: () => Problem): Promise<KeySet> {
  const cached = proven.get(url) ?? unproven.get(url);
  const at = now();
  const current =
    cached && (within(cached.triedAt, MIN_REFETCH_INTERVAL_MS, at) || (within(cached.answeredAt, MAX_AGE_MS, at) && cached.keys.has(kid)))
      ? cached
      : await (fetchKeySet(url, cached, at) ?? cached);
  // Never answered (unreachable since the first try, or strangers' fetches used up): nothing can be checked.
  if (current?.answeredAt === undefined) throw unavailable();
  return current;
}

/**
 * Verifies a token with the signing key `kid` of the key set at `url`: `verify` gets the key and throws for a
 * token it does not verify. Undefined when the key set has no such key. The key set is fetched once, cached,
 * and fetched again when it is stale or does not know the kid (at most once a minute). With no usable copy and
 * the issuer unreachable, it fails closed with the problem `unavailable` makes (each issuer's callers say what
 * cannot be checked). Callers check everything the token shows before calling: each call may fetch.
 */
export async function verifyWithSigningKey<T>(
  url: string,
  kid: string,
  unavailable: () => Problem,
  verify: (key: KeyObject) => T,
): Promise<T | undefined> {
  const keySet = await keySetFor(url, kid, unavailable);
  const key = keySet.keys.get(kid);
  if (!key) return undefined;
  const verified = verify(key);
  prove(url, keySet);
  return verified;
}

/** What the cache knows of one issuer's OpenID discovery document: where its key set is. */
interface Discovery {
  /** The document's `jwks_uri`; undefined until the issuer first answered with a usable document. */
  keySetUrl: string | undefined;
  answeredAt: number | undefined;
  triedAt: number;
}

const discoveries = new Map<string, Discovery>();
const discovering = new Map<string, Promise<Discovery>>();

/**
 * The `jwks_uri` of the discovery document at `{issuer}/.well-known/openid-configuration` (OpenID Connect
 * Discovery 1.0): the document must name `issuer` itself (section 4.3), and a key set on https (or, for an
 * issuer on loopback http, on its own scheme).
 */
async function discoverKeySetUrl(issuer: string): Promise<string> {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`OpenID discovery of ${issuer} answered ${response.status}`);
  }
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  const keySetUrl = typeof document.jwks_uri === 'string' && URL.canParse(document.jwks_uri) ? new URL(document.jwks_uri) : undefined;
  if (document.issuer !== issuer || !keySetUrl || (keySetUrl.protocol !== 'https:' && keySetUrl.protocol !== new URL(issuer).protocol)) {
    throw new Error(`OpenID discovery of ${issuer} names another issuer or no usable jwks_uri`);
  }
  return keySetUrl.href;
}

/**
 * Where an issuer's signing keys are, by OpenID discovery, for `verifyWithSigningKey`. The document is fetched
 * once (one fetch at a time), kept a day like a key set, and fetched again at most once a minute whatever
 * came of the last try; unreachable, the last copy stays in use, and with none it fails closed with the
 * problem `unavailable` makes. Only for the issuers the service is configured with (callers check `iss`
 * first): one entry each, so strangers cannot grow it.
 */
export async function discoveredKeySetUrl(issuer: string, unavailable: () => Problem): Promise<string> {
  const cached = discoveries.get(issuer);
  const at = now();
  const fresh = cached && (within(cached.triedAt, MIN_REFETCH_INTERVAL_MS, at) || within(cached.answeredAt, MAX_AGE_MS, at));
  let current = fresh ? cached : discovering.get(issuer);
  if (!current) {
    const fetching = discoverKeySetUrl(issuer)
      .then(
        (keySetUrl): Discovery => ({ keySetUrl, answeredAt: now(), triedAt: at }),
        (): Discovery => ({ keySetUrl: cached?.keySetUrl, answeredAt: cached?.answeredAt, triedAt: at }),
      )
      .then((discovery) => {
        discoveries.set(issuer, discovery);
        return discovery;
      })
      .finally(() => discovering.delete(issuer));
    discovering.set(issuer, fetching);
    current = fetching;
  }
  const { keySetUrl } = await current;
  if (keySetUrl === undefined) throw unavailable();
  return keySetUrl;
}
