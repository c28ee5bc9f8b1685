/**
 * The `emailDomains` container, one partition per registered domain: the domain's own document (when it is due
 * to be asked again, what RDAP last said of it) and one entry per account or organization whose confirmed
 * address is on it (with when it was confirmed). Written when an address is confirmed, replaced or erased, so
 * the timer finds the domains to ask about, and the accounts a lapse concerns, without reading every account.
 */
import { nowIso } from '../../shared/clock';
import type { DomainRegistration } from '../../shared/rdap';
import { container, isConflict, isNotFound, updateDocument, type StoredDocument } from '../../shared/storage/cosmos';
import { domainToCheck } from './registeredDomain';

export interface DomainDocument extends StoredDocument {
  /** The registered domain, as the partition key is too. */
  domain: string;
  kind: 'domain';
  /** When it is next asked about: the timer's query takes the domains due, oldest first. */
  dueAt: string;
  /**
   * No address on it still indexed was confirmed before this, so a registration no later than it undoes none of
   * them, and the timer need not look (absent: not known). Confirmations come later; the backfill lowers it.
   */
  earliestConfirmedAt?: string;
  /** When RDAP last answered for it, and what it said. */
  checkedAt?: string;
  answer?: DomainRegistration;
  /** That answer found a lapse, and not every address it concerns has been marked yet (a run stopped halfway). */
  lapsePending?: boolean;
  /** Why the last attempt got no answer; cleared by the next answer. */
  unanswered?: { at: string; reason: string };
}

export interface AddressEntry extends StoredDocument {
  domain: string;
  kind: 'address';
  accountId: string;
  /** When the address was confirmed (for one confirmed before this was recorded, when its account was made). */
  confirmedAt: string;
}

const entryId = (accountId: string) => `address:${accountId}`;

/** Creates a document unless one with its id is there already; answers whether it did. */
async function createIfAbsent(document: StoredDocument & { domain: string }): Promise<boolean> {
  try {
    await container('emailDomains').items.create(document);
    return true;
  } catch (error) {
    if (!isConflict(error)) throw error;
    return false;
  }
}

/**
 * Records that the account's address is confirmed as of `confirmedAt`, before the account says so, so no
 * confirmed address is ever missing from the index. `ifAbsent` (the backfill, for addresses confirmed before
 * the index existed) leaves an entry a confirmation wrote meanwhile, with its exact time, as it is. Nothing for
 * a big provider's address: those are never asked about.
 */
export async function indexConfirmedAddress(accountId: string, emailAddress: string, confirmedAt: string, { ifAbsent = false } = {}): Promise<void> {
  const domain = domainToCheck(emailAddress);
  if (!domain) return;
  const entry: AddressEntry = { id: entryId(accountId), domain, kind: 'address', accountId, confirmedAt };
  if (!ifAbsent) await container('emailDomains').items.upsert(entry);
  else if (!(await createIfAbsent(entry))) return;
  // A domain nobody has asked about yet is due at once; a known one keeps its schedule.
  const document: DomainDocument = { id: domain, domain, kind: 'domain', dueAt: nowIso(), earliestConfirmedAt: confirmedAt };
  if ((await createIfAbsent(document)) || !ifAbsent) return;
  // Only the backfill writes a confirmation time earlier than those indexed before it.
  await updateDocument<DomainDocument>(
    'emailDomains',
    domain,
    (current) => (current.earliestConfirmedAt !== undefined && current.earliestConfirmedAt > confirmedAt ? { ...current, earliestConfirmedAt: confirmedAt } : undefined),
    domain,
  );
}

/** The account's address on this domain is no longer a confirmed one of its own (replaced, lapsed or erased). */
export async function forgetAddressOn(domain: string, accountId: string): Promise<void> {
  try {
    await container('emailDomains').item(entryId(accountId), domain).delete();
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** `forgetAddressOn` the address's own domain. */
export async function forgetConfirmedAddress(accountId: string, emailAddress: string): Promise<void> {
  const domain = domainToCheck(emailAddress);
  if (domain) await forgetAddressOn(domain, accountId);
}
