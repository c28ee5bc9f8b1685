import { z } from 'zod';
import { nowIso } from '../shared/clock';
import { Problem } from '../shared/problems';
import { container, readDocument, updateDocument, isConflict, type StoredDocument } from '../shared/storage/cosmos';
import type { AccountDocument } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { recordOwnershipChange } from './packageEvents';

export interface PrefixOwner {
  accountId: string;
  username: string;
}

interface Reservation {
  /** Lower case, ending with a period: `contoso.` covers `Contoso.Utils` and `contoso.x.y`. */
  prefix: string;
  displayPrefix: string;
  owners: PrefixOwner[];
  reservedAt: string;
  reservedBy: string;
}

/** All reservations under one first segment (`contoso` for `Contoso.` and `Contoso.Internal.`). */
interface PrefixBucket extends StoredDocument {
  reservations: Reservation[];
}

const prefixField = z
  .string()
  .max(100)
  .regex(/^[A-Za-z0-9_]+([.-][A-Za-z0-9_]+)*\.$/, 'must be a package id prefix ending with a period, such as Contoso.')
  .meta({ examples: ['Contoso.'] });

export const reservePrefixBody = z.object({ prefix: prefixField, owners: z.array(usernameField).min(1).max(50) }).strict();
/** `{prefix}`: a reserved prefix, as listed (`Contoso.`), in any casing. */
export const prefixParams = z.object({ prefix: prefixField });

export const prefixView = z.object({ prefix: z.string(), owners: z.array(z.string()), reservedAt: z.string() });

const bucketOf = (idOrPrefix: string) => idOrPrefix.toLowerCase().split('.')[0];

/**
 * Reserves (or re-assigns) a prefix to its owners, accounts or organizations named by username. The caller
 * is a site admin (the route's auth mode sees to that).
 */
export async function reservePrefix(caller: AccountDocument, input: z.infer<typeof reservePrefixBody>, clientAddress: string) {
  const owners: PrefixOwner[] = [];
  for (const name of input.owners) {
    const account = await accountHolding({ kind: 'username', name });
    if (!account || account.deletedAt) throw new Problem('user_not_found', `There is no account or organization named '${name}'.`);
    if (!owners.some((o) => o.accountId === account.id)) owners.push({ accountId: account.id, username: account.username });
  }
  const reservation: Reservation = {
    prefix: input.prefix.toLowerCase(),
    displayPrefix: input.prefix,
    owners,
    reservedAt: nowIso(),
    reservedBy: caller.username,
  };
  const id = bucketOf(input.prefix);
  let previous: Reservation | undefined;
  const place = (bucket: PrefixBucket) => {
    previous = bucket.reservations.find((r) => r.prefix === reservation.prefix);
    return { ...bucket, reservations: [...bucket.reservations.filter((r) => r.prefix !== reservation.prefix), reservation] };
  };
  const updated = await updateDocument<PrefixBucket>('prefixes', id, place);
  if (!updated) {
    try {
      await container('prefixes').items.create<PrefixBucket>({ id, reservations: [reservation] });
    } catch (error) {
      if (!isConflict(error)) throw error;
      await updateDocument<PrefixBucket>('prefixes', id, place);
    }
  }
  // Recorded for its owners, and for those a reservation made again leaves out.
  const concerned = [...owners, ...(previous?.owners ?? [])].map((o) => o.accountId);
  const details = { prefix: input.prefix, owners: owners.map((o) => o.username).join(', ') };
  await recordOwnershipChange('prefix_reserved', { account: caller, clientAddress }, details, concerned);
  return { prefix: reservation.displayPrefix, owners: owners.map((o) => o.username), reservedAt: reservation.reservedAt };
}

/** Releases a reservation: anyone may push new ids under the prefix again; packages pushed under it keep their owners. */
export async function releasePrefix(caller: AccountDocument, prefix: string, clientAddress: string): Promise<void> {
  const key = prefix.toLowerCase();
  let released: Reservation | undefined;
  await updateDocument<PrefixBucket>('prefixes', bucketOf(prefix), (bucket) => {
    released = bucket.reservations.find((r) => r.prefix === key);
    return released ? { ...bucket, reservations: bucket.reservations.filter((r) => r.prefix !== key) } : undefined;
  });
  if (!released) throw new Problem('not_found', `No prefix '${prefix}' is reserved.`);
  const details = { prefix: released.displayPrefix };
  await recordOwnershipChange('prefix_released', { account: caller, clientAddress }, details, released.owners.map((o) => o.accountId));
}

export async function listPrefixes() {
  const { resources } = await container('prefixes').items.readAll<PrefixBucket>().fetchAll();
  return resources
    .flatMap((bucket) => bucket.reservations)
    .sort((a, b) => a.prefix.localeCompare(b.prefix))
    .map((r) => ({ prefix: r.displayPrefix, owners: r.owners.map((o) => o.username), reservedAt: r.reservedAt }));
}

/** The most specific reservation covering a package id, if any: one point read. */
export async function reservationCovering(packageId: string): Promise<Reservation | undefined> {
  const bucket = await readDocument<PrefixBucket>('prefixes', bucketOf(packageId));
  const id = packageId.toLowerCase();
  return bucket?.reservations
    .filter((r) => id.startsWith(r.prefix))
    .sort((a, b) => b.prefix.length - a.prefix.length)[0];
}

/** Takes the account off every reservation it holds (account deletion); a reservation left ownerless stays. */
export async function dissociatePrefixes(accountId: string): Promise<void> {
  // Reservations are few and this runs off the request path: reading the buckets whole is simplest.
  const { resources } = await container('prefixes').items.readAll<PrefixBucket>().fetchAll();
  for (const bucket of resources) {
    if (!bucket.reservations.some((r) => r.owners.some((o) => o.accountId === accountId))) continue;
    await updateDocument<PrefixBucket>('prefixes', bucket.id, (current) => ({
      ...current,
      reservations: current.reservations.map((r) => ({ ...r, owners: r.owners.filter((o) => o.accountId !== accountId) })),
    }));
  }
}
