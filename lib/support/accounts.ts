import { z } from 'zod';
import { nowIso } from '../shared/clock';
import type { Log } from '../shared/log';
import { Problem } from '../shared/problems';
import { readDeletionRequest, deletionState, scheduleDeletionNow } from '../deletion/request';
import { setFreeze } from '../organizations/freeze';
import { frozenView, roleField, type OrganizationDocument } from '../organizations/organization';
import { matchKeysToSuspension } from '../packages/apiKeys';
import { setAccountLock, updateAccount, type AccountDocument } from '../accounts/account';
import { accountHolding, releaseDeletedName } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { recordSupportAction } from './actions';

/** `{username}`: an account or organization, by the name it holds (or held, once deleted). */
export const supportAccountParams = z.object({ username: usernameField });

const lockView = z.object({ lockedAt: z.string(), lockedBy: z.string().describe('The site admin who locked it'), reason: z.string() });

/**
 * An account or organization as support sees it. Of an individual account: its addresses, the type and email
 * of its Microsoft account (never the tenant or object id), whether it has a password, its organizations.
 * Of an organization: its address and its members and invitations, by username and role. Of both: when it
 * was created, its lock and its deletion, and, once deleted, when (a deleted one keeps only its name).
 */
export const supportAccountView = z.object({
  id: z.string(),
  username: z.string(),
  kind: z.enum(['user', 'organization']),
  emailAddress: z.string().nullable().describe('null once deleted'),
  emailConfirmed: z.boolean(),
  emailDomainLapsed: z
    .object({
      domain: z.string(),
      reason: z.enum(['expired', 'pending_delete', 'reregistered']),
      eventDate: z.string().nullable(),
      detectedAt: z.string(),
    })
    .nullable()
    .describe('Set while the address counts as unconfirmed because RDAP showed its domain expired, being deleted, or registered again since it was confirmed'),
  pendingEmailAddress: z.string().nullable().optional().describe('individual accounts only'),
  microsoftAccount: z
    .object({ accountType: z.enum(['personal', 'work']), email: z.string().nullable() })
    .nullable()
    .optional()
    .describe('individual accounts only'),
  hasPassword: z.boolean().optional().describe('individual accounts only'),
  organizations: z.array(z.object({ name: z.string(), role: roleField })).optional().describe('individual accounts only'),
  members: z.array(z.object({ username: z.string(), role: roleField })).optional().describe('organizations only'),
  pendingInvitations: z
    .array(z.object({ username: z.string(), role: roleField, invitedAt: z.string(), expiresAt: z.string() }))
    .optional()
    .describe('organizations only'),
  frozen: frozenView.optional().describe('organizations only: set while it is frozen (by its admins, or support)'),
  createdAt: z.string(),
  locked: lockView.nullable().describe('Set while support has it locked'),
  deletion: z
    .object({
      requestedAt: z.string(),
      scheduledFor: z.string(),
      requestedBy: z.enum(['account', 'support']),
      status: z.enum(['scheduled', 'processing', 'completed']),
    })
    .nullable(),
  deletedAt: z.string().nullable(),
});

type SupportAccountView = z.infer<typeof supportAccountView>;

async function toSupportView(account: AccountDocument): Promise<SupportAccountView> {
  const common = {
    id: account.id,
    username: account.username,
    kind: account.kind,
    emailAddress: account.emailAddress || null,
    emailConfirmed: account.emailConfirmed,
    emailDomainLapsed: account.emailDomainLapsed ?? null,
    createdAt: account.createdAt,
    locked: account.lock ?? null,
    deletion: deletionState(await readDeletionRequest(account.id)) ?? null,
    deletedAt: account.deletedAt ?? null,
  };
  if (account.kind === 'organization') {
    return {
      ...common,
      members: (account.members ?? []).map(({ username, role }) => ({ username, role })),
      pendingInvitations: (account.pendingInvitations ?? []).map(({ username, role, invitedAt, expiresAt }) => ({ username, role, invitedAt, expiresAt })),
      frozen: account.frozen ?? null,
    };
  }
  const linked = account.microsoftAccount;
  return {
    ...common,
    pendingEmailAddress: account.pendingEmailAddress,
    microsoftAccount: linked ? { accountType: linked.accountType, email: linked.email } : null,
    hasPassword: account.passwordHash !== null,
    organizations: account.organizations,
  };
}

/** The account or organization holding the name, deleted ones included. */
async function accountNamed(username: string): Promise<AccountDocument> {
  const account = await accountHolding({ kind: 'username', name: username });
  if (!account) throw new Problem('not_found', `There is no account or organization named '${username}'.`);
  return account;
}

/** Only what is not deleted can be locked or unlocked: a deleted account has no sessions or keys left. */
async function liveAccountNamed(username: string): Promise<AccountDocument> {
  const account = await accountNamed(username);
  if (account.deletedAt) throw new Problem('not_found', `'${account.username}' has been deleted: there is nothing left to lock or unlock.`);
  return account;
}

/** The account as support sees it; the look-up is recorded where the account's people read (a deleted one's too). */
export async function getAccountForSupport(admin: AccountDocument, username: string, clientAddress: string): Promise<SupportAccountView> {
  const account = await accountNamed(username);
  await recordSupportAction(admin, account, { action: 'looked_up_by_support' }, clientAddress);
  return toSupportView(account);
}

/**
 * Locks an account or organization: it cannot sign in, its sessions answer 401 from the next request on
 * (on every instance: the lock is on the document each session check reads), and every key it holds or
 * owns is suspended before this answers. Locking a locked account keeps the first lock and finishes the
 * suspension of its keys, should an earlier lock have stopped halfway.
 */
export async function lockAccount(admin: AccountDocument, username: string, reason: string, clientAddress: string): Promise<SupportAccountView> {
  const target = await liveAccountNamed(username);
  const { account, changed } = await setAccountLock(target.id, { lockedAt: nowIso(), lockedBy: admin.username, reason });
  // Recorded before the keys are swept, as a freeze is: a lock cut short is still recorded, and locking again finishes the sweep.
  if (changed) await recordSupportAction(admin, target, { action: 'locked_by_support', reason }, clientAddress);
  await matchKeysToSuspension(target.id, 'lock');
  return toSupportView(account ?? target);
}

/**
 * Unlocks it: it may sign in again (its sessions from before stay ended) and the keys the lock suspended work
 * again, unless they were revoked or expired meanwhile, or another lock (its owner's) still holds them.
 */
export async function unlockAccount(admin: AccountDocument, username: string, reason: string | undefined, clientAddress: string): Promise<SupportAccountView> {
  const target = await liveAccountNamed(username);
  const { account, changed } = await setAccountLock(target.id, null);
  if (changed) await recordSupportAction(admin, target, { action: 'unlocked_by_support', reason }, clientAddress);
  await matchKeysToSuspension(target.id, 'lock');
  return toSupportView(account ?? target);
}

/**
 * Freezes an organization (`frozen`) or unfreezes it for support, as its admins can (lib/organizations/freeze.ts):
 * every admin is told, and the change is recorded in its trail, naming the site admin, and on the admin's own log.
 * Freezing a frozen organization keeps the first freeze and finishes suspending its keys.
 */
export async function setFreezeForSupport(
  admin: AccountDocument,
  name: string,
  change: { frozen: true; reason: string } | { frozen: false; reason?: string },
  clientAddress: string,
  log: Log,
): Promise<SupportAccountView> {
  const target = await liveAccountNamed(name);
  if (target.kind !== 'organization') {
    throw new Problem('not_found', `'${target.username}' is not an organization: only organizations are frozen (support locks an account).`);
  }
  const { reason } = change;
  const freeze = change.frozen ? { at: nowIso(), by: admin.username, reason: change.reason } : null;
  const action = freeze ? 'organization_frozen' : 'organization_unfrozen';
  const organization = await setFreeze(target as OrganizationDocument, freeze, { username: admin.username, support: true }, reason, log, {
    record: () => recordSupportAction(admin, target, { action, reason }, clientAddress),
  });
  return toSupportView(organization);
}

/**
 * Schedules the deletion of an account or organization due now; the timer processAccountDeletions does the
 * rest on its next run, as for a deletion the account asked for. A deleted one is answered as it is.
 */
export async function scheduleAccountDeletion(
  admin: AccountDocument,
  username: string,
  reason: string | undefined,
  clientAddress: string,
): Promise<SupportAccountView> {
  const target = await accountNamed(username);
  if (target.deletedAt) return toSupportView(target);
  const deletion = await scheduleDeletionNow(target, { siteAdmin: admin.username, reason: reason ?? null });
  const details = { scheduledFor: deletion.scheduledFor };
  await recordSupportAction(admin, target, { action: 'deletion_scheduled_by_support', reason, details }, clientAddress);
  return toSupportView(target);
}

export const releasedUsernameView = z.object({ username: z.string(), releasedAt: z.string() });

/**
 * Lets a deleted account's or organization's name be registered again: 409 `username_in_use` while an
 * account holds it (or a registration is taking it), 409 `site_admin_name` for a name in SITE_ADMINS, 404
 * when no account holds it. The tombstone keeps when its name was released, and its security log says by whom.
 */
export async function releaseUsername(
  admin: AccountDocument,
  username: string,
  reason: string | undefined,
  clientAddress: string,
): Promise<z.infer<typeof releasedUsernameView>> {
  const released = await releaseDeletedName(username);
  if (released.outcome === 'site_admin_name') {
    throw new Problem(
      'site_admin_name',
      `The name '${username}' is in SITE_ADMINS, so whoever registered it would be a site admin: take it out of SITE_ADMINS first if it must be released.`,
    );
  }
  if (released.outcome === 'in_use') {
    throw new Problem('username_in_use', `The name '${username}' belongs to an account that is not deleted: it cannot be released.`);
  }
  if (released.outcome !== 'released') {
    throw new Problem('not_found', `No account holds the name '${username}': it can be registered as it is.`);
  }
  const releasedAt = nowIso();
  const tombstone = released.account;
  await updateAccount(tombstone.id, (current) => ({ ...current, usernameReleasedAt: releasedAt }));
  await recordSupportAction(admin, tombstone, { action: 'username_released_by_support', reason }, clientAddress);
  return { username: tombstone.username, releasedAt };
}
