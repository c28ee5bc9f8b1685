import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { nowIso } from '../shared/clock';
import { confirmOrganizationEmailMessage, memberRemovedNotice, memberRoleChangedNotice } from '../shared/email/messages';
import { deliverSoon, queueEmail } from '../shared/email/outbox';
import { Problem } from '../shared/problems';
import { enforceEmailingLimits } from '../shared/rateLimits';
import { container } from '../shared/storage/cosmos';
import { issueToken } from '../shared/tokens';
import { hasTrustedAddress, newAccountDocument, readAccount, tokenRecipient, type AccountDocument, type Member } from '../accounts/account';
import { noticeToAll } from '../accounts/notices';
import { accountHolding, releaseClaim, withClaims, type ClaimKey } from '../accounts/claims';
import { CONFIRMATION_LIFETIME_MS } from '../accounts/emailAddress';
import { forgetConfirmedAddress } from '../accounts/emailDomains/addressIndex';
import { assertValidUsername, emailAddressField, emailInUse, newUsernameField, normaliseEmail, usernameUnavailable } from '../accounts/names';
import { revokeKeysOwnedBy } from '../packages/apiKeys';
import { withdrawInvitationsSentFor } from '../packages/owners';
import { ownedPackageIds } from '../packages/packages';
import { assertAdmin, mirrorMembership, organizationForAdmin, roleOf, toOrganizationView, updateOrganization, type OrganizationDocument } from './organization';
import { ORGANIZATION_EMAIL_LIMITS } from './rateLimits';
import { recordMembershipChange } from './trail';
import type { Log } from '../shared/log';
import type { EmailCause } from '../shared/email/outbox';

export const createOrganizationBody = z.object({ name: newUsernameField, emailAddress: emailAddressField }).strict();

/**
 * Creates an organization in the username namespace with the caller as its admin. Like a registration, it
 * claims the name and the address first and gives them back if it cannot finish. The address gets a
 * confirmation link: limited per caller and per address.
 */
export async function createOrganization(
  input: z.infer<typeof createOrganizationBody>,
  caller: AccountDocument,
  clientAddress: string,
  log: Log,
) {
  assertValidUsername(input.name);
  if (!hasTrustedAddress(caller)) {
    throw new Problem('email_unconfirmed', 'Confirm your own email address before you create an organization.');
  }
  await enforceEmailingLimits(ORGANIZATION_EMAIL_LIMITS.creation, caller.id, normaliseEmail(input.emailAddress));
  const id = randomUUID();
  const keys: Array<[ClaimKey, Problem]> = [
    [{ kind: 'username', name: input.name }, usernameUnavailable(input.name)],
    [{ kind: 'email', address: input.emailAddress }, emailInUse(input.emailAddress)],
  ];
  const organization: OrganizationDocument = {
    ...newAccountDocument({ id, kind: 'organization', username: input.name, emailAddress: input.emailAddress, microsoftAccount: null }),
    kind: 'organization',
    members: [{ accountId: caller.id, username: caller.username, role: 'admin' }],
    pendingInvitations: [],
  };
  const email = await withClaims(id, keys, async () => {
    const token = await issueToken('confirm-email', tokenRecipient(organization), CONFIRMATION_LIFETIME_MS);
    const queued = await queueEmail(confirmOrganizationEmailMessage(input.name, input.emailAddress, token), { container: 'accounts', id });
    await container('accounts').items.create({ ...organization, emailConfirmationTokenId: token.id });
    return queued;
  });
  await mirrorMembership(caller.id, organization.username, 'admin');
  await recordAudit(caller.id, 'organization_created', clientAddress, { organization: organization.username });
  await recordMembershipChange(organization.id, 'organization_created', caller, { member: caller.username, role: 'admin' });
  await deliverSoon(email, log);
  return toOrganizationView(organization, caller.id);
}

/** Only its last member, an admin, deletes an organization. */
function assertDeletable(organization: OrganizationDocument, caller: AccountDocument): void {
  assertAdmin(organization, caller);
  const others = organization.members.filter((member) => member.accountId !== caller.id);
  if (others.length > 0) {
    throw new Problem(
      'organization_not_empty',
      `'${organization.username}' still has ${others.length === 1 ? 'a member' : `${others.length} members`}: ${others.map((m) => m.username).join(', ')}. Remove ${others.length === 1 ? 'them' : 'them all'} first.`,
    );
  }
}

const asDeleted = (organization: OrganizationDocument): OrganizationDocument => ({
  ...organization,
  members: [],
  pendingInvitations: [],
  deletedAt: nowIso(),
});

/** A deleted organization's address is free to use again, and leaves the index of confirmed addresses. */
async function releaseAddress(organization: OrganizationDocument): Promise<void> {
  await releaseClaim({ kind: 'email', address: organization.emailAddress }, organization.id);
  await forgetConfirmedAddress(organization.id, organization.emailAddress);
}

/**
 * Takes a deleted account out of every organization it belongs to. An organization it alone belonged to is
 * deleted (its name stays reserved); where only collaborators remain, they all become admins. The trail
 * of each organization it leaves records it, and its admins are told (as are the collaborators made admins).
 * The owner invitations it sent for an organization are withdrawn. Runs again without harm.
 */
export async function removeFromAllOrganizations(accountId: string, log: Log): Promise<void> {
  const account = await readAccount(accountId);
  for (const membership of account?.organizations ?? []) {
    const found = await accountHolding({ kind: 'username', name: membership.name });
    let deleted = Boolean(found?.kind === 'organization' && found.deletedAt);
    if (account && found?.kind === 'organization' && !found.deletedAt) {
      let promoted: Member[] = [];
      let removed = false;
      const updated = await updateOrganization(found.id, (current) => {
        removed = Boolean(roleOf(current, accountId));
        if (!removed) return undefined;
        const members = current.members.filter((m) => m.accountId !== accountId);
        if (members.length === 0) return asDeleted(current);
        const keepsAnAdmin = members.some((m) => m.role === 'admin');
        promoted = keepsAnAdmin ? [] : members;
        return { ...current, members: keepsAnAdmin ? members : members.map((m) => ({ ...m, role: 'admin' as const })) };
      });
      if (removed) {
        const reason = { reason: 'account_deleted' };
        await recordMembershipChange(found.id, 'member_left', account, { member: account.username, ...reason }, `left:${accountId}`);
        for (const member of promoted) await recordMembershipChange(found.id, 'member_role_changed', account, { member: member.username, role: 'admin', ...reason });
        if (!updated?.deletedAt) await tellAdminsOfDeletedMember(found, account, promoted);
      }
      if (updated?.deletedAt) await releaseAddress(updated);
      if (updated) for (const member of updated.members) await mirrorMembership(member.accountId, updated.username, member.role);
      deleted = Boolean(updated?.deletedAt);
    }
    // Deleted now, or by a run that stopped before it could revoke: its keys stop either way (idempotent).
    if (found && deleted) await revokeKeysOwnedBy(found.id, log);
    // Whether or not this run took it out (one that stopped halfway may have): idempotent too.
    if (found?.kind === 'organization') await withdrawInvitationsSentFor(found.id, log, accountId);
    await mirrorMembership(accountId, membership.name, null);
  }
}

/** The admins of an organization a deleted account left (and the collaborators made admins) are told, once. */
async function tellAdminsOfDeletedMember(organization: AccountDocument, member: AccountDocument, promoted: Member[]): Promise<void> {
  const change = { at: nowIso() };
  const cause: EmailCause = { container: 'accounts', id: organization.id };
  const once = `${organization.id}:${member.id}`;
  await noticeToAll([organization.id], 'emailAllowed', memberRemovedNotice(organization.username, member.username, { accountDeleted: true }, change), cause, {
    onceKey: `member-deleted:${once}`,
    afterChange: true,
  });
  if (promoted.length === 0) return;
  const content = memberRoleChangedNotice(organization.username, promoted.map((m) => m.username), 'admin', undefined, change);
  await noticeToAll([organization.id], 'emailAllowed', content, cause, { onceKey: `members-promoted:${once}`, afterChange: true });
}

/**
 * An organization support deletes: every member's copy of the membership goes, then its members and
 * invitations, on the document those copies were read from, so a member who joins meanwhile is caught by the
 * next round. Its keys, packages and address go in the deletion's other steps, as an account's do. Runs again
 * without harm.
 */
export async function dissolveOrganization(accountId: string): Promise<void> {
  for (;;) {
    const organization = await readAccount(accountId);
    if (organization?.kind !== 'organization' || organization.deletedAt) return;
    const members = organization.members ?? [];
    for (const member of members) await mirrorMembership(member.accountId, organization.username, null);
    const sameMembers = (current: OrganizationDocument) =>
      current.members.length === members.length && current.members.every((m) => members.some((seen) => seen.accountId === m.accountId));
    let joinedMeanwhile = false;
    await updateOrganization(accountId, (current) => {
      joinedMeanwhile = !sameMembers(current);
      if (joinedMeanwhile || (current.members.length === 0 && current.pendingInvitations.length === 0)) return undefined;
      return { ...current, members: [], pendingInvitations: [] };
    });
    if (!joinedMeanwhile) return;
  }
}

/**
 * Deletes an organization that has no other members and no packages. Its name stays reserved forever: the
 * document stays behind as a tombstone that the name's claim points to. Its address is released. Every API
 * key it owns is revoked first, whoever made it, so a deletion that stops halfway can be asked for again
 * and never leaves a key pushing for an owner that is gone: a key made meanwhile is found by the second
 * look, after the tombstone, or finds the tombstone itself (createApiKey).
 */
export async function deleteOrganization(name: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const organization = await organizationForAdmin(name, caller);
  const packages = await ownedPackageIds(organization.id, 5);
  if (packages.length > 0) {
    throw new Problem(
      'organization_not_empty',
      `'${organization.username}' still owns packages: ${packages.join(', ')}${packages.length === 5 ? ', …' : ''}. Transfer or remove its ownership first.`,
    );
  }
  assertDeletable(organization, caller);
  await revokeKeysOwnedBy(organization.id, log);
  const deleted = await updateOrganization(organization.id, (current) => {
    assertDeletable(current, caller);
    return asDeleted(current);
  });
  if (!deleted) return;
  // A key made while this ran, after the first look, and checked before the tombstone was there.
  await revokeKeysOwnedBy(organization.id, log);
  await releaseAddress(organization);
  await mirrorMembership(caller.id, organization.username, null);
  await recordAudit(caller.id, 'organization_deleted', clientAddress, { organization: organization.username });
  await recordMembershipChange(organization.id, 'organization_deleted', caller, {});
}
