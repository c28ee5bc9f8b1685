import { clock, nowIso } from '../shared/clock';
import { assertStorableId, container, isConflict, isNotFound, isPreconditionFailed, readDocument, type StoredDocument } from '../shared/storage/cosmos';
import type { Problem } from '../shared/problems';
import { readAccount, type AccountDocument } from './account';
import { isSiteAdminName, normaliseEmail, normaliseName } from './names';

/**
 * Uniqueness without transactions: each unique key is a document whose id is the normalised key, so the
 * second writer of the same key gets Cosmos DB's 409, whichever instance it runs on.
 */
export type ClaimKey = { kind: 'username'; name: string } | { kind: 'email'; address: string } | { kind: 'microsoft'; tid: string; oid: string };

interface ClaimDocument extends StoredDocument {
  accountId: string;
  claimedAt: string;
  /** Who asked (a registration's Microsoft account), so that person can retry at once after a crash. */
  claimant?: string;
}

/**
 * A registration that died after claiming a key but before writing its account leaves a claim pointing at
 * nothing; after this long anyone may take it over (the same person may at once).
 */
const ABANDONED_CLAIM_MS = 2 * 60 * 1000;

function claimId(key: ClaimKey): string {
  switch (key.kind) {
    case 'username':
      return `username:${normaliseName(key.name)}`;
    case 'email':
      return `email:${normaliseEmail(key.address)}`;
    case 'microsoft':
      return `microsoft:${key.tid}:${key.oid}`;
  }
}

/** The account holding the key, if any (one point read). Claims left by unfinished registrations are included. */
export async function claimHolder(key: ClaimKey): Promise<string | undefined> {
  return (await readDocument<ClaimDocument>('claims', claimId(key)))?.accountId;
}

/** The account document behind a key: two point reads. */
export async function accountHolding(key: ClaimKey): Promise<AccountDocument | undefined> {
  const accountId = await claimHolder(key);
  return accountId ? readAccount(accountId) : undefined;
}

const accountExists = async (id: string) => (await readAccount(id)) !== undefined;

/**
 * Takes the key for `accountId`; false when another account holds it. A claim whose account never came to
 * be (its registration died) is taken over once abandoned, or at once by the same claimant.
 */
export async function tryClaim(key: ClaimKey, accountId: string, claimant?: string): Promise<boolean> {
  const id = claimId(key);
  assertStorableId(id);
  const claim: ClaimDocument = { id, accountId, claimedAt: nowIso(), ...(claimant ? { claimant } : {}) };
  try {
    await container('claims').items.create(claim);
    return true;
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
  const existing = await readDocument<ClaimDocument>('claims', id);
  if (!existing) return tryClaim(key, accountId, claimant);
  if (existing.accountId === accountId) return true;
  const abandoned = clock.now().getTime() - Date.parse(existing.claimedAt) >= ABANDONED_CLAIM_MS;
  const sameClaimant = claimant !== undefined && existing.claimant === claimant;
  if (!(abandoned || sameClaimant) || (await accountExists(existing.accountId))) return false;
  try {
    await container('claims').item(id, id).replace(claim, { accessCondition: { type: 'IfMatch', condition: existing._etag ?? '' } });
    return true;
  } catch (error) {
    if (isPreconditionFailed(error)) return false;
    throw error;
  }
}

/** Gives a key back, but only if `accountId` still holds it. */
export async function releaseClaim(key: ClaimKey, accountId: string): Promise<void> {
  const id = claimId(key);
  const existing = await readDocument<ClaimDocument>('claims', id);
  if (!existing || existing.accountId !== accountId) return;
  try {
    await container('claims').item(id, id).delete({ accessCondition: { type: 'IfMatch', condition: existing._etag ?? '' } });
  } catch (error) {
    if (!isNotFound(error) && !isPreconditionFailed(error)) throw error;
  }
}

/**
 * Gives a deleted account's or organization's name back to the namespace (support): its claim goes, so the
 * next registration may take it. Decided on the claim as read and deleted only if it is still that claim
 * (ETag), so a registration at the same moment either finds the claim still there (the name unavailable) or
 * takes the freed name: never both. `in_use` while a live account holds it or a registration is taking it;
 * `free` when no claim is left (never registered, or released already). A name in SITE_ADMINS is never
 * released (`site_admin_name`): whoever registered it next would be a site admin.
 */
export async function releaseDeletedName(
  name: string,
): Promise<{ outcome: 'released'; account: AccountDocument } | { outcome: 'in_use' | 'free' | 'site_admin_name' }> {
  if (isSiteAdminName(name)) return { outcome: 'site_admin_name' };
  const id = claimId({ kind: 'username', name });
  for (;;) {
    const claim = await readDocument<ClaimDocument>('claims', id);
    if (!claim) return { outcome: 'free' };
    const account = await readAccount(claim.accountId);
    if (!account?.deletedAt) return { outcome: 'in_use' };
    try {
      await container('claims').item(id, id).delete({ accessCondition: { type: 'IfMatch', condition: claim._etag ?? '' } });
      return { outcome: 'released', account };
    } catch (error) {
      // Released by another request, or taken by a registration since it was read: look again.
      if (!isNotFound(error) && !isPreconditionFailed(error)) throw error;
    }
  }
}

/**
 * Claims each key for a new account, in order (the first taken one answers its problem), then runs `write`,
 * which creates the account. Should anything fail before the account exists, the keys taken go back, so a
 * failed attempt leaves nothing behind.
 */
export async function withClaims<T>(
  accountId: string,
  keys: Array<[ClaimKey, Problem]>,
  write: () => Promise<T>,
  claimant?: string,
): Promise<T> {
  const taken: ClaimKey[] = [];
  try {
    for (const [key, unavailable] of keys) {
      if (!(await tryClaim(key, accountId, claimant))) throw unavailable;
      taken.push(key);
    }
    return await write();
  } catch (error) {
    // Best effort: if the store is down too, the claims stay, and are taken over as abandoned later.
    await giveBack(taken, accountId).catch(() => undefined);
    throw error;
  }
}

async function giveBack(keys: ClaimKey[], accountId: string): Promise<void> {
  if (await accountExists(accountId)) return;
  await Promise.all(keys.map((key) => releaseClaim(key, accountId)));
}
