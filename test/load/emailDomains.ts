/**
 * `npm run bench:domains`: what the lapsed-domain timer (checkEmailDomains) costs for 100,000 accounts on 20,000
 * domains, against the stand-ins (the Cosmos DB stand-in behind the request counter, the RDAP stand-in). The index
 * is written through the store directly, as confirmations would have written it (a domain document and an entry
 * per address; the accounts themselves only where a lapse reads them). Then the timer runs once a day by the
 * service's clock until every domain was asked once (the first pass), and once more with nothing due.
 *
 * The timer's function runs in this process (the host would load the bundle, whose clock and limits are its own).
 * BENCH_ACCOUNTS and BENCH_DOMAINS set the size (default 100,000 on 20,000). The Cosmos DB stand-in answers every
 * query by reading every document of the container (in time linear in them: local/standins/cosmos.ts), a few
 * seconds a run at the default size here, where Cosmos DB answers from its index; the whole bench takes under two
 * minutes.
 * Per run it prints the Cosmos DB requests (counted at the stand-in) and the RDAP look-ups. Look-ups run unpaced
 * here; how long a run takes at the registries' rate is worked out from the look-ups each server got, at the pace
 * the timer keeps (`perServerIntervalMs`), and bounded by a run's time (`runTimeMs`).
 */
import { randomUUID } from 'node:crypto';
import { checkEmailDomains, domainCheckLimits } from '../../lib/accounts/emailDomains/check';
import { clock } from '../../lib/shared/clock';
import { container } from '../../lib/shared/storage/cosmos';
import { startTestService } from '../support/service';

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 20_000);
/** One domain in 500 expired (more than lapse in a month): its accounts are read and marked. */
const EXPIRED_EVERY = Number(process.env.BENCH_EXPIRED_EVERY ?? 500);
/** Where the domains are registered, roughly as addresses spread: .com and .net are both Verisign's. */
const TLDS = [...Array(7).fill('com'), 'net', 'org', 'test'];
const DAY_MS = 24 * 60 * 60 * 1000;
const PARALLEL_WRITES = 32;
/** Runs to measure; by default until every domain was asked once. */
const RUNS = Number(process.env.BENCH_RUNS ?? 60);

async function inParallel<T>(items: T[], write: (item: T) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += PARALLEL_WRITES) await Promise.all(items.slice(start, start + PARALLEL_WRITES).map(write));
}

async function main(): Promise<void> {
  const service = await startTestService();
  const start = Date.now();
  const at = (days: number) => new Date(start + days * DAY_MS);
  let now = at(0);
  clock.now = () => now;
  // Unpaced: the pace is worked out below from the look-ups each server got.
  domainCheckLimits.perServerIntervalMs = 0;

  // Accounts spread over the domains unevenly, as at a gallery: a few company domains with many, most with one or two.
  const domains = Array.from({ length: DOMAINS }, (_, i) => `bench-${i}.${TLDS[i % TLDS.length]}`);
  const accountsOn = (i: number) => (i < DOMAINS / 100 ? 20 : 1);
  const heavy = DOMAINS / 100;
  let remaining = ACCOUNTS - heavy * 20;
  const perDomain = domains.map((_, i) => (i < heavy ? accountsOn(i) : 0));
  for (let i = heavy; remaining > 0; i = i + 1 < DOMAINS ? i + 1 : heavy) {
    perDomain[i] += 1;
    remaining -= 1;
  }
  const confirmedAt = at(-400).toISOString();
  const createdAt = at(-500).toISOString();
  console.log(`Writing the index: ${DOMAINS} domains, ${ACCOUNTS} accounts ...`);
  const written = Date.now();
  await inParallel(domains, async (domain) => {
    await container('emailDomains').items.create({ id: domain, domain, kind: 'domain', dueAt: now.toISOString(), earliestConfirmedAt: confirmedAt });
  });
  const entries = domains.flatMap((domain, i) => Array.from({ length: perDomain[i] }, () => ({ domain, accountId: randomUUID(), expired: i % EXPIRED_EVERY === 0 })));
  await inParallel(entries, async ({ domain, accountId, expired }) => {
    await container('emailDomains').items.create({ id: `address:${accountId}`, domain, kind: 'address', accountId, confirmedAt });
    if (!expired) return;
    await container('accounts').items.create({
      id: accountId,
      kind: 'user',
      username: `bench-${accountId.slice(0, 8)}`,
      emailAddress: `someone@${domain}`,
      emailConfirmed: true,
      emailConfirmedAt: confirmedAt,
      pendingEmailAddress: null,
      microsoftAccount: null,
      passwordHash: null,
      failedPasswordAttempts: 0,
      lockedUntil: null,
      sessionVersion: 1,
      organizations: [],
      createdAt,
      deletion: null,
    });
  });
  // Indexed already: the backfill has nothing to do (its cost is one query per 500 accounts and two writes per address).
  await container('emailDomains').items.create({ id: 'progress', domain: 'progress', kind: 'progress', leaseUntil: null, backfill: { afterId: 'ffffffff', done: true } });
  domains.forEach((domain, i) => (i % EXPIRED_EVERY === 0 ? service.rdap.expired(domain, at(-10)) : service.rdap.healthy(domain, now)));
  console.log(`... in ${((Date.now() - written) / 1000).toFixed(0)} s.\n`);

  const log = { log: () => undefined, warn: console.warn, error: console.error };
  const paceSeconds = 0.5;
  const runSecondsLimit = 8 * 60;
  console.log(`| run (a day apart) | RDAP look-ups | at the busiest server | Cosmos DB requests | of them queries | time at ${1 / paceSeconds}/s per server | here, unpaced (the stand-in reads every document for each query) |`);
  console.log('|---|---|---|---|---|---|---|');
  let asked = 0;
  for (let day = 0; day < RUNS; day += 1) {
    now = at(day);
    service.cosmos.reset();
    const seen = service.rdap.lookups.length;
    const began = Date.now();
    // The timer's own function, in this process, so the clock and the pace set above are the ones it reads (the
    // host here would load the bundle, with modules of its own).
    let failed = '';
    try {
      await checkEmailDomains(log);
    } catch (error) {
      // At this size the stand-in can drop a connection the SDK kept through its slow queries; the next run goes on.
      failed = ` (the run's last write failed: ${error instanceof Error ? error.message : String(error)})`;
    }
    const lookups = service.rdap.lookups.slice(seen);
    const perServer = new Map<string, number>();
    for (const lookup of lookups) perServer.set(lookup.server, (perServer.get(lookup.server) ?? 0) + 1);
    const busiest = Math.max(0, ...perServer.values());
    asked += lookups.length;
    const requests = service.cosmos.documentRequests().length;
    console.log(
      `| ${day + 1} | ${lookups.length} | ${busiest} | ${requests} | ${service.cosmos.queries().length} | ${Math.min(busiest * paceSeconds, runSecondsLimit).toFixed(0)} s | ${((Date.now() - began) / 1000).toFixed(1)} s${failed} |`,
    );
    if (lookups.length === 0 && asked >= DOMAINS) break;
  }
  const lapsed = (await container('audit').items.query({ query: "SELECT VALUE COUNT(1) FROM c WHERE c.action = 'email_domain_lapsed'" }).fetchAll()).resources[0];
  console.log(`\n${asked} look-ups for ${DOMAINS} domains; ${lapsed} accounts marked lapsed.`);
  await service.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
