import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { clock, nowIso } from '../shared/clock';
import { memberJoinedNotice, memberRemovedNotice, memberRoleChangedNotice, organizationInvitationMessage } from '../shared/email/messages';
import { abandonEmail, deliverSoon, queueEmail } from '../shared/email/outbox';
import { Problem } from '../shared/problems';
import { enforceEmailingLimits } from '../shared/rateLimits';
import { findToken, issueToken, spendToken, tokensConcerning, tokenField } from '../shared/tokens';
import { assertTrustedRecipient, readAccount, tokenRecipient, tokenStillAddressed, type AccountDocument, type OrganizationRole } from '../accounts/account';
import { revokeKeysForOrganization, revokeKeysOfMember } from '../packages/apiKeys';
import { withdrawInvitationsSentFor } from '../packages/owners';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { announced, noticeToAll } from '../accounts/notices';
import {
  assertAdmin,
  assertKeepsAnAdmin,
  mirrorMembership,
  organizationForAdmin,
  organizationForMember,
  roleField,
  roleOf,
  stillWaiting,
  updateOrganization,
  type OrganizationDocument,
} from './organization';
import { ORGANIZATION_EMAIL_LIMITS } from './rateLimits';
import { recordMembershipChange } from './trail';
import type { Log } from '../shared/log';

export const inviteMemberBody = z.object({ username: usernameField, role: roleField }).strict();
export const invitationTokenBody = z.object({ token: tokenField }).strict();
export const changeRoleBody = z.object({ role: roleField }).strict();

const INVITATION_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Member invitations an organization may have waiting at once, so its document (read by every organization route)
 * does not grow with everyone ever invited: as many as one admin may send in an hour.
 */
export const MAX_PENDING_MEMBER_INVITATIONS = 50;

/**
 * Whether the organization can take another invitation: fewer than 50 waiting, not counting expired ones nor one
 * to the same account, which a new invitation replaces. The contract names no code for this; `owner_limit` is its
 * code for the same limit on a package's invitations.
 */
function assertRoomToInvite(organization: OrganizationDocument, inviteeId: string): void {
  const waiting = organization.pendingInvitations.filter((i) => i.accountId !== inviteeId && stillWaiting(i));
  if (waiting.length >= MAX_PENDING_MEMBER_INVITATIONS) {
    throw new Problem(
      'owner_limit',
      `'${organization.username}' has ${MAX_PENDING_MEMBER_INVITATIONS} member invitations waiting for an answer, as many as it may have. Cancel one, or wait for answers, then invite again.`,
    );
  }
}


/** The individual account named, with a confirmed address: what members and admins must be. */
export async function confirmedIndividual(username: string): Promise<AccountDocument> {
  const account = await accountHolding({ kind: 'username', name: username });
  if (!account || account.deletedAt) {
    throw new Problem('user_not_found', `There is no user named '${username}'.`);
  }
  if (account.kind === 'organization') {
    throw new Problem('member_is_organization', `'${account.username}' is an organization; only individual accounts can be members.`);
  }
  assertTrustedRecipient(account);
  return account;
}

/**
 * Invites an individual account by username; an emailed token, for that account only, answers it within
 * 7 days. Inviting again replaces the earlier invitation, whose token stops working (and counts against the
 * limits per caller and per invitee). The limit of waiting invitations is checked on the document read, so a
 * refused invitation sends nothing (nor counts against the emailing limits), and again on the one written, so
 * invitations at the same moment never exceed it; that write also drops the invitations that expired.
 */
export async function inviteMember(
  name: string,
  input: z.infer<typeof inviteMemberBody>,
  caller: AccountDocument,
  clientAddress: string,
  log: Log,
): Promise<void> {
  const organization = await organizationForAdmin(name, caller);
  const invitee = await confirmedIndividual(input.username);
  if (roleOf(organization, invitee.id)) {
    throw new Problem('already_member', `'${invitee.username}' is already a member of '${organization.username}'.`);
  }
  assertRoomToInvite(organization, invitee.id);
  await enforceEmailingLimits(ORGANIZATION_EMAIL_LIMITS.memberInvitation, caller.id, invitee.id);
  const token = await issueToken('organization-invitation', tokenRecipient(invitee), INVITATION_LIFETIME_MS, organization.id);
  const email = await queueEmail(
    organizationInvitationMessage(invitee, organization.username, caller.username, input.role, token),
    { container: 'accounts', id: organization.id },
  );
  const now = clock.now();
  try {
    await updateOrganization(organization.id, (current) => {
      if (roleOf(current, invitee.id)) throw new Problem('already_member', `'${invitee.username}' is already a member of '${current.username}'.`);
      assertRoomToInvite(current, invitee.id);
      const invitation = {
        accountId: invitee.id,
        username: invitee.username,
        role: input.role,
        tokenId: token.id,
        invitedAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + INVITATION_LIFETIME_MS).toISOString(),
      };
      const others = current.pendingInvitations.filter((i) => i.accountId !== invitee.id && stillWaiting(i));
      return { ...current, pendingInvitations: [...others, invitation] };
    });
  } catch (error) {
    // Refused on the document written: its cause, the organization, exists, so the timer would send it.
    await abandonEmail(email, log);
    throw error;
  }
  await recordAudit(caller.id, 'member_invited', clientAddress, { organization: organization.username, member: invitee.username, role: input.role });
  await recordAudit(invitee.id, 'invitation_received', clientAddress, { organization: organization.username, role: input.role });
  await recordMembershipChange(organization.id, 'member_invited', caller, { member: invitee.username, role: input.role });
  await deliverSoon(email, log);
}

const invalidInvitation = () =>
  new Problem('invalid_token', 'This invitation is not valid: it may have expired, been replaced, cancelled or answered already.');

/**
 * The invitation `secret` stands for, if it is the caller's own, sent to the address the caller still has,
 * and to the organization named.
 */
async function callersInvitation(name: string, secret: string, caller: AccountDocument) {
  const token = await findToken(secret, 'organization-invitation');
  if (!tokenStillAddressed(token, caller)) throw invalidInvitation();
  const organization = await accountHolding({ kind: 'username', name });
  if (organization?.kind !== 'organization' || organization.deletedAt || organization.id !== token.subjectId) throw invalidInvitation();
  return { token, organization: organization as OrganizationDocument };
}

/**
 * Joins the organization. The organization's document is written first (the membership and the spent
 * invitation in one ETag-guarded step), then the member's own list; a crash between them is finished by
 * accepting again, since the token is spent last. The member and the organization's admins are told (once,
 * however often the accept runs).
 */
export async function acceptInvitation(name: string, secret: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const { token, organization } = await callersInvitation(name, secret, caller);
  const invited = organization.pendingInvitations.find((i) => i.tokenId === token.id);
  const notice = await noticeToAll(
    [caller.id, organization.id],
    'emailAllowed',
    memberJoinedNotice(organization.username, caller.username, invited?.role ?? roleOf(organization, caller.id) ?? 'collaborator', { at: nowIso() }),
    { container: 'accounts', id: organization.id },
    { onceKey: `member-joined:${token.id}` },
  );
  const joined = await announced(
    notice,
    () =>
      updateOrganization(organization.id, (current) => {
        const invitation = current.pendingInvitations.find((i) => i.tokenId === token.id);
        if (!invitation) return undefined;
        return {
          ...current,
          members: [...current.members.filter((m) => m.accountId !== caller.id), { accountId: caller.id, username: caller.username, role: invitation.role }],
          pendingInvitations: current.pendingInvitations.filter((i) => i.tokenId !== token.id),
        };
      }),
    log,
    (current) => current !== undefined && roleOf(current, caller.id) !== undefined,
  );
  const role = joined && roleOf(joined, caller.id);
  if (!role) throw invalidInvitation();
  await mirrorMembership(caller.id, organization.username, role);
  await recordAudit(caller.id, 'invitation_accepted', clientAddress, { organization: organization.username, role });
  await recordMembershipChange(organization.id, 'member_joined', caller, { member: caller.username, role });
  await spendToken(token);
}

export async function rejectInvitation(name: string, secret: string, caller: AccountDocument, clientAddress: string): Promise<void> {
  const { token, organization } = await callersInvitation(name, secret, caller);
  const updated = await updateOrganization(organization.id, (current) =>
    current.pendingInvitations.some((i) => i.tokenId === token.id)
      ? { ...current, pendingInvitations: current.pendingInvitations.filter((i) => i.tokenId !== token.id) }
      : undefined,
  );
  if (!updated || roleOf(updated, caller.id)) throw invalidInvitation();
  await spendToken(token);
  await recordAudit(caller.id, 'invitation_rejected', clientAddress, { organization: organization.username });
  await recordMembershipChange(organization.id, 'invitation_rejected', caller, { member: caller.username });
}

export async function cancelInvitation(name: string, username: string, caller: AccountDocument, clientAddress: string): Promise<void> {
  const organization = await organizationForAdmin(name, caller);
  const updated = await updateOrganization(organization.id, (current) => {
    // Checked again on the document being written: an admin demoted a moment ago changes nothing more.
    assertAdmin(current, caller);
    const remaining = current.pendingInvitations.filter((i) => i.username.toLowerCase() !== username.toLowerCase());
    return remaining.length === current.pendingInvitations.length ? undefined : { ...current, pendingInvitations: remaining };
  });
  if (updated && updated.pendingInvitations.length < organization.pendingInvitations.length) {
    await recordAudit(caller.id, 'invitation_cancelled', clientAddress, { organization: organization.username, member: username });
    await recordMembershipChange(organization.id, 'invitation_cancelled', caller, { member: username });
  }
}

const notAMember = (username: string, organization: string) =>
  new Problem('not_found', `'${username}' is not a member of '${organization}'.`);

function memberNamed(organization: OrganizationDocument, username: string) {
  const member = organization.members.find((m) => m.username.toLowerCase() === username.toLowerCase());
  if (!member) throw notAMember(username, organization.username);
  return member;
}

/**
 * Admins change roles; the organization always keeps an admin. The member and the admins are told of a new
 * role, so changes are limited per caller and per member. An admin made a collaborator no longer manages the
 * organization's packages: the owner invitations it sent for the organization are withdrawn.
 */
export async function changeMemberRole(
  name: string,
  username: string,
  role: OrganizationRole,
  caller: AccountDocument,
  clientAddress: string,
  log: Log,
): Promise<void> {
  const organization = await organizationForAdmin(name, caller);
  const target = memberNamed(organization, username);
  await enforceEmailingLimits(ORGANIZATION_EMAIL_LIMITS.roleChange, caller.id, target.accountId);
  const content = memberRoleChangedNotice(organization.username, [target.username], role, caller.username, { at: nowIso() });
  const notice = await noticeToAll([target.accountId, organization.id], 'emailAllowed', content, { container: 'accounts', id: organization.id });
  let changed = false;
  const updated = await announced(
    notice,
    () =>
      updateOrganization(organization.id, (current) => {
        // Checked again on the document being written: an admin demoted a moment ago changes nothing more.
        assertAdmin(current, caller);
        const members = current.members.map((m) => (m.accountId === target.accountId ? { ...m, role } : m));
        if (!current.members.some((m) => m.accountId === target.accountId)) throw notAMember(username, current.username);
        assertKeepsAnAdmin(members, current.username);
        changed = roleOf(current, target.accountId) !== role;
        return { ...current, members };
      }),
    log,
    () => changed,
  );
  if (!updated) throw notAMember(username, organization.username);
  await mirrorMembership(target.accountId, organization.username, role);
  await recordAudit(caller.id, 'member_role_changed', clientAddress, { organization: organization.username, member: target.username, role });
  await recordMembershipChange(organization.id, 'member_role_changed', caller, { member: target.username, role });
  if (changed && role === 'collaborator') await withdrawInvitationsSentFor(organization.id, log, target.accountId);
}

/**
 * Admins remove anyone; any member may leave. The organization always keeps an admin. The keys the member
 * made for the organization stop working with the membership, and the owner invitations it sent for the
 * organization are withdrawn. The member and the admins are told.
 */
export async function removeMember(name: string, username: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const organization = await organizationForMember(name, caller);
  const target = memberNamed(organization, username);
  const leaving = target.accountId === caller.id;
  if (!leaving && roleOf(organization, caller.id) !== 'admin') {
    throw new Problem('admin_required', `Only an admin of '${organization.username}' can remove other members.`);
  }
  const content = memberRemovedNotice(organization.username, target.username, leaving ? {} : { by: caller.username }, { at: nowIso() });
  const notice = await noticeToAll([target.accountId, organization.id], 'emailAllowed', content, { container: 'accounts', id: organization.id });
  let removed = false;
  await announced(
    notice,
    () =>
      updateOrganization(organization.id, (current) => {
        // Checked again on the document being written: an admin demoted a moment ago changes nothing more.
        if (!leaving) {
          assertAdmin(current, caller);
        }
        removed = current.members.some((m) => m.accountId === target.accountId);
        if (!removed) return undefined;
        const members = current.members.filter((m) => m.accountId !== target.accountId);
        assertKeepsAnAdmin(members, current.username);
        return { ...current, members };
      }),
    log,
    () => removed,
  );
  await mirrorMembership(target.accountId, organization.username, null);
  const former = await readAccount(target.accountId);
  if (former) await revokeKeysForOrganization(former, organization.id, log);
  const details = { organization: organization.username, member: target.username };
  await recordAudit(caller.id, leaving ? 'organization_left' : 'member_removed', clientAddress, details);
  await recordMembershipChange(organization.id, leaving ? 'member_left' : 'member_removed', caller, { member: target.username });
  await withdrawInvitationsSentFor(organization.id, log, target.accountId);
}

/**
 * An admin stops every API key a member holds for the organization, at once: for a member whose account or keys
 * may be in someone else's hands and who cannot, or may not, revoke them. The member stays a member. Recorded in
 * the organization's trail and the admin's log, also when nothing was left to revoke; the member and every admin
 * are told of the keys that went.
 */
export async function revokeMemberKeys(name: string, username: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const organization = await organizationForAdmin(name, caller);
  const target = memberNamed(organization, username);
  const member = await readAccount(target.accountId);
  const revoked = member ? await revokeKeysOfMember(member, organization, caller.username, log) : [];
  const keyIds = revoked.map((key) => key.id).join(', ');
  const details = { member: target.username, keysRevoked: String(revoked.length), ...(keyIds ? { keyIds } : {}) };
  await recordAudit(caller.id, 'member_keys_revoked', clientAddress, { organization: organization.username, ...details });
  await recordMembershipChange(organization.id, 'member_keys_revoked', caller, details);
}

/** The organizations forget the invitations sent to an account (account deletion); the tokens go with the account's. */
export async function dropInvitationsTo(accountId: string): Promise<void> {
  for (const token of await tokensConcerning(accountId, 'organization-invitation')) {
    if (!token.subjectId) continue;
    await updateOrganization(token.subjectId, (current) =>
      current.pendingInvitations.some((i) => i.tokenId === token.id)
        ? { ...current, pendingInvitations: current.pendingInvitations.filter((i) => i.tokenId !== token.id) }
        : undefined,
    );
  }
}
