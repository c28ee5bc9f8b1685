import { createHash } from 'node:crypto';
import { clock } from '../../shared/clock';
import { Problem } from '../../shared/problems';
import { container, isConflict, isNotFound, type StoredDocument } from '../../shared/storage/cosmos';

export interface RateLimit {
  name: string;
  max: number;
  windowSeconds: number;
}

/** Per client address and per target, so neither one source nor many sources can hammer one account. */
export const RATE_LIMITS = {
  forgotPasswordPerClient: { name: 'forgot-password:client', max: 20, windowSeconds: 15 * 60 },
  forgotPasswordPerAddress: { name: 'forgot-password:address', max: 5, windowSeconds: 60 * 60 },
  signInAssistancePerClient: { name: 'sign-in-assistance:client', max: 30, windowSeconds: 15 * 60 },
  signInAssistancePerUser: { name: 'sign-in-assistance:user', max: 10, windowSeconds: 60 * 60 },
  passwordSignInPerClient: { name: 'password-sign-in:client', max: 60, windowSeconds: 15 * 60 },
  passwordSignInPerUser: { name: 'password-sign-in:user', max: 40, windowSeconds: 15 * 60 },
  resendConfirmationPerAccount: { name: 'resend-confirmation:account', max: 5, windowSeconds: 60 * 60 },
  resendConfirmationPerAddress: { name: 'resend-confirmation:address', max: 5, windowSeconds: 60 * 60 },
} as const satisfies Record<string, RateLimit>;

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
 * the window ends. Keys are stored hashed: the counters hold no email address or username.
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
