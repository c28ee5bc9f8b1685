/**
 * A GitHub or GitLab policy no run used lapses 7 days after it was made (NuGet.org's rule), and its maker and, for
 * an organization's policy, the organization's admins are told once when it does: by the daily timer
 * `notifyLapsedTrustedPublishers`, since no request comes to say so.
 *
 * Built as the expiry warnings of API keys are (lib/packages/keyExpiry.ts): each policy that can lapse has an
 * entry in `trustedPublisherLapses`, in the partition of the UTC day it lapses, written before the policy itself,
 * so none is made without one. A run reads the partitions of today and the seven days before (one query each,
 * within it); for each entry whose time has come it reads the policy as it counts now (one query within the
 * policy's partition): removed, pinned by a run, or never made (a creation refused or cut short), nobody is told;
 * still unused, the notices are queued under ids fixed by the policy, so runs at the same moment, or a run after
 * one that stopped halfway, tell once. The entry then goes: a run costs the policies lapsing since the last one,
 * not every policy, and a day the timer missed is caught up by the next run.
 */
import { clock } from '../shared/clock';
import { trustedPublisherLapsedNotice } from '../shared/email/messages';
import type { Log } from '../shared/log';
import { container, documentsInPartition, isNotFound, type StoredDocument } from '../shared/storage/cosmos';
import { readAccount } from '../accounts/account';
import { noticed, policyNotice } from './policyNotices';
import { countedPolicy, hasLapsed, makerOf, type TrustedPublisherDocument } from './store';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How many days back a run looks for lapses not told yet: a week of missed runs is caught up. */
const DAYS_LOOKED_BACK = 7;

interface LapseEntry extends StoredDocument {
  /** The policy's id: one entry per policy, which lapses once. */
  id: string;
  /** The UTC day it lapses, `2026-01-10`: the partition. */
  day: string;
  /** The partition of `trustedPublishers` holding the policy (its `creatorId`). */
  partition: string;
  lapsesAt: string;
  /** Lets Cosmos DB tidy up a week after the lapse; nothing depends on it. */
  ttl: number;
}

const dayOf = (iso: string) => iso.slice(0, 10);

/** Records when the policy lapses, before the policy is written, so the timer finds every policy that can lapse. Upserted: writing it again is harmless. */
export async function indexLapse(policy: Pick<TrustedPublisherDocument, 'id' | 'creatorId' | 'lapsesAt'>): Promise<void> {
  if (policy.lapsesAt === null) return;
  const ttl = Math.ceil((Date.parse(policy.lapsesAt) - clock.now().getTime()) / 1000) + 7 * 24 * 60 * 60;
  const entry: LapseEntry = { id: policy.id, day: dayOf(policy.lapsesAt), partition: policy.creatorId, lapsesAt: policy.lapsesAt, ttl };
  await container('trustedPublisherLapses').items.upsert(entry);
}

/** Tells of the entry's policy, if it lapsed unused and still counts; answers whether it told. The entry goes either way. */
async function tellLapse(entry: LapseEntry, now: number, log: Log): Promise<boolean> {
  const policy = await countedPolicy(entry.partition, entry.id);
  const lapsed = policy !== undefined && hasLapsed(policy, now);
  if (lapsed) {
    const owner = policy.ownerId === makerOf(policy) ? undefined : await readAccount(policy.ownerId);
    const content = (reader: 'maker' | 'admins') => trustedPublisherLapsedNotice(noticed(policy), entry.lapsesAt, reader);
    const notice = await policyNotice(policy, owner, content, log, { onceKey: `trusted-publisher-lapsed:${policy.id}`, afterChange: true });
    await notice.settle(true, log);
  }
  try {
    await container('trustedPublisherLapses').item(entry.id, entry.day).delete();
  } catch (error) {
    // Another run at the same moment took it away; its notices are the same ones.
    if (!isNotFound(error)) throw error;
  }
  return lapsed;
}

/**
 * One run: the entries of the last eight days whose lapse has come, each told once and taken away. Trouble with
 * one leaves it for the next run and does not hold up the others.
 */
export async function notifyLapsedTrustedPublishers(log: Log): Promise<{ told: number; failed: number }> {
  const now = clock.now().getTime();
  const tally = { told: 0, failed: 0 };
  for (let offset = DAYS_LOOKED_BACK; offset >= 0; offset -= 1) {
    const day = dayOf(new Date(now - offset * DAY_MS).toISOString());
    for (const entry of await documentsInPartition<LapseEntry>('trustedPublisherLapses', day)) {
      if (Date.parse(entry.lapsesAt) > now) continue;
      try {
        if (await tellLapse(entry, now, log)) tally.told += 1;
      } catch (error) {
        tally.failed += 1;
        log.warn(`The lapse of trusted publishing policy ${entry.id} is left for the next run`, error);
      }
    }
  }
  return tally;
}
