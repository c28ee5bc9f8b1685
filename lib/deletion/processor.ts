import { recordAudit } from '../shared/audit';
import { clock, nowIso } from '../shared/clock';
import { accountDeletedMessage } from '../shared/email/messages';
import { deliverSoon, queueEmail } from '../shared/email/outbox';
import { dissociatePrefixes } from '../packages/prefixes';
import { dropOwnerInvitation, releaseAllOwnerships } from '../packages/packages';
import { revokeAllKeysOf } from '../packages/apiKeys';
import { removeFromAllOrganizations } from '../organizations/lifecycle';
import { dropInvitation } from '../organizations/membership';
import { container, isNotFound, isPreconditionFailed, readDocument, replaceIfUnchanged } from '../shared/storage/cosmos';
import type { TokenDocument } from '../shared/tokens';
import { readAccount, updateAccount } from '../accounts/account';
import { releaseClaim } from '../accounts/claims';
import { DELETION_STEPS, type DeletionRequest, type DeletionStep } from './request';
import type { Log } from '../shared/log';

/** Longer than one account takes (1,000 packages take seconds); an abandoned lease frees the request after it. */
const LEASE_MS = 10 * 60 * 1000;
const REQUESTS_PER_RUN = 100;


async function queueConfirmation(accountId: string, log: Log): Promise<void> {
  const account = await readAccount(accountId);
  if (!account?.emailAddress) return;
  const email = await queueEmail(accountDeletedMessage(account.username, account.emailAddress), { container: 'deletions', id: accountId }, `account-deleted:${accountId}`);
  await deliverSoon(email, log);
}

/** Invitations to it, owner invitations, transform requests it made or was asked to answer: all gone. */
async function dropPendingRequests(accountId: string): Promise<void> {
  const tokens = container('tokens').items.query<TokenDocument>(
    { query: 'SELECT * FROM c WHERE c.accountId = @id OR c.subjectId = @id', parameters: [{ name: '@id', value: accountId }] },
    { maxItemCount: 100 },
  );
  while (tokens.hasMoreResults()) {
    for (const token of (await tokens.fetchNext()).resources) {
      if (token.purpose === 'organization-invitation' && token.subjectId) await dropInvitation(token.subjectId, token.id);
      if (token.purpose === 'package-owner-invitation' && token.subjectId) await dropOwnerInvitation(token.subjectId, token.id);
      if (token.purpose === 'transform' && token.subjectId && token.subjectId !== accountId) {
        await updateAccount(token.subjectId, (requester) =>
          requester.pendingTransform?.tokenId === token.id ? { ...requester, pendingTransform: null } : undefined,
        );
      }
      try {
        await container('tokens').item(token.id, token.id).delete();
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }
  await updateAccount(accountId, (account) => (account.pendingTransform ? { ...account, pendingTransform: null } : undefined));
}

/** The Microsoft account and the address become free to use again; every session ends. The name stays claimed. */
async function releaseCredentials(accountId: string): Promise<void> {
  const account = await readAccount(accountId);
  if (!account) return;
  const { microsoftAccount, emailAddress } = account;
  await updateAccount(accountId, (current) => ({
    ...current,
    deletedAt: current.deletedAt ?? nowIso(),
    microsoftAccount: null,
    passwordHash: null,
    sessionVersion: current.sessionVersion + 1,
  }));
  if (microsoftAccount) await releaseClaim({ kind: 'microsoft', tid: microsoftAccount.tid, oid: microsoftAccount.oid }, accountId);
  if (emailAddress) await releaseClaim({ kind: 'email', address: emailAddress }, accountId);
}

/**
 * The security log and the account's personal fields go; a tombstone with the username (reserved forever)
 * and one audit record of the deletion stay.
 */
async function removePersonalData(accountId: string, request: DeletionRequest): Promise<void> {
  const events = container('audit').items.query<{ id: string; action: string }>(
    // The WHERE repeats the partition key: the stand-in ignores the option, Cosmos DB then reads one partition.
    { query: 'SELECT c.id, c.action FROM c WHERE c.accountId = @id', parameters: [{ name: '@id', value: accountId }] },
    { partitionKey: accountId, maxItemCount: 100 },
  );
  const stale: string[] = [];
  while (events.hasMoreResults()) {
    for (const event of (await events.fetchNext()).resources) if (event.action !== 'account_deleted') stale.push(event.id);
  }
  for (let i = 0; i < stale.length; i += 20) {
    await Promise.all(
      stale.slice(i, i + 20).map((id) =>
        container('audit').item(id, accountId).delete().catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        }),
      ),
    );
  }
  const account = await updateAccount(accountId, (current) => ({
    ...current,
    emailAddress: '',
    emailConfirmed: false,
    pendingEmailAddress: null,
    organizations: [],
    apiKeyIds: [],
  }));
  const deleted = account ? `${account.username} (requested ${request.requestedAt})` : request.requestedAt;
  await recordAudit(accountId, 'account_deleted', 'system', { account: deleted, processedAt: nowIso() });
}

const STEPS: Record<DeletionStep, (accountId: string, request: DeletionRequest, log: Log) => Promise<unknown>> = {
  confirmation_email: (id, _request, log) => queueConfirmation(id, log),
  api_keys: (id) => revokeAllKeysOf(id),
  packages: (id) => releaseAllOwnerships(id),
  prefixes: (id) => dissociatePrefixes(id),
  organizations: (id) => removeFromAllOrganizations(id),
  invitations: (id) => dropPendingRequests(id),
  credentials: (id) => releaseCredentials(id),
  personal_data: (id, request) => removePersonalData(id, request),
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
    await STEPS[step](request.id, request, log);
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
