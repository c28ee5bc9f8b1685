import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { nowIso } from './clock';
import type { Log } from './log';
import { badContinuation, continuationFor, pageQuery, positionIn } from './paging';
import { container, isConflict, isNotFound, isPreconditionFailed, isTransientStoreError } from './storage/cosmos';

export const AUDIT_ACTIONS = [
  'account_registered',
  'signed_in',
  'sign_in_failed',
  'account_locked',
  'signed_out_everywhere',
  'password_reset_requested',
  'password_reset',
  'microsoft_account_changed',
  'email_confirmed',
  'email_change_requested',
  'email_change_cancelled',
  'email_changed',
  'organization_created',
  'organization_deleted',
  'member_invited',
  'invitation_received',
  'invitation_accepted',
  'invitation_rejected',
  'invitation_cancelled',
  'member_role_changed',
  'member_removed',
  'organization_left',
  'transform_requested',
  'transform_cancelled',
  'transform_accepted',
  'transform_rejected',
  'api_key_created',
  'api_key_regenerated',
  'api_key_revoked',
  'api_key_edited',
  'package_owner_invited',
  'package_owner_added',
  'package_owner_removed',
  'package_owner_invitation_rejected',
  'package_owner_invitation_withdrawn',
  'package_pushed',
  'package_unlisted',
  'package_relisted',
  'prefix_reserved',
  'prefix_released',
  'email_confirmation_resent',
  'member_joined',
  'member_left',
  'deletion_requested',
  'deletion_cancelled',
  'account_deleted',
  // Site admins acting for support: on the affected account's log (with the admin and the reason) ...
  'locked_by_support',
  'unlocked_by_support',
  'deletion_scheduled_by_support',
  'username_released_by_support',
  'api_key_revoked_by_support',
  'looked_up_by_support',
  // ... and on the admin's own log.
  'support_action',
  'notification_settings_changed',
  // Trusted publishing: policies added, first used (pinned to the repository's ids) and removed, and the
  // short-lived keys their workflows are given.
  'trusted_publisher_added',
  'trusted_publisher_pinned',
  'trusted_publisher_removed',
  'trusted_publishing_key_created',
  // An organization stopping a compromised member or itself: by its admins, or (frozen, unfrozen) by support.
  'member_keys_revoked',
  'organization_frozen',
  'organization_unfrozen',
  // A package's owner turned trusted-publishing-only on or off: while on, only keys trusted publishing made push it.
  'trusted_publishing_only_enabled',
  'trusted_publishing_only_disabled',
  // The timer checkEmailDomains found the address's domain expired, being deleted or registered again since the
  // address was confirmed: it counts as unconfirmed until an address is confirmed again.
  'email_domain_lapsed',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * Why someone acted (support on an account, an organization's admin freezing it), 1 to 500 characters: a
 * note the records of the action quote.
 */
export const reasonField = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .meta({ examples: ['Published malware; reported by the security team (case 4711).'] });

/** The body of an action whose reason may be left out: `{ reason? }`, `{}`, or no body at all. */
export const optionalReasonBody = z.object({ reason: reasonField.optional() }).strict().optional();

/** Who did what an owner's trail records: a member (by name, which stays after it leaves or is deleted). */
export interface AuditActor {
  accountId: string;
  /** Absent only where the writer could not know it without a read on a hot path (a key made before keys named their maker). */
  username?: string;
}

/** The API key an event was done with. */
export interface AuditApiKey {
  id: string;
  description: string;
  /** A short-lived key a trusted publishing policy gave a GitHub Actions workflow. */
  trustedPublishing?: true;
}

/**
 * One record of the `audit` container, in the partition of the account or organization it belongs to: an
 * account's own security log, or an owner's trail (`trail`: what an organization's members did for it, or
 * what was done to an account's packages, keys and memberships).
 */
export interface AuditEvent {
  id: string;
  accountId: string;
  action: AuditAction;
  at: string;
  /** The address of the account's own request; never kept in an organization's trail, whose readers are other people. */
  clientAddress?: string;
  details?: Record<string, string>;
  actor?: AuditActor;
  apiKey?: AuditApiKey;
  /**
   * Part of the owner's trail. An organization's trail shows only these: a transformed account keeps its
   * id, and its earlier, personal log is not its members' to read.
   */
  trail?: true;
  /**
   * Others are told of this event by email, and the timer has not queued that notice yet: the record itself
   * carries it, so the change that wrote it needed no write of its own for it (a push).
   */
  notice?: 'pending';
}

/** A record as read back, with the ETag that guards a change of it. */
export type StoredAuditEvent = AuditEvent & { _etag?: string };

/** An event of an owner's trail, before it is placed in a partition. */
export interface TrailEvent {
  action: AuditAction;
  actor: AuditActor;
  apiKey?: AuditApiKey;
  details: Record<string, string>;
  /** Only for an event in the actor's own partition (its own security log). */
  clientAddress?: string;
  /** A fixed id makes recording it again (a step that runs twice) a no-op. */
  id?: string;
  /** Others are to be told of it: the record carries the notice until the timer queues it (`recordsAwaitingNotice`). */
  announce?: boolean;
}

/** Appends to the account's security log; a fixed `onceId` makes recording it again (work that may run again) a no-op. */
export async function recordAudit(
  accountId: string,
  action: AuditAction,
  clientAddress: string,
  details?: Record<string, string>,
  onceId?: string,
): Promise<void> {
  const event: AuditEvent = { id: onceId ?? randomUUID(), accountId, action, at: nowIso(), clientAddress, ...(details ? { details } : {}) };
  try {
    await container('audit').items.create(event);
  } catch (error) {
    if (!(onceId !== undefined && isConflict(error))) throw error;
  }
}

/** The record of `event` in the partition of `ownerId`. */
export function trailRecord(ownerId: string, event: TrailEvent): AuditEvent {
  const { action, actor, apiKey, details, clientAddress, id, announce } = event;
  return {
    id: id ?? randomUUID(),
    accountId: ownerId,
    action,
    at: nowIso(),
    ...(clientAddress !== undefined ? { clientAddress } : {}),
    details,
    actor,
    ...(apiKey ? { apiKey } : {}),
    trail: true,
    ...(announce ? { notice: 'pending' as const } : {}),
  };
}

/**
 * Up to `max` records whose notice the timer has still to queue, oldest first: a query across partitions,
 * run by the timer only, that the index answers from the few records marked.
 */
export async function recordsAwaitingNotice(max: number): Promise<StoredAuditEvent[]> {
  const { resources } = await container('audit')
    .items.query<StoredAuditEvent>({
      query: 'SELECT TOP @max * FROM c WHERE c.notice = "pending" ORDER BY c.at',
      parameters: [{ name: '@max', value: max }],
    })
    .fetchAll();
  return resources;
}

/**
 * The record's notice is queued (or will never be: its change did not land). Written under the record's
 * ETag: a record rewritten meanwhile (the same push retried) keeps its mark, and the next run looks again.
 */
export async function noticeQueued(record: StoredAuditEvent): Promise<void> {
  const { notice: _queued, ...rest } = record;
  try {
    await container('audit').item(record.id, record.accountId).replace(rest, { accessCondition: { type: 'IfMatch', condition: record._etag ?? '' } });
  } catch (error) {
    if (!isNotFound(error) && !isPreconditionFailed(error)) throw error;
  }
}

/** Records `event` in the trail of each owner named (an event with a fixed id once per owner, however often it runs). */
export async function recordTrailEvent(ownerIds: readonly string[], event: TrailEvent): Promise<void> {
  await Promise.all(
    [...new Set(ownerIds)].map(async (ownerId) => {
      try {
        await container('audit').items.create(trailRecord(ownerId, event));
      } catch (error) {
        if (!(event.id !== undefined && isConflict(error))) throw error;
      }
    }),
  );
}

/**
 * Makes `change` and writes `record` at the same time, so recording costs no second round trip. The
 * record's id is fixed by what it records (a version is pushed once), which settles every way the two can
 * part: a change that fails takes back the record it wrote (only while it is still the one it wrote); a
 * change that succeeds where a record of the same id was there already (a retry of a request that died
 * between the two, or a simultaneous request for the same thing that is about to fail) writes its own over
 * it. A record that cannot be written at all after the change landed is logged as an error rather than
 * failing a change that has been made.
 */
export async function changeRecorded<T>(record: AuditEvent, change: () => Promise<T>, log: Log): Promise<T> {
  const [changed, recorded] = await Promise.allSettled([change(), container('audit').items.create(record)]);
  if (changed.status === 'rejected') {
    if (recorded.status === 'fulfilled') await takeBack(record, recorded.value.resource?._etag, log);
    throw changed.reason;
  }
  if (recorded.status === 'rejected') {
    try {
      await container('audit').items.upsert(record);
    } catch (error) {
      log.error(`The audit record ${record.id} of a change that was made could not be written`, error);
    }
  }
  return changed.value;
}

async function takeBack(record: AuditEvent, etag: string | undefined, log: Log): Promise<void> {
  try {
    await container('audit').item(record.id, record.accountId).delete({ accessCondition: { type: 'IfMatch', condition: etag ?? '' } });
  } catch (error) {
    // Gone, or rewritten by the request whose change succeeded: either way not this one's to remove.
    if (!isNotFound(error) && !isPreconditionFailed(error)) log.error(`The audit record ${record.id} of a change that failed could not be removed`, error);
  }
}

export const auditQuery = pageQuery(100);

export const auditPage = z.object({
  events: z.array(
    z.object({
      at: z.string(),
      action: z.enum(AUDIT_ACTIONS),
      clientAddress: z.string(),
      details: z.record(z.string(), z.string()).optional(),
    }),
  ),
  continuationToken: z.string().nullable(),
});

/** What a continuation token pages: an account's own log, or an owner's trail. */
type Pager = 'audit' | 'trail';

/**
 * One page of the events in one partition, newest first: a query within the partition. The continuation
 * token is Cosmos DB's, signed and wrapped so it travels safely in a URL (lib/shared/paging.ts).
 */
async function readPage(pager: Pager, accountId: string, pageSize: number, continuationToken: string | undefined) {
  const continuation = continuationToken === undefined ? undefined : positionIn(pager, accountId, continuationToken);
  const onlyTrail = pager === 'trail' ? ' AND c.trail = true' : '';
  const iterator = container('audit').items.query<AuditEvent>(
    { query: `SELECT * FROM c WHERE c.accountId = @accountId${onlyTrail} ORDER BY c.at DESC`, parameters: [{ name: '@accountId', value: accountId }] },
    { partitionKey: accountId, maxItemCount: pageSize, continuationToken: continuation },
  );
  let page;
  try {
    page = await iterator.fetchNext();
  } catch (error) {
    // The token is the caller's to tamper with; whatever the SDK makes of a bad one is the caller's error.
    if (continuation !== undefined && !isTransientStoreError(error)) throw badContinuation();
    throw error;
  }
  return {
    events: page.resources,
    continuationToken: page.continuationToken ? continuationFor(pager, accountId, page.continuationToken) : null,
  };
}

/** The key an event was done with, as the account's own log shows it: among the details, as key events show theirs. */
const withKeyDetails = ({ details, apiKey }: AuditEvent): Record<string, string> | undefined =>
  apiKey
    ? { ...details, keyId: apiKey.id, keyDescription: apiKey.description, ...(apiKey.trustedPublishing ? { trustedPublishing: 'true' } : {}) }
    : details;

/** One page of the account's own log, newest first. */
export async function readAuditLog(accountId: string, pageSize = 20, continuationToken?: string): Promise<z.infer<typeof auditPage>> {
  const page = await readPage('audit', accountId, pageSize, continuationToken);
  return {
    events: page.events.map((event) => {
      const details = withKeyDetails(event);
      return { at: event.at, action: event.action, clientAddress: event.clientAddress ?? 'unknown', ...(details ? { details } : {}) };
    }),
    continuationToken: page.continuationToken,
  };
}

/** One page of an owner's trail, newest first, as stored (the owner's domain says who may read it and how it shows). */
export async function readTrail(ownerId: string, pageSize = 20, continuationToken?: string): Promise<{ events: AuditEvent[]; continuationToken: string | null }> {
  return readPage('trail', ownerId, pageSize, continuationToken);
}

/** Erases an account's security log (account deletion), all but the record of the deletion itself. */
export async function eraseAuditLog(accountId: string): Promise<void> {
  const events = container('audit').items.query<{ id: string; action: AuditAction }>(
    // The WHERE repeats the partition key: the stand-in ignores the option, Cosmos DB then reads one partition.
    { query: 'SELECT c.id, c.action FROM c WHERE c.accountId = @id', parameters: [{ name: '@id', value: accountId }] },
    { partitionKey: accountId, maxItemCount: 100 },
  );
  const erased: string[] = [];
  while (events.hasMoreResults()) {
    for (const event of (await events.fetchNext()).resources) if (event.action !== 'account_deleted') erased.push(event.id);
  }
  for (let i = 0; i < erased.length; i += 20) {
    await Promise.all(
      erased.slice(i, i + 20).map((id) =>
        container('audit').item(id, accountId).delete().catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        }),
      ),
    );
  }
}
