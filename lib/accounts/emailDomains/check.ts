/**
 * The timer `checkEmailDomains`: asks RDAP about the registered domain of every confirmed address (accounts and
 * organizations), each domain at most once in 30 days, and where the domain expired, is being deleted, or was
 * registered again after an address on it was confirmed, that address counts as unconfirmed: whoever registered
 * the domain reads its mail, and an email address is a recovery credential here (PyPI's `ctx`, npm's `foreach`).
 *
 * - **What is due**, without reading every account: the `emailDomains` index (addressIndex.ts). A run takes the
 *   domains due, oldest first, with one query the index answers (`dueAt`), and for each domain RDAP answered,
 *   the entries of the addresses confirmed before the event that undoes them, with one query in its partition.
 *   Many accounts on one domain make one look-up.
 * - **Bounded, and kind to registries**: at most `lookupsPerRun` look-ups and `runTimeMs` a run, one server's
 *   look-ups `perServerIntervalMs` apart (servers in parallel), a 429 honoured for as long as its Retry-After
 *   says (beyond the run's end: that server is left for the next run), a server that keeps failing left alone.
 * - **Unanswered is left as it is**: a timeout, a 5xx, a 404, a TLD the bootstrap file names no server for, or no
 *   bootstrap file at all change no account; the domain is due again at the next run (behind those due before).
 * - **Resumable**: a lapse is written on the domain's document before any address is marked, so a run that
 *   dies halfway leaves the next to finish it without asking again; each address's marking, log record and
 *   notice is done once (ETag-guarded, fixed ids), and its index entry goes last. A lease on the run's `progress`
 *   keeps two runs from working side by side; a dead run's lease lapses after 15 minutes.
 * - **Backfill**: addresses confirmed before the index existed are indexed by a resumable walk over the accounts
 *   in id order, `backfillAccountsPerRun` a run, until it reaches the end once.
 */
import { recordAudit } from '../../shared/audit';
import { clock, nowIso } from '../../shared/clock';
import { organizationEmailDomainLapsedNotice } from '../../shared/email/messages';
import type { Log } from '../../shared/log';
import { lookUpDomain, rdapBootstrap, type DomainRegistration } from '../../shared/rdap';
import { container, isConflict, isPreconditionFailed, readDocument, replaceIfUnchanged, type StoredDocument } from '../../shared/storage/cosmos';
import { hasTrustedAddress, updateAccount, withNewSecurityStamp, type AccountDocument, type EmailDomainLapse, type LapseReason } from '../account';
import { noticeToAll } from '../notices';
import { forgetAddressOn, indexConfirmedAddress, type AddressEntry, type DomainDocument } from './addressIndex';
import { domainToCheck } from './registeredDomain';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A domain is asked about at most once in this long. */
const RECHECK_AFTER_MS = 30 * DAY_MS;
/** Longer than a run may take (`runTimeMs`): a run that died frees the next one after it. */
const LEASE_MS = 15 * 60 * 1000;
const BACKFILL_PAGE = 500;
/** Index writes of the backfill in flight at once. */
const BACKFILL_PARALLEL = 8;
/** RFC 9083 section 10.2.2 (RFC 8056's mapping of EPP): the registry is deleting the domain. */
const BEING_DELETED = new Set(['pending delete', 'redemption period']);

/**
 * How much one run may do (see docs/design/how-it-works.md, Lapsed email domains: Cost). Tests lower them, as they move the clock; nothing else changes them.
 * The pace assumes a registry answers one client two look-ups a second, well inside what registries publish.
 */
export const domainCheckLimits = {
  /** RDAP look-ups a run makes at most. */
  lookupsPerRun: 1000,
  /** Due domains a run takes up: more than its look-ups, since some need none (no server for the TLD, a lapse to finish). */
  domainsPerRun: 2000,
  /** Between two look-ups at one RDAP server. */
  perServerIntervalMs: 500,
  lookupTimeoutMs: 10_000,
  /** A server that failed (timeout, 5xx) this many times in a row is left alone until the next run. */
  failuresBeforeLeavingServer: 3,
  /** Real time a run may spend, well inside the host's function timeout (30 minutes by default on Flex Consumption). */
  runTimeMs: 8 * 60 * 1000,
  /** Accounts the backfill reads a run. */
  backfillAccountsPerRun: 10_000,
};

const PROGRESS = 'progress';

/** The run's own document, in a partition no registered domain can have (it has no dot). */
interface RunProgress extends StoredDocument {
  domain: typeof PROGRESS;
  kind: typeof PROGRESS;
  leaseUntil: string | null;
  /** How far the backfill got: the last account id it indexed (ids are walked in order), and whether it reached the end. */
  backfill: { afterId: string; done: boolean };
}

export interface DomainCheckTally {
  backfilled: number;
  lookups: number;
  answered: number;
  unanswered: number;
  rateLimited: number;
  lapsed: number;
  failed: number;
}

interface Run {
  /** The run's own document as last written (its ETag guards the next write). */
  progress: RunProgress;
  log: Log;
  tally: DomainCheckTally;
  /** Real time (Date.now) by which it stops asking. */
  deadline: number;
  /** When it started, by the service's clock: where an unanswered domain goes, behind the domains due before it. */
  startedAt: string;
}

/** Takes the run's lease, unless another run holds it; the ETag makes the take exclusive. */
async function takeLease(): Promise<RunProgress | undefined> {
  const now = clock.now().getTime();
  const leaseUntil = new Date(now + LEASE_MS).toISOString();
  const current = await readDocument<RunProgress>('emailDomains', PROGRESS, PROGRESS);
  try {
    if (!current) {
      const fresh: RunProgress = { id: PROGRESS, domain: PROGRESS, kind: PROGRESS, leaseUntil, backfill: { afterId: '', done: false } };
      return (await container('emailDomains').items.create(fresh)).resource;
    }
    if (current.leaseUntil && Date.parse(current.leaseUntil) > now) return undefined;
    return await replaceIfUnchanged('emailDomains', { ...current, leaseUntil }, PROGRESS);
  } catch (error) {
    if (isConflict(error) || isPreconditionFailed(error)) return undefined;
    throw error;
  }
}

const saveProgress = (progress: RunProgress) => replaceIfUnchanged('emailDomains', progress, PROGRESS);

type BackfilledAccount = Pick<AccountDocument, 'id' | 'emailAddress' | 'emailConfirmed' | 'emailConfirmedAt' | 'emailDomainLapsed' | 'createdAt' | 'deletedAt'>;

/**
 * Indexes the addresses confirmed before the index existed, a page of accounts at a time in id order, saving how
 * far it got after each page. Such an address's confirmation time is unknown: its account's creation stands for
 * it, the earliest it can have been, so a domain registered since the account was made counts as registered
 * again (a false alarm costs the account one confirmation link; a missed takeover, the account).
 */
async function backfill(run: Run): Promise<void> {
  let read = 0;
  while (!run.progress.backfill.done && read < domainCheckLimits.backfillAccountsPerRun && Date.now() < run.deadline) {
    const { resources: accounts } = await container('accounts')
      .items.query<BackfilledAccount>({
        query:
          'SELECT TOP @page c.id, c.emailAddress, c.emailConfirmed, c.emailConfirmedAt, c.emailDomainLapsed, c.createdAt, c.deletedAt ' +
          'FROM c WHERE c.id > @after ORDER BY c.id',
        parameters: [
          { name: '@page', value: BACKFILL_PAGE },
          { name: '@after', value: run.progress.backfill.afterId },
        ],
      })
      .fetchAll();
    const confirmed = accounts.filter((account) => !account.deletedAt && hasTrustedAddress(account));
    for (let start = 0; start < confirmed.length; start += BACKFILL_PARALLEL) {
      await Promise.all(
        confirmed
          .slice(start, start + BACKFILL_PARALLEL)
          .map((account) => indexConfirmedAddress(account.id, account.emailAddress, account.emailConfirmedAt ?? account.createdAt, { ifAbsent: true })),
      );
    }
    read += accounts.length;
    run.tally.backfilled += confirmed.length;
    const afterId = accounts.at(-1)?.id ?? run.progress.backfill.afterId;
    run.progress = await saveProgress({ ...run.progress, backfill: { afterId, done: accounts.length < BACKFILL_PAGE } });
  }
}

/** The domains due now, oldest first: one query across the domains' partitions, answered by the index on `dueAt`. */
async function dueDomains(): Promise<DomainDocument[]> {
  const { resources } = await container('emailDomains')
    .items.query<DomainDocument>({
      query: "SELECT TOP @max * FROM c WHERE c.kind = 'domain' AND c.dueAt <= @now ORDER BY c.dueAt",
      parameters: [
        { name: '@max', value: domainCheckLimits.domainsPerRun },
        { name: '@now', value: nowIso() },
      ],
    })
    .fetchAll();
  return resources;
}

/** What an answer undoes: the addresses on the domain confirmed before `before`, and why. */
interface Lapse {
  reason: LapseReason;
  before: string;
  eventDate: string | null;
}

/**
 * The contract's rule: the domain's expiration has passed (or its registry is deleting it), which undoes every
 * address on it; or it was registered after an address was confirmed, which undoes that address.
 */
function lapseIn(answer: DomainRegistration, checkedAt: string): Lapse | undefined {
  if (answer.expiration && answer.expiration <= checkedAt) return { reason: 'expired', before: checkedAt, eventDate: answer.expiration };
  if (answer.status.some((status) => BEING_DELETED.has(status.toLowerCase()))) return { reason: 'pending_delete', before: checkedAt, eventDate: null };
  if (answer.registration) return { reason: 'reregistered', before: answer.registration, eventDate: answer.registration };
  return undefined;
}

/** The entries of the addresses on `domain` confirmed before `before`: one query within its partition. */
async function addressesConfirmedBefore(domain: string, before: string): Promise<AddressEntry[]> {
  const { resources } = await container('emailDomains')
    .items.query<AddressEntry>(
      {
        query: "SELECT * FROM c WHERE c.domain = @domain AND c.kind = 'address' AND c.confirmedAt < @before",
        parameters: [
          { name: '@domain', value: domain },
          { name: '@before', value: before },
        ],
      },
      { partitionKey: domain },
    )
    .fetchAll();
  return resources;
}

const saveDomain = (document: DomainDocument) => replaceIfUnchanged('emailDomains', document, document.domain);

/**
 * Marks one address lapsed, once, on the account's own document (the truth: the entry may be older than a
 * confirmation or a change of address made since), with a record in its log, and the admins of an organization
 * told. The account itself is not emailed: its address is the one no longer trusted. A lapse raises the security
 * stamp, so a reset link already sent to the address stops working. The entry goes last.
 */
async function lapseAddress(entry: AddressEntry, lapse: Lapse, detectedAt: string, run: Run): Promise<void> {
  const marked: EmailDomainLapse = { domain: entry.domain, reason: lapse.reason, eventDate: lapse.eventDate, detectedAt };
  const account = await updateAccount(entry.accountId, (current) => {
    const confirmedAt = current.emailConfirmedAt ?? current.createdAt;
    const concerned = !current.deletedAt && hasTrustedAddress(current) && domainToCheck(current.emailAddress) === entry.domain && confirmedAt < lapse.before;
    return concerned ? withNewSecurityStamp({ ...current, emailConfirmed: false, emailDomainLapsed: marked }) : undefined;
  });
  const lapsedHere = account?.emailDomainLapsed?.domain === entry.domain && account.emailDomainLapsed.detectedAt === detectedAt;
  if (account && lapsedHere) {
    const details = { emailAddress: account.emailAddress, domain: entry.domain, reason: lapse.reason, ...(lapse.eventDate ? { eventDate: lapse.eventDate } : {}) };
    await recordAudit(account.id, 'email_domain_lapsed', 'system', details, `email-domain-lapsed:${detectedAt}`);
    if (account.kind === 'organization') {
      await noticeToAll([account.id], 'security', organizationEmailDomainLapsedNotice(account.username, marked), { container: 'accounts', id: account.id }, {
        onceKey: `email-domain-lapsed:${account.id}:${detectedAt}`,
        afterChange: true,
      });
    }
    run.tally.lapsed += 1;
  } else if (account && !account.deletedAt && hasTrustedAddress(account) && domainToCheck(account.emailAddress) === entry.domain) {
    // Confirmed again since the entry was written: the entry takes the account's time, and the address stands.
    await indexConfirmedAddress(account.id, account.emailAddress, account.emailConfirmedAt ?? account.createdAt);
    return;
  }
  await forgetAddressOn(entry.domain, entry.accountId);
}

/**
 * Applies what RDAP said of the domain at `checkedAt`, and schedules it 30 days on. A lapse is written on the
 * domain's document first, so a run that stops while marking addresses leaves the next to finish without asking
 * again.
 */
async function settle(domain: DomainDocument, answer: DomainRegistration, checkedAt: string, run: Run): Promise<void> {
  const lapse = lapseIn(answer, checkedAt);
  // A registration no later than every indexed confirmation undoes none: most domains, answered without a query.
  const mayConcern = lapse && !(domain.earliestConfirmedAt !== undefined && lapse.before <= domain.earliestConfirmedAt);
  const concerned = mayConcern ? await addressesConfirmedBefore(domain.domain, lapse.before) : [];
  let current = domain;
  if (lapse && concerned.length > 0) {
    current = await saveDomain({ ...current, checkedAt, answer, lapsePending: true, unanswered: undefined });
    for (const entry of concerned) await lapseAddress(entry, lapse, checkedAt, run);
  }
  const dueAt = new Date(Date.parse(checkedAt) + RECHECK_AFTER_MS).toISOString();
  // Every entry confirmed before the lapse's moment is gone now, or carries a later confirmation.
  const earliestConfirmedAt = mayConcern && lapse ? lapse.before : domain.earliestConfirmedAt;
  await saveDomain({ ...current, checkedAt, answer, lapsePending: false, unanswered: undefined, dueAt, earliestConfirmedAt });
}

/** RDAP gave no answer: no account changes, and the domain is due again at the next run, behind those due before it. */
async function leaveUnanswered(domain: DomainDocument, reason: string, run: Run): Promise<void> {
  run.tally.unanswered += 1;
  await saveDomain({ ...domain, unanswered: { at: nowIso(), reason }, dueAt: domain.dueAt > run.startedAt ? domain.dueAt : run.startedAt });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `step` for one domain; trouble with it is logged and leaves it due, without holding up the others. */
async function forOneDomain(domain: DomainDocument, run: Run, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    run.tally.failed += 1;
    run.log.warn(`The email domain ${domain.domain} is left for the next run`, error);
  }
}

/**
 * Asks one RDAP server about its domains in turn, paced, until the run's look-ups or time run out. A 429 makes
 * it wait as long as the server asked (the same domain goes again), unless that is past the run's end.
 */
async function askServer(server: string, domains: DomainDocument[], run: Run, lookupsLeft: { count: number }): Promise<void> {
  let nextAt = 0;
  let failuresInARow = 0;
  for (let index = 0; index < domains.length; ) {
    const startAt = Math.max(nextAt, Date.now());
    if (lookupsLeft.count <= 0 || startAt >= run.deadline) return;
    // Taken before waiting: the other servers' askers share the count.
    lookupsLeft.count -= 1;
    run.tally.lookups += 1;
    await sleep(startAt - Date.now());
    nextAt = Date.now() + domainCheckLimits.perServerIntervalMs;
    const domain = domains[index];
    const answer = await lookUpDomain(server, domain.domain, domainCheckLimits.lookupTimeoutMs);
    if (answer.kind === 'unanswered' && answer.reason === 'rate_limited') {
      run.tally.rateLimited += 1;
      nextAt = Date.now() + (answer.retryAfterMs ?? 0);
      continue;
    }
    index += 1;
    if (answer.kind === 'found') {
      failuresInARow = 0;
      run.tally.answered += 1;
      await forOneDomain(domain, run, () => settle(domain, answer.domain, nowIso(), run));
      continue;
    }
    await forOneDomain(domain, run, () => leaveUnanswered(domain, answer.reason, run));
    // A 404 is the registry's answer about one name; timeouts and 5xx say the server is in trouble.
    failuresInARow = answer.reason === 'not_found' ? 0 : failuresInARow + 1;
    if (failuresInARow >= domainCheckLimits.failuresBeforeLeavingServer) return;
  }
}

/** The domains due: a lapse found within 30 days is finished without asking again; the others are asked, by server. */
async function checkDueDomains(run: Run): Promise<void> {
  const bootstrap = await rdapBootstrap();
  if (!bootstrap) run.log.warn('No RDAP bootstrap file could be had: no domain is asked about this run');
  const now = clock.now().getTime();
  const byServer = new Map<string, DomainDocument[]>();
  for (const domain of await dueDomains()) {
    if (Date.now() >= run.deadline) break;
    const { checkedAt, answer } = domain;
    if (checkedAt && answer && now - Date.parse(checkedAt) < RECHECK_AFTER_MS) {
      await forOneDomain(domain, run, () => settle(domain, answer, checkedAt, run));
      continue;
    }
    if (!bootstrap) continue;
    const server = bootstrap.serverFor(domain.domain);
    if (!server) {
      await forOneDomain(domain, run, () => leaveUnanswered(domain, 'no_rdap_server', run));
      continue;
    }
    const queue = byServer.get(server) ?? [];
    byServer.set(server, queue);
    queue.push(domain);
  }
  const lookupsLeft = { count: domainCheckLimits.lookupsPerRun };
  await Promise.all([...byServer].map(([server, domains]) => askServer(server, domains, run, lookupsLeft)));
}

/** One run (see the top of this file); undefined when another run holds the lease. */
export async function checkEmailDomains(log: Log): Promise<DomainCheckTally | undefined> {
  const progress = await takeLease();
  if (!progress) return undefined;
  const run: Run = {
    progress,
    log,
    tally: { backfilled: 0, lookups: 0, answered: 0, unanswered: 0, rateLimited: 0, lapsed: 0, failed: 0 },
    deadline: Date.now() + domainCheckLimits.runTimeMs,
    startedAt: nowIso(),
  };
  try {
    await backfill(run);
    await checkDueDomains(run);
  } finally {
    await saveProgress({ ...run.progress, leaseUntil: null });
  }
  return run.tally;
}
