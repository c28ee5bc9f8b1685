import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { nowIso } from '../shared/clock';
import { Problem } from '../shared/problems';
import { container, readDocument, updateDocument, isConflict, type StoredDocument } from '../shared/storage/cosmos';
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

export const reservePrefixBody = z
  .object({
    prefix: z
      .string()
      .max(100)
      .regex(/^[A-Za-z0-9_]+([.-][A-Za-z0-9_]+)*\.$/, 'must be a package id prefix ending with a period, such as Contoso.')
      .meta({ examples: ['Contoso.'] }),
    owners: z.array(usernameField).min(1).max(50),
  })
  .strict();

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
  const place = (bucket: PrefixBucket) => ({
    ...bucket,
    reservations: [...bucket.reservations.filter((r) => r.prefix !== reservation.prefix), reservation],
  });
  const updated = await updateDocument<PrefixBucket>('prefixes', id, place);
  if (!updated) {
    try {
      await container('prefixes').items.create<PrefixBucket>({ id, reservations: [reservation] });
    } catch (error) {
      if (!isConflict(error)) throw error;
      await updateDocument<PrefixBucket>('prefixes', id, place);
    }
  }
  await recordAudit(caller.id, 'prefix_reserved', clientAddress, { prefix: input.prefix });
  return { prefix: reservation.displayPrefix, owners: owners.map((o) => o.username), reservedAt: reservation.reservedAt };
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
