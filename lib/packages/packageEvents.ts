import {
  changeRecorded,
  noticeQueued,
  recordAudit,
  recordsAwaitingNotice,
  recordTrailEvent,
  trailRecord,
  type AuditAction,
  type StoredAuditEvent,
  type TrailEvent,
} from '../shared/audit';
import { clock } from '../shared/clock';
import { longLivedKeyPushAlarm, packagePushedNotice, type NoticeContent } from '../shared/email/messages';
import type { Log } from '../shared/log';
import { readDocument } from '../shared/storage/cosmos';
import { readAccount, type AccountDocument } from '../accounts/account';
import { noticeToAll, tellAllNow, type Notice } from '../accounts/notices';
import { auditKeyOf, type ApiKeyDocument } from './apiKeys';
import type { PackageDocument, PackageOwner } from './packages';
import { hasVersion, latestTrustedPublishingPush } from './packageVersions';

/**
 * Where what happens to packages is recorded: every operation on a package records through here, so what
 * is recorded about it (and, later, who is told) is decided in one place. (A prefix is reserved and released
 * only by site admins, whose actions lib/support records.)
 *
 * - A version pushed, unlisted or relisted is one record, in the partition of the owner it was done for:
 *   the key's owner, or the owner a signed-in account acted as. For an account that is its own security
 *   log; for an organization, its trail, naming the member (and the key, by description and id).
 * - A change of owners, or of trusted-publishing-only, is recorded in the actor's own log and in the trail of
 *   every organization it concerns.
 *
 * And who is told: a push, every owner who wants push notices (an organization: its admins, each by their
 * own preference), or, for a long-lived key pushing a package trusted publishing has pushed, every owner
 * whatever their preferences (the alarm); a change of owners or an invitation declined or withdrawn, the owners
 * or the account it concerns, unless they turned such emails off. The push check must stay one write, so its
 * notice (or alarm) travels in its record (`announce`), and the outbox timer queues it from there
 * (`announcePushes`).
 */

/** A signed-in account acting on a package as itself or for an organization it administers. */
export interface SessionActor {
  account: AccountDocument;
  actingAs: PackageOwner;
  clientAddress: string;
}

/** An API key acting for its owner. */
export interface KeyActor {
  key: ApiKeyDocument;
  clientAddress: string;
}

export type PackageActor = SessionActor | KeyActor;

const isKeyActor = (actor: PackageActor): actor is KeyActor => 'key' in actor;

/**
 * The record of a version event and the partition it belongs in. The client address is kept only where the
 * actor acted for itself (its own log); an organization's members do not see each other's addresses.
 */
function versionEvent(action: AuditAction, by: PackageActor, packageId: string, version: string): { ownerId: string; event: TrailEvent } {
  if (isKeyActor(by)) {
    const { key } = by;
    // A key owned by someone other than its holder, or held by an organization, is an organization's (an
    // account's keys are its own): its trail's readers are other people.
    const forItself = key.ownerAccountId === key.creatorAccountId && key.holderKind !== 'organization';
    return {
      ownerId: key.ownerAccountId,
      event: {
        action,
        actor: { accountId: key.creatorAccountId, ...(key.creatorName ? { username: key.creatorName } : {}) },
        // A key trusted publishing made says so (and, in its description, the repository, workflow and run).
        apiKey: auditKeyOf(key),
        details: { package: packageId, version },
        ...(forItself ? { clientAddress: by.clientAddress } : {}),
      },
    };
  }
  const forItself = by.actingAs.accountId === by.account.id;
  return {
    ownerId: by.actingAs.accountId,
    event: {
      action,
      actor: { accountId: by.account.id, username: by.account.username },
      details: { package: packageId, version },
      ...(forItself ? { clientAddress: by.clientAddress } : {}),
    },
  };
}

/**
 * What the record of a push that raises the alarm says among its details: a long-lived key pushed a package that
 * trusted publishing pushes. The trail shows it, and the outbox timer tells the owners from it.
 */
const ALARM_DETAIL = { alert: 'long_lived_key_after_trusted_publishing' } as const;

/**
 * Makes a push and records it in one round trip (see `changeRecorded`): the record's id is fixed by the
 * package and version, which are pushed once. The record carries the push's notice, or, with `alarm`, the
 * alarm to every owner instead (see `announcePush`).
 */
export async function pushRecorded<T>(
  by: KeyActor,
  packageId: string,
  version: { normalized: string; key: string },
  push: () => Promise<T>,
  log: Log,
  { alarm = false }: { alarm?: boolean } = {},
): Promise<T> {
  const { ownerId, event } = versionEvent('package_pushed', by, packageId, version.normalized);
  const id = `push:${packageId.toLowerCase()}:${version.key}`;
  const details = alarm ? { ...event.details, ...ALARM_DETAIL } : event.details;
  const record = trailRecord(ownerId, { ...event, details, id, announce: true });
  const pushed = await changeRecorded(record, push, log);
  // The alarm must not wait for the timer: the push that raises it (never an ordinary one) tells the owners now.
  if (alarm) await announceNow(record as StoredAuditEvent, log);
  return pushed;
}

/** Announces one push from its record, now; on any trouble the record keeps its notice for the timer. */
async function announceNow(record: StoredAuditEvent, log: Log): Promise<void> {
  try {
    await announcePush(record, log);
  } catch (error) {
    log.warn(`The alarm of ${record.id} is left for the outbox timer`, error);
  }
}

/** How long a push's record may wait for its package write to land (a push retried) before its notice is dropped. */
const PUSH_LANDING_GRACE_MS = 10 * 60 * 1000;
/** Pushes announced by one timer run at most; the next run takes the rest. */
const PUSHES_PER_RUN = 200;

/**
 * Queues the notice of each push whose record still carries it: one outbox entry per push, for every owner of
 * the package now, under an id fixed by the push, so two runs at once, or a run after one that died halfway,
 * queue it once. A record whose package never got the version (a push cut short between its two writes) is
 * left for a while, in case the push is retried, then dropped. A push the record marks as the alarm (a
 * long-lived key, after trusted publishing) tells every owner whatever their preferences, in place of the push
 * notice.
 */
export async function announcePushes(log: Log): Promise<number> {
  let announced = 0;
  for (const record of await recordsAwaitingNotice(PUSHES_PER_RUN)) {
    try {
      if (await announcePush(record, log)) announced += 1;
    } catch (error) {
      log.warn(`The notice of ${record.id} is left for the next run`, error);
    }
  }
  return announced;
}

async function announcePush(record: StoredAuditEvent, log: Log): Promise<boolean> {
  const [, packageId, versionKey] = /^push:([^:]+):(.+)$/.exec(record.id) ?? [];
  const pkg = packageId ? await readDocument<PackageDocument>('packages', packageId) : undefined;
  const landed = pkg !== undefined && (await hasVersion(pkg, versionKey));
  if (!landed) {
    if (packageId && clock.now().getTime() - Date.parse(record.at) < PUSH_LANDING_GRACE_MS) return false;
    await noticeQueued(record);
    return false;
  }
  const version = record.details?.version ?? versionKey;
  const pushedWith = { keyId: record.apiKey?.id ?? 'unknown', keyDescription: record.apiKey?.description ?? 'unknown', holder: record.actor?.username };
  const alarm = record.details?.alert === ALARM_DETAIL.alert;
  const content = alarm
    ? longLivedKeyPushAlarm(pkg.displayId, version, pushedWith, await latestTrustedPublishingPush(pkg), { at: record.at })
    : packagePushedNotice(pkg.displayId, version, pushedWith, { at: record.at });
  const owners = pkg.owners.map((owner) => owner.accountId);
  const cause = { container: 'packages' as const, id: pkg.id };
  if (alarm) await tellAllNow(owners, 'security', content, cause, record.id, log);
  else await noticeToAll(owners, 'notifyPackagePushed', content, cause, { onceKey: record.id, afterChange: true });
  await noticeQueued(record);
  return true;
}

/**
 * A notice about a package (owners, invitations) to the accounts and organizations named, unless they turned
 * such emails off; queued before its change, as `announced` (lib/accounts/notices.ts) settles it.
 */
export function packageNotice(packageId: string, accountIds: ReadonlyArray<string | undefined>, content: NoticeContent, onceKey?: string): Promise<Notice> {
  const audience = accountIds.filter((id): id is string => id !== undefined);
  return noticeToAll(audience, 'emailAllowed', content, { container: 'packages', id: packageId.toLowerCase() }, { onceKey });
}

/** Records a version unlisted or relisted: only a real change is recorded. */
export async function recordListingChange(listed: boolean, by: PackageActor, packageId: string, version: string): Promise<void> {
  const { ownerId, event } = versionEvent(listed ? 'package_relisted' : 'package_unlisted', by, packageId, version);
  await recordTrailEvent([ownerId], event);
}

/** The live organizations among these accounts and organizations, by their own documents (point reads). */
export async function organizationsAmong(accountIds: readonly string[]): Promise<string[]> {
  const accounts = await Promise.all([...new Set(accountIds)].map((id) => readAccount(id)));
  return accounts.filter((a): a is AccountDocument => a?.kind === 'organization' && !a.deletedAt).map((a) => a.id);
}

/**
 * Records a change a signed-in account made to a package (its owners, how it may be published): in the actor's
 * own log, and in the trail of every organization among `concerned` (the owners before and after, the owner
 * invited, added or removed).
 */
export async function recordPackageChange(
  action: AuditAction,
  by: { account: AccountDocument; clientAddress: string },
  details: Record<string, string>,
  concerned: readonly string[],
): Promise<void> {
  await recordAudit(by.account.id, action, by.clientAddress, details);
  const organizations = await organizationsAmong(concerned.filter((id) => id !== by.account.id));
  await recordTrailEvent(organizations, { action, actor: { accountId: by.account.id, username: by.account.username }, details });
}
