import { createHash } from 'node:crypto';
import { clock } from './clock';
import { Problem } from './problems';
import { container, isConflict, isNotFound, type StoredDocument } from './storage/cosmos';

/**
 * Fixed-window rate limits whose counters live in Cosmos DB, so a limit holds across instances. Each domain
 * names its own limits (recovery's in lib/accounts/recovery/rateLimits.ts, the emails the accounts, organizations
 * and packages domains send to someone the caller names in their rateLimits.ts, the token exchange's in
 * lib/trustedPublishing); this is the one mechanism they count with.
 */
export interface RateLimit {
  name: string;
  max: number;
  windowSeconds: number;
}

interface Counter extends StoredDocument {
  count: number;
  ttl: number;
}

const incrementCount = async (id: string) =>
  (await container('rateLimits').item(id, id).patch<Counter>([{ op: 'incr', path: '/count', value: 1 }])).resource?.count ?? 1;

/** Adds one to the window's counter in Cosmos DB, shared by every instance: one patch once it exists. */
async function increment(id: string, ttl: number): Promise<number> {
  try {
    return await incrementCount(id);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    await container('rateLimits').items.create<Counter>({ id, count: 1, ttl });
    return 1;
  } catch (error) {
    // Another instance created it first: count on theirs.
    if (!isConflict(error)) throw error;
    return incrementCount(id);
  }
}

/**
 * Counts one call against `limit` for `key` in a fixed window; past the limit, 429 with the seconds until
 * the window ends. Keys are stored hashed: the counters hold no email address, username or client address.
 */
export async function enforceRateLimit(limit: RateLimit, key: string): Promise<void> {
  const now = clock.now().getTime() / 1000;
  const windowStart = Math.floor(now / limit.windowSeconds) * limit.windowSeconds;
  const hashedKey = createHash('sha256').update(key.toLowerCase()).digest('hex').slice(0, 32);
  const count = await increment(`${limit.name}:${hashedKey}:${windowStart}`, limit.windowSeconds * 2);
  if (count > limit.max) {
    const retryAfter = Math.max(1, Math.ceil(windowStart + limit.windowSeconds - now));
    throw new Problem('too_many_requests', `Too many attempts. Try again in ${retryAfter} seconds.`, { 'Retry-After': String(retryAfter) });
  }
}

/** The two limits of a call that emails an address or account its caller chooses. */
export interface EmailingLimits {
  perCaller: RateLimit;
  perRecipient: RateLimit;
}

/**
 * Counts a call that emails an address or account its caller chose: per caller first, so a caller past its own
 * limit no longer uses up the recipient's, then per recipient, so many callers together cannot flood one mailbox
 * either. Called before the call writes anything else, so a refused one sends and changes nothing.
 */
export async function enforceEmailingLimits(limits: EmailingLimits, caller: string, recipient: string): Promise<void> {
  await enforceRateLimit(limits.perCaller, caller);
  await enforceRateLimit(limits.perRecipient, recipient);
}
