import { z } from 'zod';
import { recordAudit, type AuditAction } from '../shared/audit';
import { placeReservation, prefixView, removeReservation, reservePrefixBody, type PrefixChange } from '../packages/prefixes';
import { readAccount, type AccountDocument } from '../accounts/account';
import { recordOnAffectedAccount } from './actions';

/**
 * Reserves (or re-assigns) a package id prefix to its owners, accounts or organizations named by username,
 * and records it.
 */
export async function reservePrefix(
  admin: AccountDocument,
  input: z.infer<typeof reservePrefixBody>,
  clientAddress: string,
): Promise<z.infer<typeof prefixView>> {
  const reserved = await placeReservation(admin, input);
  await recordPrefixChange(admin, 'prefix_reserved', reserved, { prefix: input.prefix, owners: reserved.owners.join(', ') }, clientAddress);
  return { prefix: reserved.prefix, owners: reserved.owners, reservedAt: reserved.reservedAt };
}

/** Releases a reservation, and records it: new ids under the prefix are anyone's again. */
export async function releasePrefix(admin: AccountDocument, prefix: string, clientAddress: string): Promise<void> {
  const released = await removeReservation(prefix);
  await recordPrefixChange(admin, 'prefix_released', released, { prefix: released.prefix }, clientAddress);
}

/**
 * On the admin's own log, and for every live account or organization given the prefix or losing it: in an
 * individual's security log, in an organization's trail, naming the admin (an admin reserving one for itself
 * has it in its own log already).
 */
async function recordPrefixChange(
  admin: AccountDocument,
  action: AuditAction,
  change: PrefixChange,
  details: Record<string, string>,
  clientAddress: string,
): Promise<void> {
  await recordAudit(admin.id, action, clientAddress, details);
  const concerned = await Promise.all([...new Set(change.concerned)].filter((id) => id !== admin.id).map((id) => readAccount(id)));
  await Promise.all(
    concerned.map((account) => (account && !account.deletedAt ? recordOnAffectedAccount(admin, account, { action, details }, clientAddress) : undefined)),
  );
}
