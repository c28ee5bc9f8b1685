import { clock, nowIso } from '../shared/clock';
import { eraseAuditLog } from '../shared/audit';
import type { Log } from '../shared/log';
import { container, isPreconditionFailed, readDocument, replaceIfUnchanged } from '../shared/storage/cosmos';
import { dropTokensConcerning } from '../shared/tokens';
import { revokeAllKeysOf, revokeKeysOwnedBy } from '../packages/apiKeys';
import { dropOwnerInvitationsOf, withdrawInvitationsSentFor } from '../packages/owners';
import { releaseAllOwnerships } from '../packages/packages';
import { dissociatePrefixes } from '../packages/prefixes';
import { dissolveOrganization, removeFromAllOrganizations } from '../organizations/lifecycle';
import { dropInvitationsTo } from '../organizations/membership';
import { dropTransformRequests } from '../organizations/transform';
import { deleteTrustedPublishersOf } from '../trustedPublishing/store';
import { releaseCredentials, removePersonalFields } from '../accounts/erasure';
import { announceDeletion, DELETION_STEPS, recordDeletion, type DeletionRequest, type DeletionStep } from './request';

/** Longer than one account takes (1,000 packages take seconds); an abandoned lease frees the request after it. */
const LEASE_MS = 10 * 60 * 1000;
const REQUESTS_PER_RUN = 100;

type Step = (accountId: string, run: { request: DeletionRequest; log: Log }) => Promise<unknown>;

/**
 * What each step does, in the order of DELETION_STEPS: the functions of the domains that own the data, in
 * turn. Each can run again without harm, so a step that stopped halfway is simply run again.
 */
const STEPS: Record<DeletionStep, Step[]> = {
  confirmation_email: [(id, { request, log }) => announceDeletion(id, request, log)],
  // Its trusted publishing policies first, so none makes a key meanwhile; then the keys it holds, and any
  // key it owns that someone else holds (whose holder is told).
  api_keys: [deleteTrustedPublishersOf, revokeAllKeysOf, (id, { log }) => revokeKeysOwnedBy(id, log)],
  // Its ownerships go, then the invitations sent for it, which died with them (their invitees are told).
  packages: [(id) => releaseAllOwnerships(id), (id, { log }) => withdrawInvitationsSentFor(id, log)],
  prefixes: [dissociatePrefixes],
  // Out of every organization it belongs to; an organization (support deletes those too) loses its members.
  organizations: [(id, { log }) => removeFromAllOrganizations(id, log), dissolveOrganization],
  // Invitations to it, owner invitations to it and from it, transform requests it made or was asked to answer; then their tokens.
  invitations: [dropInvitationsTo, dropOwnerInvitationsOf, dropTransformRequests, dropTokensConcerning],
  // Once its credentials are released (its sessions end, it counts as deleted), the keys again: a key made while the
  // steps before ran, with a session it still had, goes too; from here on none can be made for it (a key being made
  // at this moment finds it deleted once it exists, and is revoked).
  credentials: [releaseCredentials, revokeAllKeysOf, (id, { log }) => revokeKeysOwnedBy(id, log)],
  personal_data: [eraseAuditLog, removePersonalFields, (id, { request }) => recordDeletion(id, request)],
};

/** Takes the request for this run, unless another run holds it; the ETag makes the take exclusive. */
async function lease(request: DeletionRequest): Promise<DeletionRequest | undefined> {
  const now = clock.now().getTime();
  if (request.leaseUntil && Date.parse(request.leaseUntil) > now) return undefined;
  try {
    return await replaceIfUnchanged('deletions', { ...request, status: 'processing' as const, leaseUntil: new Date(now + LEASE_MS).toISOString() });
  } catch (error) {
    if (isPreconditionFailed(error)) return undefined;
    throw error;
  }
}

/** Runs the steps not yet done, recording each as it completes, so a run that dies is resumed by the next. */
async function process(leased: DeletionRequest, log: Log): Promise<void> {
  let request = leased;
  for (const step of DELETION_STEPS) {
    if (request.completedSteps.includes(step)) continue;
    for (const run of STEPS[step]) await run(request.id, { request, log });
    request = await replaceIfUnchanged('deletions', { ...request, completedSteps: [...request.completedSteps, step] });
  }
  await replaceIfUnchanged('deletions', { ...request, status: 'completed' as const, leaseUntil: null, processedAt: nowIso(), lastError: null });
}

/** One timer run: every request whose grace period has passed, oldest first. */
export async function processAccountDeletions(log: Log): Promise<{ processed: number; failed: number }> {
  const due = container('deletions').items.query<DeletionRequest>(
    {
      query:
        'SELECT TOP @max * FROM c WHERE (c.status = "pending" OR c.status = "processing") AND c.scheduledFor <= @now ORDER BY c.scheduledFor',
      parameters: [
        { name: '@now', value: nowIso() },
        { name: '@max', value: REQUESTS_PER_RUN },
      ],
    },
  );
  const { resources } = await due.fetchAll();
  const tally = { processed: 0, failed: 0 };
  for (const candidate of resources) {
    const leased = await lease(candidate);
    if (!leased) continue;
    try {
      await process(leased, log);
      tally.processed += 1;
    } catch (error) {
      tally.failed += 1;
      log.error(`Deletion of ${candidate.id} stopped; the next run resumes it`, error);
      const current = await readDocument<DeletionRequest>('deletions', candidate.id);
      if (current) {
        await replaceIfUnchanged('deletions', { ...current, leaseUntil: null, lastError: error instanceof Error ? error.message.slice(0, 500) : String(error) }).catch(
          () => undefined,
        );
      }
    }
  }
  return tally;
}
