import { createHash, randomUUID } from 'node:crypto';
import { clock, nowIso } from '../clock';
import { container, isConflict, isNotFound, isPreconditionFailed, readDocument, replaceIfUnchanged, type StoredDocument } from '../storage/cosmos';
import type { ContainerName } from '../storage/containers';
import { sendEmail, type EmailMessage } from './sender';
import type { Log } from '../log';

/**
 * The change an email announces. The email is queued before the change is written, so that no change goes
 * out unannounced; it is sent only once this document exists, and dropped if it never appears.
 */
export interface EmailCause {
  container: ContainerName;
  id: string;
}

interface OutboxEmail extends StoredDocument, EmailMessage {
  /**
   * `abandoned`: its cause never appeared; `expired`: its link stopped working before it could be sent;
   * `failed`: still not accepted by ACS after days of retries.
   */
  status: 'pending' | 'sent' | 'abandoned' | 'expired' | 'failed';
  cause: EmailCause;
  createdAt: string;
  attempts: number;
  nextAttemptAt: string;
  /** A sender holds the email until then, so two timer runs never send it side by side. */
  leaseUntil: string | null;
  sentAt: string | null;
  lastError: string | null;
}

const LEASE_MS = 60 * 1000;
const MINUTE_MS = 60 * 1000;
/**
 * Minutes to wait after the first, second, … failed send; after that, the last. The timer runs every
 * minute, so an email goes out at most this last wait plus a minute after ACS recovers: within five.
 */
const RETRY_DELAYS_MINUTES = [1, 1, 2, 3, 4];
/** An email ACS has not taken after this long is given up (its link, if any, expired long before). */
const GIVE_UP_AFTER_MS = 3 * 24 * 60 * MINUTE_MS;
/** How long a cause may take to appear before its email is considered orphaned by a failed change. */
const CAUSE_GRACE_MS = 10 * 60 * 1000;
const BATCH_SIZE = 50;

/** Emails this process queued and still holds the lease of: their cause was just written by the same request. */
const heldHere = new WeakSet<OutboxEmail>();

/** A UUID fixed by `key` (ACS takes only UUIDs as operation ids), so queueing the same email twice is one email. */
function uuidFor(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Writes the email to the outbox. With `onceKey`, work that may run again (a resumed deletion) queues it
 * only once: the second write finds the first.
 */
export async function queueEmail(message: EmailMessage, cause: EmailCause, onceKey?: string): Promise<OutboxEmail> {
  const now = nowIso();
  const email: OutboxEmail = {
    id: onceKey ? uuidFor(onceKey) : randomUUID(),
    ...message,
    status: 'pending',
    cause,
    createdAt: now,
    attempts: 0,
    nextAttemptAt: now,
    // Held by its writer, who sends it once the change is written; if the writer dies, the lease lapses.
    leaseUntil: new Date(clock.now().getTime() + LEASE_MS).toISOString(),
    sentAt: null,
    lastError: null,
  };
  try {
    const { resource } = await container('outbox').items.create(email);
    heldHere.add(resource as OutboxEmail);
    return resource as OutboxEmail;
  } catch (error) {
    const queued = onceKey && isConflict(error) ? await readDocument<OutboxEmail>('outbox', email.id) : undefined;
    if (!queued) throw error;
    return queued;
  }
}

function retryDelayMs(attempts: number): number {
  return RETRY_DELAYS_MINUTES[Math.min(attempts, RETRY_DELAYS_MINUTES.length) - 1] * MINUTE_MS;
}

/** An email whose link no longer works helps nobody, and a stale reset link only confuses. */
const linkExpired = (email: OutboxEmail, now: Date) => email.linkExpiresAt !== undefined && Date.parse(email.linkExpiresAt) <= now.getTime();

async function causeExists(cause: EmailCause): Promise<boolean> {
  return (await readDocument(cause.container, cause.id)) !== undefined;
}

/** Takes the lease, or answers undefined when another sender holds it or the email is done. */
async function lease(email: OutboxEmail): Promise<OutboxEmail | undefined> {
  const now = clock.now();
  if (email.status !== 'pending' || (email.leaseUntil && Date.parse(email.leaseUntil) > now.getTime())) return undefined;
  try {
    return await replaceIfUnchanged('outbox', { ...email, leaseUntil: new Date(now.getTime() + LEASE_MS).toISOString() });
  } catch (error) {
    if (isPreconditionFailed(error) || isNotFound(error)) return undefined;
    throw error;
  }
}

/** Sends one email if it is due; never throws for a failed send, which is retried later with backoff. */
async function deliverEmail(queued: OutboxEmail): Promise<OutboxEmail['status']> {
  const email = await lease(queued);
  if (!email) return queued.status;
  const now = clock.now();
  if (!(await causeExists(email.cause))) {
    const orphaned = now.getTime() - Date.parse(email.createdAt) > CAUSE_GRACE_MS;
    await replaceIfUnchanged('outbox', orphaned
      ? { ...email, status: 'abandoned' as const, leaseUntil: null }
      : { ...email, leaseUntil: null, nextAttemptAt: new Date(now.getTime() + 60 * 1000).toISOString() });
    return orphaned ? 'abandoned' : 'pending';
  }
  return sendLeased(email);
}

/**
 * Hands a leased email to ACS and records the outcome: sent; pending again after its retry delay; or, once
 * its link has expired, never sent.
 */
async function sendLeased(email: OutboxEmail): Promise<OutboxEmail['status']> {
  const now = clock.now();
  if (linkExpired(email, now)) {
    await replaceIfUnchanged('outbox', { ...email, status: 'expired' as const, leaseUntil: null });
    return 'expired';
  }
  try {
    await sendEmail(email, email.id);
  } catch (error) {
    const attempts = email.attempts + 1;
    const status = now.getTime() - Date.parse(email.createdAt) >= GIVE_UP_AFTER_MS ? ('failed' as const) : ('pending' as const);
    await replaceIfUnchanged('outbox', {
      ...email,
      status,
      attempts,
      leaseUntil: null,
      nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempts)).toISOString(),
      lastError: error instanceof Error ? error.message.slice(0, 500) : String(error),
    });
    return status;
  }
  await replaceIfUnchanged('outbox', { ...email, status: 'sent' as const, attempts: email.attempts + 1, leaseUntil: null, sentAt: nowIso() });
  return 'sent';
}

/**
 * Sends straight after the change that caused it: an email queued here is already leased and its cause
 * known to exist, so it goes without another read or write. On any trouble the timer picks it up later.
 */
export async function deliverSoon(email: OutboxEmail, log: Log): Promise<void> {
  try {
    await (heldHere.has(email) ? sendLeased(email) : deliverEmail(email));
  } catch (error) {
    log.warn('Email left in the outbox for the timer', error);
  }
}

/**
 * Drops an email this request queued for a change that was then refused (its cause exists already, so the
 * timer would otherwise send it): it is never sent. Should that fail, the timer sends it, with a link the
 * refused change never made valid.
 */
export async function abandonEmail(email: OutboxEmail, log: Log): Promise<void> {
  try {
    await replaceIfUnchanged('outbox', { ...email, status: 'abandoned' as const, leaseUntil: null });
  } catch (error) {
    log.warn(`Email ${email.id} of a refused change could not be withdrawn`, error);
  }
}

/**
 * One timer run: every pending email whose next attempt is due, oldest first, in bounded batches. Trouble
 * with one email (a lost lease, a store hiccup) leaves it for the next run and does not hold up the others.
 */
export async function deliverPendingEmails(log: Log): Promise<Record<OutboxEmail['status'], number>> {
  const tally = { pending: 0, sent: 0, abandoned: 0, expired: 0, failed: 0 };
  const due = container('outbox').items.query<OutboxEmail>(
    {
      query: 'SELECT * FROM c WHERE c.status = "pending" AND c.nextAttemptAt <= @now ORDER BY c.nextAttemptAt',
      parameters: [{ name: '@now', value: nowIso() }],
    },
    { maxItemCount: BATCH_SIZE },
  );
  while (due.hasMoreResults()) {
    const { resources } = await due.fetchNext();
    for (const email of resources) {
      try {
        tally[await deliverEmail(email)] += 1;
      } catch (error) {
        log.warn(`Email ${email.id} left for the next run`, error);
        tally.pending += 1;
      }
    }
  }
  return tally;
}
