/**
 * An API key close to expiry is announced twice over: every push (and unlist or relist) made with it answers
 * with NuGet's `X-NuGet-Warning` naming the date, and the timer `notifyExpiringApiKeys` emails its holder 7
 * days and 1 day before it expires, and, for a key an organization owns, every admin of the organization.
 *
 * The timer finds those keys without reading every key: each live key has an entry in `apiKeyExpiries`, in
 * the partition of the UTC day it expires, written before the key itself (so no key exists without it),
 * written anew before a regeneration moves its expiry and removed when it is revoked. A run reads the eight
 * partitions from today to seven days ahead (one query each, within its partition). Each warning goes out
 * once: its email's outbox id is fixed by the key, the warning and the expiry (`expiry:{key}:{7d|1d}:{expiresAt}`)
 * and created only if absent, so runs at the same moment or a run after one that died halfway send nothing
 * twice; the entry then records the warning given, so later runs skip it without a write. A regeneration's new
 * expiry makes a new id: the warnings start over.
 */
import { clock } from '../shared/clock';
import { apiKeyExpiringMessage, apiKeysPage, organizationKeyExpiringNotice } from '../shared/email/messages';
import { deliverSoon, queueEmail } from '../shared/email/outbox';
import type { Log } from '../shared/log';
import { container, documentsInPartition, isNotFound, isPreconditionFailed, readDocument, replaceIfUnchanged, type StoredDocument } from '../shared/storage/cosmos';
import { hasTrustedAddress, readAccount } from '../accounts/account';
import { noticeToAll } from '../accounts/notices';
import type { ApiKeyDocument } from './apiKeys';

const DAY_MS = 24 * 60 * 60 * 1000;
/** NuGet.org's `WarnAboutExpirationInDaysForApiKeyV1`: a push warns when the key expires within this many days. */
const HEADER_WARNING_DAYS = 10;
/** The header NuGet.org warns in, which the NuGet client prints as a warning (so it reaches CI logs). */
export const WARNING_HEADER = 'X-NuGet-Warning';

/** The emails before expiry, most urgent first: how long before, and the shortest key lifetime that gets it. */
const WARNINGS = [
  { name: '1d', before: DAY_MS },
  { name: '7d', before: 7 * DAY_MS },
] as const;
type Warning = (typeof WARNINGS)[number]['name'];

interface ExpiryEntry extends StoredDocument {
  /** `{key id}:{expiresAt}`: one entry for each expiry a key was given, so a regeneration never overwrites the entry of another. */
  id: string;
  keyId: string;
  /** The UTC day the key expires, `2026-01-10`: the partition. */
  day: string;
  expiresAt: string;
  /** How many days the key was made to last: a warning longer before expiry than that would come at its birth. */
  lifetimeDays: number;
  /** The warnings already given for this expiry. */
  warned: Warning[];
  /** Lets Cosmos DB tidy up a week after the expiry; nothing depends on it. */
  ttl: number;
}

const dayOf = (iso: string) => iso.slice(0, 10);
const entryId = (keyId: string, expiresAt: string) => `${keyId}:${expiresAt}`;

/** Keys trusted publishing makes live minutes and cannot be regenerated: never warned of, so never indexed. */
type IndexedKey = Pick<ApiKeyDocument, 'id' | 'expiresAt' | 'trustedPublishing'>;

/**
 * Records when the key expires, before the key is written with that expiry (a creation, a regeneration), so
 * the timer finds every key that can expire. Upserted: writing it again is harmless.
 */
export async function indexExpiry(key: IndexedKey & Pick<ApiKeyDocument, 'expiresInDays'>): Promise<void> {
  if (key.trustedPublishing) return;
  const ttl = Math.ceil((Date.parse(key.expiresAt) - clock.now().getTime()) / 1000) + 7 * 24 * 60 * 60;
  const entry: ExpiryEntry = {
    id: entryId(key.id, key.expiresAt),
    keyId: key.id,
    day: dayOf(key.expiresAt),
    expiresAt: key.expiresAt,
    lifetimeDays: key.expiresInDays,
    warned: [],
    ttl,
  };
  await container('apiKeyExpiries').items.upsert(entry);
}

/** The key no longer expires at `expiresAt` (revoked, or regenerated to a new expiry): that entry goes. */
export async function forgetExpiry(key: IndexedKey): Promise<void> {
  if (key.trustedPublishing) return;
  try {
    await container('apiKeyExpiries').item(entryId(key.id, key.expiresAt), dayOf(key.expiresAt)).delete();
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** .NET's Math.Round, which NuGet.org's count of days uses: halves to the even number. */
function roundHalfToEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * NuGet.org's warning for a key that expires within 10 days, with the date added; none for a key trusted
 * publishing made. ASCII only, as a header value must be.
 */
export function expiryWarning(key: ApiKeyDocument): string | undefined {
  // Keys trusted publishing makes live minutes and cannot be regenerated: as NuGet.org skips its short-lived keys.
  if (key.trustedPublishing) return undefined;
  const days = (Date.parse(key.expiresAt) - clock.now().getTime()) / DAY_MS;
  if (days > HEADER_WARNING_DAYS) return undefined;
  const count = roundHalfToEven(days);
  return `Your API key expires in ${count} ${count === 1 ? 'day' : 'days'} (${key.expiresAt}). Visit ${apiKeysPage()} to regenerate your API key.`;
}

/** The most urgent warning due for the entry now, if it has not been given: one a key gets only if it lived longer. */
function warningDue(entry: ExpiryEntry, now: number): Warning | undefined {
  const left = Date.parse(entry.expiresAt) - now;
  if (left <= 0) return undefined;
  const due = WARNINGS.find((warning) => left <= warning.before && entry.lifetimeDays * DAY_MS > warning.before);
  // A more urgent warning given (the timer was down a week) makes the earlier one pointless.
  if (!due || entry.warned.includes(due.name) || (due.name === '7d' && entry.warned.includes('1d'))) return undefined;
  return due.name;
}

/** Gives the warning due for one entry, once; answers whether one went out. */
async function warn(entry: ExpiryEntry, warning: Warning, log: Log): Promise<boolean> {
  const key = await readDocument<ApiKeyDocument>('apiKeys', entry.keyId);
  if (!key || key.revokedAt !== null || key.expiresAt !== entry.expiresAt) {
    // Revoked, regenerated to another expiry, or gone: the entry no longer stands for a key.
    await forgetExpiry({ id: entry.keyId, expiresAt: entry.expiresAt });
    return false;
  }
  // A suspended key (its holder or owner locked by support, its owner frozen) keeps its entry, in case that is
  // lifted before it expires.
  if (key.trustedPublishing || (key.suspendedBy?.length ?? 0) > 0) return false;
  const holder = await readAccount(key.creatorAccountId);
  const holderReachable = holder?.kind === 'user' && !holder.deletedAt && !holder.lock && hasTrustedAddress(holder);
  // A key an organization owns outlives whoever made it: its admins are told too, so someone renews or replaces it.
  const organizationId = key.ownerAccountId !== key.creatorAccountId ? key.ownerAccountId : undefined;
  if (!holderReachable && !organizationId) return false;
  const onceKey = `expiry:${key.id}:${warning}:${key.expiresAt}`;
  const cause = { container: 'apiKeys', id: key.id } as const;
  const noticed = { id: key.id, description: key.description, owner: key.ownerName, expiresAt: key.expiresAt };
  if (holderReachable) {
    const email = await queueEmail(apiKeyExpiringMessage(holder, noticed, warning), cause, onceKey);
    await deliverSoon(email, log);
  }
  if (organizationId) {
    const content = organizationKeyExpiringNotice({ ...noticed, holder: key.creatorName ?? holder?.username ?? 'a member' }, warning);
    // Every admin but the holder, whose own email says it: one outbox entry the outbox timer delivers, queued once.
    await noticeToAll([organizationId], 'security', content, cause, { onceKey: `${onceKey}:admins`, afterChange: true, except: [key.creatorAccountId] });
  }
  try {
    await replaceIfUnchanged('apiKeyExpiries', { ...entry, warned: [...entry.warned, warning] }, entry.day);
  } catch (error) {
    // Another run recorded it first; its email is the same one.
    if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
  }
  return true;
}

/**
 * One run: the entries of the keys that expire from today to seven days ahead, a partition a day, and for each
 * the warning due now, given once. Trouble with one key leaves it for the next run and does not hold up the
 * others; a run that stops halfway is finished by the next (missed days too: each run looks a week ahead).
 */
export async function notifyExpiringApiKeys(log: Log): Promise<{ warned: number; failed: number }> {
  const now = clock.now().getTime();
  const tally = { warned: 0, failed: 0 };
  for (let offset = 0; offset <= 7; offset += 1) {
    const day = dayOf(new Date(now + offset * DAY_MS).toISOString());
    for (const entry of await documentsInPartition<ExpiryEntry>('apiKeyExpiries', day)) {
      const warning = warningDue(entry, now);
      if (!warning) continue;
      try {
        if (await warn(entry, warning, log)) tally.warned += 1;
      } catch (error) {
        tally.failed += 1;
        log.warn(`The expiry warning of key ${entry.keyId} is left for the next run`, error);
      }
    }
  }
  return tally;
}
