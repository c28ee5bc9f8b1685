import { z } from 'zod';
import { nowIso } from '../shared/clock';
import { Problem } from '../shared/problems';
import { container, createOrUpdateDocument, readDocument, updateDocument, type StoredDocument } from '../shared/storage/cosmos';
import type { AccountDocument } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';

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

/** A reservation made or taken away (the prefix as listed), and the accounts and organizations it was given to or taken from. */
export interface PrefixChange {
  prefix: string;
  concerned: string[];
}

/**
 * Reserves (or re-assigns) a prefix to its owners, accounts or organizations named by username. The caller
 * is a site admin (the route's auth mode sees to that), who records it (lib/support/prefixes.ts).
 */
export async function placeReservation(
  caller: AccountDocument,
  input: z.infer<typeof reservePrefixBody>,
): Promise<PrefixChange & { owners: string[]; reservedAt: string }> {
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
  await createOrUpdateDocument<PrefixBucket>('prefixes', id, (bucket = { id, reservations: [] }) => {
    previous = bucket.reservations.find((r) => r.prefix === reservation.prefix);
    return { ...bucket, reservations: [...bucket.reservations.filter((r) => r.prefix !== reservation.prefix), reservation] };
  });
  return {
    prefix: reservation.displayPrefix,
    owners: owners.map((o) => o.username),
    reservedAt: reservation.reservedAt,
    // Its owners, and those a reservation made again leaves out.
    concerned: [...owners, ...(previous?.owners ?? [])].map((o) => o.accountId),
  };
}

/** Takes a reservation away: anyone may push new ids under the prefix again; packages pushed under it keep their owners. */
export async function removeReservation(prefix: string): Promise<PrefixChange> {
  const key = prefix.toLowerCase();
  let released: Reservation | undefined;
  await updateDocument<PrefixBucket>('prefixes', bucketOf(prefix), (bucket) => {
    released = bucket.reservations.find((r) => r.prefix === key);
    return released ? { ...bucket, reservations: bucket.reservations.filter((r) => r.prefix !== key) } : undefined;
  });
  if (!released) throw new Problem('not_found', `No prefix '${prefix}' is reserved.`);
  return { prefix: released.displayPrefix, concerned: released.owners.map((o) => o.accountId) };
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
