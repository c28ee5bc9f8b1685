import { createHash, randomUUID } from 'node:crypto';
import { clock, nowIso } from '../clock';
import { container, isConflict, isNotFound, isPreconditionFailed, readDocument, replaceIfUnchanged, type StoredDocument } from '../storage/cosmos';
import type { ContainerName } from '../storage/containers';
import { noticeEmail, type NoticeContent, type NoticeGate } from './messages';
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

/**
 * Whom a notice goes to, worked out when it is delivered: accounts and organizations by id (an organization
 * stands for its admins), and the preference of each that lets it through.
 */
export interface NoticeAudience {
  accountIds: string[];
  gate: NoticeGate;
  /** Accounts told of the change by a notice of their own, so not by this one (an organization's admin among them). */
  exceptAccountIds?: string[];
}

/** A person a notice is delivered to. */
export interface NoticeRecipient {
  accountId: string;
  username: string;
  emailAddress: string;
}

/** Who, of an audience, gets the notice now: the accounts' domain knows members, admins and preferences. */
export type ResolveAudience = (audience: NoticeAudience) => Promise<NoticeRecipient[]>;

interface OutboxEntryBase extends StoredDocument {
  /**
   * `abandoned`: its cause never appeared; `expired`: its link stopped working before it could be sent;
   * `failed`: still not accepted by ACS after days of retries. A notice is `sent` once every recipient's
   * email is queued.
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

export interface OutboxEmail extends OutboxEntryBase, EmailMessage {}

/**
 * A notice to many people, queued as one document with the change it announces (so the change costs one
 * write for it, however many are told), and expanded at delivery into one email per recipient, each under
 * an id fixed by the notice and the recipient: each person gets it once, whatever the retries.
 */
export interface OutboxNotice extends OutboxEntryBase {
  audience: NoticeAudience;
  content: NoticeContent;
}

type OutboxEntry = OutboxEmail | OutboxNotice;

const isNotice = (entry: OutboxEntry): entry is OutboxNotice => 'audience' in entry;

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
/** Recipients of one notice whose emails are queued and sent at a time. */
const EXPANSION_BATCH = 10;

/** Entries this process queued and still holds the lease of: their cause was just written by the same request. */
const heldHere = new WeakSet<OutboxEntry>();

/** A UUID fixed by `key` (ACS takes only UUIDs as operation ids), so queueing the same email twice is one email. */
function uuidFor(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Writes the entry to the outbox, held by its writer (who sends it once the change is written; if the writer
 * dies, the hold lapses) unless its change is made already. With `onceKey`, work that may run again queues
 * it only once: the second write finds the first, unless the first was withdrawn (its change was refused
 * then), which the second queues afresh.
 */
async function queueEntry<T extends OutboxEntry>(
  fields: Omit<T, keyof OutboxEntryBase>,
  cause: EmailCause,
  onceKey: string | undefined,
  held = true,
): Promise<T> {
  const now = nowIso();
  const entry = {
    id: onceKey ? uuidFor(onceKey) : randomUUID(),
    ...fields,
    status: 'pending',
    cause,
    createdAt: now,
    attempts: 0,
    nextAttemptAt: now,
    leaseUntil: held ? new Date(clock.now().getTime() + LEASE_MS).toISOString() : null,
    sentAt: null,
    lastError: null,
  } as T;
  try {
    const { resource } = await container('outbox').items.create(entry);
    if (held) heldHere.add(resource as T);
    return resource as T;
  } catch (error) {
    const queued = onceKey && isConflict(error) ? await readDocument<T>('outbox', entry.id) : undefined;
    if (!queued) throw error;
    if (queued.status !== 'abandoned') return queued;
    try {
      const renewed = await replaceIfUnchanged('outbox', { ...entry, _etag: queued._etag });
      if (held) heldHere.add(renewed);
      return renewed;
    } catch (renewError) {
      // Queued afresh by another writer at the same moment: theirs it is.
      if (!isPreconditionFailed(renewError)) throw renewError;
      return (await readDocument<T>('outbox', entry.id)) ?? queued;
    }
  }
}

/**
 * Writes the email to the outbox. With `onceKey`, work that may run again (a resumed deletion) queues it
 * only once: the second write finds the first.
 */
export function queueEmail(message: EmailMessage, cause: EmailCause, onceKey?: string): Promise<OutboxEmail> {
  return queueEntry<OutboxEmail>(message, cause, onceKey);
}

/**
 * Writes a notice to `audience` to the outbox: one document, whoever it goes to. It is never sent by the
 * request: held until its writer's change is surely made (`afterChange`: it is already), then the timer
 * expands it into each recipient's email. `onceKey` queues it once, however often the work runs.
 */
export function queueNotice(
  content: NoticeContent,
  audience: NoticeAudience,
  cause: EmailCause,
  options: { onceKey?: string; afterChange?: boolean } = {},
): Promise<OutboxNotice> {
  return queueEntry<OutboxNotice>({ audience, content }, cause, options.onceKey, !options.afterChange);
}

/**
 * Whether this process queued the entry and holds it (rather than found one queued before under the same
 * key): only then is it this process's to withdraw.
 */
export const heldByThisProcess = (entry: OutboxEntry): boolean => heldHere.has(entry);

function retryDelayMs(attempts: number): number {
  return RETRY_DELAYS_MINUTES[Math.min(attempts, RETRY_DELAYS_MINUTES.length) - 1] * MINUTE_MS;
}

/** An email whose link no longer works helps nobody, and a stale reset link only confuses. */
const linkExpired = (email: OutboxEmail, now: Date) => email.linkExpiresAt !== undefined && Date.parse(email.linkExpiresAt) <= now.getTime();

async function causeExists(cause: EmailCause): Promise<boolean> {
  return (await readDocument(cause.container, cause.id)) !== undefined;
}

/** Takes the lease, or answers undefined when another sender holds it or the entry is done. */
async function lease<T extends OutboxEntry>(email: T): Promise<T | undefined> {
  const now = clock.now();
  if (email.status !== 'pending' || (email.leaseUntil && Date.parse(email.leaseUntil) > now.getTime())) return undefined;
  try {
    return await replaceIfUnchanged('outbox', { ...email, leaseUntil: new Date(now.getTime() + LEASE_MS).toISOString() });
  } catch (error) {
    if (isPreconditionFailed(error) || isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Sends one email, or expands one notice, if it is due; never throws for a failed send, which is retried
 * later with backoff.
 */
async function deliverEmail(queued: OutboxEntry, resolve: ResolveAudience, log: Log): Promise<OutboxEntry['status']> {
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
  return isNotice(email) ? expandLeased(email, resolve, log) : sendLeased(email);
}

/** The outcome of a send or an expansion that failed: pending again after its retry delay, or, after days, failed. */
function afterFailure<T extends OutboxEntry>(entry: T, error: unknown, now: Date): T {
  const attempts = entry.attempts + 1;
  const status = now.getTime() - Date.parse(entry.createdAt) >= GIVE_UP_AFTER_MS ? ('failed' as const) : ('pending' as const);
  return {
    ...entry,
    status,
    attempts,
    leaseUntil: null,
    nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempts)).toISOString(),
    lastError: error instanceof Error ? error.message.slice(0, 500) : String(error),
  };
}

/**
 * Expands a leased notice: each recipient's email is queued under an id fixed by the notice and the
 * recipient, and sent. A run that stops halfway is finished by the next, which finds the emails queued
 * before and sends only what is not sent yet.
 */
async function expandLeased(notice: OutboxNotice, resolve: ResolveAudience, log: Log): Promise<OutboxEntry['status']> {
  const now = clock.now();
  try {
    const recipients = await resolve(notice.audience);
    for (let i = 0; i < recipients.length; i += EXPANSION_BATCH) {
      await Promise.all(
        recipients.slice(i, i + EXPANSION_BATCH).map(async (recipient) => {
          const message = noticeEmail(recipient, notice.content, notice.audience.gate);
          await deliverSoon(await queueEmail(message, notice.cause, `${notice.id}:${recipient.accountId}`), log);
        }),
      );
    }
  } catch (error) {
    const failed = await replaceIfUnchanged('outbox', afterFailure(notice, error, now));
    return failed.status;
  }
  await replaceIfUnchanged('outbox', { ...notice, status: 'sent' as const, attempts: notice.attempts + 1, leaseUntil: null, sentAt: nowIso() });
  return 'sent';
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
    const failed = await replaceIfUnchanged('outbox', afterFailure(email, error, now));
    return failed.status;
  }
  await replaceIfUnchanged('outbox', { ...email, status: 'sent' as const, attempts: email.attempts + 1, leaseUntil: null, sentAt: nowIso() });
  return 'sent';
}

/**
 * Sends straight after the change that caused it: an email queued here is already leased and its cause
 * known to exist, so it goes without another read or write. A notice is expanded now, `resolve` saying whom
 * it reaches. On any trouble the timer picks it up later.
 */
export async function deliverSoon(entry: OutboxEntry, log: Log, resolve: ResolveAudience = noAudience): Promise<void> {
  try {
    if (!heldHere.has(entry)) await deliverEmail(entry, resolve, log);
    else await (isNotice(entry) ? expandLeased(entry, resolve, log) : sendLeased(entry));
  } catch (error) {
    log.warn('Email left in the outbox for the timer', error);
  }
}

/**
 * Drops an email this request queued for a change that was then refused (its cause exists already, so the
 * timer would otherwise send it): it is never sent. Should that fail, the timer sends it, with a link the
 * refused change never made valid.
 */
export async function abandonEmail(email: OutboxEntry, log: Log): Promise<void> {
  try {
    await replaceIfUnchanged('outbox', { ...email, status: 'abandoned' as const, leaseUntil: null });
  } catch (error) {
    log.warn(`Email ${email.id} of a refused change could not be withdrawn`, error);
  }
}

/** An email is never a notice: nothing to resolve. */
const noAudience: ResolveAudience = async () => [];

/**
 * One timer run: every pending email and notice whose next attempt is due, oldest first, in bounded batches;
 * `resolve` says whom each notice goes to. Trouble with one (a lost lease, a store hiccup) leaves it for the
 * next run and does not hold up the others.
 */
export async function deliverPendingEmails(log: Log, resolve: ResolveAudience): Promise<Record<OutboxEntry['status'], number>> {
  const tally = { pending: 0, sent: 0, abandoned: 0, expired: 0, failed: 0 };
  const due = container('outbox').items.query<OutboxEntry>(
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
        tally[await deliverEmail(email, resolve, log)] += 1;
      } catch (error) {
        log.warn(`Email ${email.id} left for the next run`, error);
        tally.pending += 1;
      }
    }
  }
  return tally;
}
