import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { clock } from '../shared/clock';
import { Problem } from '../shared/problems';
import { settings } from '../shared/settings';
import { container, isConflict, readDocument, replaceIfUnchanged, isPreconditionFailed, type StoredDocument } from '../shared/storage/cosmos';
import { ownedPackageIds, type PackageDocument } from '../packages/packages';
import { updateAccount, type AccountDocument } from '../accounts/account';
import { accountHolding } from '../accounts/claims';

/** The steps of processing a deletion, in order; each can run again without harm. */
export const DELETION_STEPS = [
  'confirmation_email',
  'api_keys',
  'packages',
  'prefixes',
  'organizations',
  'invitations',
  'credentials',
  'personal_data',
] as const;
export type DeletionStep = (typeof DELETION_STEPS)[number];

export interface DeletionRequest extends StoredDocument {
  requestedAt: string;
  scheduledFor: string;
  status: 'pending' | 'processing' | 'completed' | 'cancelled';
  completedSteps: DeletionStep[];
  /** The run holding the request; another run may take it only once this has passed. */
  leaseUntil: string | null;
  processedAt: string | null;
  lastError: string | null;
}

export const deleteMeBody = z.object({ confirmUsername: z.string().max(256) }).strict();
export const deletionView = z.object({ deletion: z.object({ requestedAt: z.string(), scheduledFor: z.string() }) });
export const deletionPreview = z.object({
  solelyOwnedPackages: z.array(z.string()),
  organizationsSolelyAdministered: z.array(z.string()),
});

/**
 * What to hand over before deleting: packages nobody else owns (they would be left unlisted and ownerless)
 * and organizations nobody else administers (their collaborators would become admins, or they would go).
 */
export async function previewDeletion(account: AccountDocument): Promise<z.infer<typeof deletionPreview>> {
  const packageIds = await ownedPackageIds(account.id, 10_000);
  const solelyOwnedPackages: string[] = [];
  for (let i = 0; i < packageIds.length; i += 50) {
    const packages = await Promise.all(packageIds.slice(i, i + 50).map((id) => readDocument<PackageDocument>('packages', id)));
    for (const pkg of packages) {
      if (pkg && pkg.owners.length === 1 && pkg.owners[0].accountId === account.id) solelyOwnedPackages.push(pkg.displayId);
    }
  }
  const organizationsSolelyAdministered: string[] = [];
  for (const membership of account.organizations.filter((o) => o.role === 'admin')) {
    const organization = await accountHolding({ kind: 'username', name: membership.name });
    const admins = organization?.members?.filter((m) => m.role === 'admin') ?? [];
    if (admins.length === 1 && admins[0].accountId === account.id) organizationsSolelyAdministered.push(organization!.username);
  }
  return { solelyOwnedPackages, organizationsSolelyAdministered };
}

/**
 * Schedules the deletion after the grace period. Until the timer processes it the account works as before,
 * so it can be cancelled; asking again answers the schedule already set.
 */
export async function requestDeletion(account: AccountDocument, confirmUsername: string, clientAddress: string) {
  if (confirmUsername !== account.username) {
    throw new Problem('confirmation_mismatch', `Type your username, ${account.username}, exactly to confirm the deletion.`);
  }
  if (account.deletion) return { deletion: account.deletion };
  const now = clock.now();
  const deletion = {
    requestedAt: now.toISOString(),
    scheduledFor: new Date(now.getTime() + settings().ACCOUNT_DELETION_GRACE_PERIOD_HOURS * 60 * 60 * 1000).toISOString(),
  };
  const request: DeletionRequest = {
    id: account.id,
    ...deletion,
    status: 'pending',
    completedSteps: [],
    leaseUntil: null,
    processedAt: null,
    lastError: null,
  };
  // The request is written first: the timer finds requests, not accounts.
  await container('deletions').items.upsert(request);
  const updated = await updateAccount(account.id, (current) => (current.deletion ? undefined : { ...current, deletion }));
  await recordAudit(account.id, 'deletion_requested', clientAddress, { scheduledFor: deletion.scheduledFor });
  return { deletion: updated?.deletion ?? deletion };
}

/** Cancels a deletion that has not started; once the timer has begun, it finishes. */
export async function cancelDeletion(account: AccountDocument, clientAddress: string): Promise<void> {
  const request = await readDocument<DeletionRequest>('deletions', account.id);
  if (request && request.status !== 'cancelled') {
    if (request.status !== 'pending' || request.completedSteps.length > 0 || request.leaseUntil) {
      throw new Problem('deletion_in_progress', 'The deletion of this account has already begun and cannot be cancelled.');
    }
    try {
      await replaceIfUnchanged('deletions', { ...request, status: 'cancelled' as const });
    } catch (error) {
      if (isPreconditionFailed(error) || isConflict(error)) {
        throw new Problem('deletion_in_progress', 'The deletion of this account has already begun and cannot be cancelled.');
      }
      throw error;
    }
  }
  if (!account.deletion) return;
  await updateAccount(account.id, (current) => ({ ...current, deletion: null }));
  await recordAudit(account.id, 'deletion_cancelled', clientAddress);
}
