import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { clock, nowIso } from '../shared/clock';
import { Problem } from '../shared/problems';
import { settings } from '../shared/settings';
import { createOrUpdateDocument, isConflict, readDocument, replaceIfUnchanged, isPreconditionFailed, type StoredDocument } from '../shared/storage/cosmos';
import { accountDeletedBySupportMessage, accountDeletedMessage } from '../shared/email/messages';
import { deliverSoon, queueEmail } from '../shared/email/outbox';
import type { Log } from '../shared/log';
import { organizationsSolelyAdministered } from '../organizations/organization';
import { solelyOwnedPackages } from '../packages/packages';
import { hasTrustedAddress, readAccount, updateAccount, type AccountDocument } from '../accounts/account';

/**
 * The steps of processing a deletion, in the order they run, under the names deletion documents record as
 * done: stored, so never renamed. lib/deletion/processor.ts says what each does.
 */
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
  /** Set when a site admin scheduled it (support): the account cannot cancel it, and is told who deleted it. */
  requestedBy?: SupportRequest;
}

export interface SupportRequest {
  siteAdmin: string;
  reason: string | null;
}

/** What a deletion looks like to support: who asked, and how far the timer has got. */
export interface DeletionState {
  requestedAt: string;
  scheduledFor: string;
  requestedBy: 'account' | 'support';
  status: 'scheduled' | 'processing' | 'completed';
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
  const packages = await solelyOwnedPackages(account.id);
  const organizations = await organizationsSolelyAdministered(account);
  return { solelyOwnedPackages: packages, organizationsSolelyAdministered: organizations };
}

/**
 * Schedules the deletion after the grace period. Until the timer processes it the account works as before,
 * so it can be cancelled; asking again answers the schedule already set. A request support made, also one
 * made at the same moment, stands: it is answered, never replaced.
 */
export async function requestDeletion(account: AccountDocument, confirmUsername: string, clientAddress: string) {
  if (confirmUsername !== account.username) {
    throw new Problem('confirmation_mismatch', `Type your username, ${account.username}, exactly to confirm the deletion.`);
  }
  if (account.deletion) return { deletion: account.deletion };
  const now = clock.now();
  const asked = {
    requestedAt: now.toISOString(),
    scheduledFor: new Date(now.getTime() + settings().ACCOUNT_DELETION_GRACE_PERIOD_HOURS * 60 * 60 * 1000).toISOString(),
  };
  // The request is written first: the timer finds requests, not accounts.
  const request = await writeRequest(account.id, (current) => (isOpen(current) ? undefined : newRequest(account.id, asked)));
  const deletion = { requestedAt: request.requestedAt, scheduledFor: request.scheduledFor };
  const updated = await updateAccount(account.id, (current) => (current.deletion ? undefined : { ...current, deletion }));
  await recordAudit(account.id, 'deletion_requested', clientAddress, { scheduledFor: deletion.scheduledFor });
  return { deletion: updated?.deletion ?? deletion };
}

const newRequest = (id: string, deletion: { requestedAt: string; scheduledFor: string }, requestedBy?: SupportRequest): DeletionRequest => ({
  id,
  ...deletion,
  status: 'pending',
  completedSteps: [],
  leaseUntil: null,
  processedAt: null,
  lastError: null,
  ...(requestedBy ? { requestedBy } : {}),
});

/** A request the timer will process or has processed: pending, processing or completed, not cancelled. */
const isOpen = (request: DeletionRequest | undefined): request is DeletionRequest => request !== undefined && request.status !== 'cancelled';

/**
 * Writes the account's request without ever overwriting one written at the same moment (the account's and
 * support's may cross): created only if absent, else changed under the ETag it was read with, and looked at
 * again by `change` (`undefined`: leave it) whenever the other landed first. A new request in place of a
 * cancelled one keeps that one's ETag, so it too replaces only what was read.
 */
async function writeRequest(accountId: string, change: (current: DeletionRequest | undefined) => DeletionRequest | undefined): Promise<DeletionRequest> {
  const request = await createOrUpdateDocument<DeletionRequest>('deletions', accountId, (current) => {
    const next = change(current);
    return next && current ? { ...next, _etag: current._etag } : next;
  });
  if (!request) throw new Error(`The deletion request of ${accountId} vanished while it was written`);
  return request;
}

/**
 * Support's deletion of an account or organization: due now, so the timer's next run processes it, by the
 * same steps as one the account asked for; the account cannot cancel it. A deletion the account asked for
 * (also at the same moment) is brought forward; one the timer has begun is left to finish.
 */
export async function scheduleDeletionNow(account: AccountDocument, requestedBy: SupportRequest): Promise<DeletionState> {
  const now = nowIso();
  const request = await writeRequest(account.id, (current) => {
    if (!isOpen(current)) return newRequest(account.id, { requestedAt: now, scheduledFor: now }, requestedBy);
    return current.status === 'pending' ? { ...current, scheduledFor: now, requestedBy } : undefined;
  });
  const { requestedAt, scheduledFor } = request;
  await updateAccount(account.id, (current) =>
    current.deletion?.scheduledFor === scheduledFor ? undefined : { ...current, deletion: { requestedAt, scheduledFor } },
  );
  return deletionState(request)!;
}

/** The deletion of an account as support sees it, from its request; undefined when none is on the way. */
export function deletionState(request: DeletionRequest | undefined): DeletionState | undefined {
  if (!request || request.status === 'cancelled') return undefined;
  const status = request.status === 'pending' ? 'scheduled' : request.status;
  return { requestedAt: request.requestedAt, scheduledFor: request.scheduledFor, requestedBy: request.requestedBy ? 'support' : 'account', status };
}

export const readDeletionRequest = (accountId: string) => readDocument<DeletionRequest>('deletions', accountId);

/** Cancels a deletion that has not started; once the timer has begun, it finishes. Support's is not the account's to cancel. */
export async function cancelDeletion(account: AccountDocument, clientAddress: string): Promise<void> {
  const request = await readDocument<DeletionRequest>('deletions', account.id);
  if (request?.requestedBy && request.status !== 'cancelled') {
    throw new Problem('deletion_in_progress', 'Support scheduled the deletion of this account; it cannot be cancelled here. Contact support.');
  }
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
  const cancelled = account.deletion;
  if (!cancelled) return;
  // Only the deletion this cancelled leaves the account: one support scheduled since shows, as it stands.
  await updateAccount(account.id, (current) =>
    current.deletion?.requestedAt === cancelled.requestedAt && current.deletion.scheduledFor === cancelled.scheduledFor ? { ...current, deletion: null } : undefined,
  );
  await recordAudit(account.id, 'deletion_cancelled', clientAddress);
}

/**
 * Tells the account's address that the deletion is done (a notice: only an address the account confirmed);
 * queued once, however often the step runs.
 */
export async function announceDeletion(accountId: string, request: DeletionRequest, log: Log): Promise<void> {
  const account = await readAccount(accountId);
  if (!account || !hasTrustedAddress(account)) return;
  const message = (request.requestedBy ? accountDeletedBySupportMessage : accountDeletedMessage)(account.username, account.emailAddress);
  const email = await queueEmail(message, { container: 'deletions', id: accountId }, `account-deleted:${accountId}`);
  await deliverSoon(email, log);
}

/** The one record an erased security log keeps: whose deletion was processed, asked for when, and by which site admin. */
export async function recordDeletion(accountId: string, request: DeletionRequest): Promise<void> {
  const account = await readAccount(accountId);
  const deleted = account ? `${account.username} (requested ${request.requestedAt})` : request.requestedAt;
  const bySupport = request.requestedBy
    ? { siteAdmin: request.requestedBy.siteAdmin, ...(request.requestedBy.reason ? { reason: request.requestedBy.reason } : {}) }
    : {};
  await recordAudit(accountId, 'account_deleted', 'system', { account: deleted, processedAt: nowIso(), ...bySupport });
}
