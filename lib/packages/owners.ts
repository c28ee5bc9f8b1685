import { z } from 'zod';
import { clock, nowIso } from '../shared/clock';
import {
  ownerInvitationDeclinedNotice,
  ownerInvitationWithdrawnNotice,
  packageOwnerAddedNotice,
  packageOwnerInvitationMessage,
  packageOwnerRemovedNotice,
} from '../shared/email/messages';
import { abandonEmail, deliverSoon, queueEmail } from '../shared/email/outbox';
import { Problem } from '../shared/problems';
import { enforceEmailingLimits } from '../shared/rateLimits';
import { container, documentsInPartition, isNotFound, readDocument, updateDocument, updateDocumentFrom, type StoredDocument } from '../shared/storage/cosmos';
import { findToken, issueToken, spendToken, tokensConcerning, tokenField } from '../shared/tokens';
import { assertTrustedRecipient, readAccount, tokenRecipient, tokenStillAddressed, type AccountDocument } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { announced } from '../accounts/notices';
import { packageNotice, recordPackageChange } from './packageEvents';
import { PACKAGE_EMAIL_LIMITS } from './rateLimits';
import {
  administers,
  forgetOwnership,
  invitationStands,
  isOwner,
  notAnOwner,
  organizationsSentFor,
  packageManagedBy,
  readPackages,
  recordOwnership,
  stillPending,
  viewWithInvitations,
  type PackageDocument,
  type PendingOwner,
} from './packages';
import type { Log } from '../shared/log';

export const inviteOwnerBody = z.object({ username: usernameField }).strict();
export const ownerTokenBody = z.object({ token: tokenField }).strict();

const OWNER_INVITATION_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** NuGet.org's limits (MaxOwnerPerPackageRegistration, MaxOwnerRequestsPerPackageRegistration). */
export const MAX_OWNERS = 15;
export const MAX_PENDING_INVITATIONS = 3;

const ownerLimit = (detail: string) => new Problem('owner_limit', detail);

const tooManyOwners = (pkg: PackageDocument) =>
  ownerLimit(`'${pkg.displayId}' has ${MAX_OWNERS} owners, as many as a package may have. Remove an owner first.`);

/**
 * Whether the package can take another invitation: fewer than 15 owners (one more could never accept) and
 * fewer than 3 invitations waiting, not counting one to the same invitee, which a new invitation replaces.
 */
function assertRoomToInvite(pkg: PackageDocument, inviteeId: string): void {
  if (pkg.owners.length >= MAX_OWNERS) throw tooManyOwners(pkg);
  const waiting = pkg.pendingOwners.filter((p) => stillPending(p) && p.accountId !== inviteeId);
  if (waiting.length >= MAX_PENDING_INVITATIONS) {
    throw ownerLimit(
      `'${pkg.displayId}' has ${MAX_PENDING_INVITATIONS} owner invitations waiting for an answer, as many as it may have. Withdraw one or wait for an answer.`,
    );
  }
}

/**
 * A copy of a waiting invitation in the partition of an account it concerns: the invited account or
 * organization (`received`), and the owner it was sent for (`sent`), so "my packages" finds both with one
 * query per partition. The package document stays the truth: a copy whose invitation is gone is skipped.
 */
interface InvitationRecord extends StoredDocument {
  accountId: string;
  side: 'received' | 'sent';
  packageId: string;
  inviteeId: string;
  tokenId: string;
  /** Who sent it (absent on copies written before it was kept): an admin leaving an organization withdraws only its own. */
  senderId?: string;
  /** Lets Cosmos DB tidy up a day after the invitation expires; correctness never depends on it. */
  ttl: number;
}

const recordId = (side: InvitationRecord['side'], packageId: string, inviteeId: string) => `${side}:${packageId}:${inviteeId}`;

async function deleteRecord(side: InvitationRecord['side'], packageId: string, inviteeId: string, accountId: string): Promise<void> {
  try {
    await container('ownerInvitations').item(recordId(side, packageId, inviteeId), accountId).delete();
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

async function indexInvitation(packageId: string, pending: PendingOwner): Promise<void> {
  const ttl = Math.ceil((Date.parse(pending.expiresAt) - clock.now().getTime()) / 1000) + 24 * 60 * 60;
  const sides: Array<[InvitationRecord['side'], string | undefined]> = [
    ['received', pending.accountId],
    ['sent', pending.invitedFor?.accountId],
  ];
  await Promise.all(
    sides.map(async ([side, accountId]) => {
      if (accountId === undefined) return;
      const record: InvitationRecord = {
        id: recordId(side, packageId, pending.accountId),
        accountId,
        side,
        packageId,
        inviteeId: pending.accountId,
        tokenId: pending.tokenId,
        senderId: pending.invitedBy?.accountId,
        ttl,
      };
      await container('ownerInvitations').items.upsert(record);
    }),
  );
}

async function unindexInvitation(packageId: string, pending: PendingOwner): Promise<void> {
  await Promise.all([
    deleteRecord('received', packageId, pending.accountId, pending.accountId),
    pending.invitedFor ? deleteRecord('sent', packageId, pending.accountId, pending.invitedFor.accountId) : undefined,
  ]);
}

/** The copies of invitations sent to or for an account or organization: one query within its partition. */
export function invitationRecordsOf(accountId: string): Promise<InvitationRecord[]> {
  return documentsInPartition<InvitationRecord>('ownerInvitations', accountId);
}

const ownerIds = (pkg: PackageDocument) => pkg.owners.map((o) => o.accountId);

/**
 * Invites an account or organization to co-own the package; its emailed token works for 7 days. Inviting
 * the same one again replaces the earlier invitation. Only an address the invitee confirmed gets it. The
 * limits are checked on the document read, so a refused invitation sends nothing (nor counts against the
 * emailing limits), and again on the one written, so invitations at the same moment never exceed them.
 */
export async function inviteOwner(packageId: string, username: string, caller: AccountDocument, clientAddress: string, log: Log) {
  const { pkg, actingAs } = await packageManagedBy(packageId, caller);
  const invitee = await accountHolding({ kind: 'username', name: username });
  if (!invitee || invitee.deletedAt) throw new Problem('user_not_found', `There is no account or organization named '${username}'.`);
  const alreadyOwner = () => new Problem('already_owner', `'${invitee.username}' already owns '${pkg.displayId}'.`);
  if (isOwner(pkg, invitee.id)) throw alreadyOwner();
  assertTrustedRecipient(invitee);
  assertRoomToInvite(pkg, invitee.id);
  await enforceEmailingLimits(PACKAGE_EMAIL_LIMITS.ownerInvitation, caller.id, invitee.id);
  const token = await issueToken('package-owner-invitation', tokenRecipient(invitee), OWNER_INVITATION_LIFETIME_MS, pkg.id);
  const email = await queueEmail(packageOwnerInvitationMessage(invitee, pkg.displayId, caller.username, token), { container: 'packages', id: pkg.id });
  const invitation: PendingOwner = {
    accountId: invitee.id,
    username: invitee.username,
    tokenId: token.id,
    expiresAt: token.expiresAt,
    invitedAt: nowIso(),
    invitedBy: { accountId: caller.id, username: caller.username },
    invitedFor: actingAs,
  };
  let replaced: PendingOwner | undefined;
  try {
    await updateDocument<PackageDocument>('packages', pkg.id, (current) => {
      if (!isOwner(current, actingAs.accountId)) throw notAnOwner(current);
      if (isOwner(current, invitee.id)) throw alreadyOwner();
      assertRoomToInvite(current, invitee.id);
      replaced = current.pendingOwners.find((p) => p.accountId === invitee.id);
      // Expired invitations go with the next write.
      const others = current.pendingOwners.filter((p) => p.accountId !== invitee.id && stillPending(p));
      return { ...current, pendingOwners: [...others, invitation] };
    });
  } catch (error) {
    await abandonEmail(email, log);
    throw error;
  }
  if (replaced?.invitedFor && replaced.invitedFor.accountId !== actingAs.accountId) {
    await deleteRecord('sent', pkg.id, invitee.id, replaced.invitedFor.accountId);
  }
  await indexInvitation(pkg.id, invitation);
  const details = { package: pkg.displayId, owner: invitee.username };
  await recordPackageChange('package_owner_invited', { account: caller, clientAddress }, details, [...ownerIds(pkg), invitee.id]);
  await deliverSoon(email, log);
}

const invalidOwnerInvitation = () =>
  new Problem('invalid_token', 'This invitation to own the package is not valid: it may have expired, been replaced, withdrawn or answered already.');

/**
 * The invitation `secret` stands for, for the caller to answer: the invited account itself, or for an
 * invited organization one of its admins, by the organization's own document. It holds only while it is
 * the package's current one, the address it went to is still the invitee's, and it stands: its sender still
 * manages the package (`invitationStands`; `organizations` are what that was decided on, for the accept to
 * decide again on the document it writes).
 */
async function invitationAnsweredBy(packageId: string, secret: string, caller: AccountDocument) {
  const token = await findToken(secret, 'package-owner-invitation');
  const pkg = await readDocument<PackageDocument>('packages', packageId.toLowerCase());
  const pending = pkg?.pendingOwners.find((p) => p.tokenId === token.id);
  if (!pkg || token.subjectId !== pkg.id || !pending) throw invalidOwnerInvitation();
  const [invitee, organizations] = await Promise.all([
    pending.accountId === caller.id ? caller : readAccount(pending.accountId),
    organizationsSentFor([pending]),
  ]);
  const actsFor = invitee !== undefined && !invitee.deletedAt && (invitee.id === caller.id || administers(invitee, caller.id));
  if (!actsFor || !tokenStillAddressed(token, invitee) || !invitationStands(pkg, pending, organizations)) throw invalidOwnerInvitation();
  return { token, pkg, pending, organizations };
}

/**
 * Accepts an invitation to co-own. The ownership record is written before the package's owner list, and
 * the token spent last, so accepting again finishes an accept that died halfway. A package at 15 owners
 * refuses it (checked on the document written, so of accepts racing for the last place one wins); the
 * invitation then stays, to be accepted once an owner leaves. Whether it stands is decided again on the
 * document written too, so a sender removed at the same moment either was an owner when it was accepted or
 * leaves it dead. Every owner, the new one too, is told (once).
 */
export async function acceptOwnerInvitation(packageId: string, secret: string, caller: AccountDocument, clientAddress: string, log: Log) {
  const { token, pkg, pending, organizations } = await invitationAnsweredBy(packageId, secret, caller);
  const content = packageOwnerAddedNotice(pkg.displayId, pending.username, pending.invitedBy.username, { at: nowIso() });
  const notice = await packageNotice(pkg.id, [...ownerIds(pkg), pending.accountId], content, `owner-added:${token.id}`);
  await recordOwnership(pending.accountId, pkg.id);
  let updated: PackageDocument | undefined;
  try {
    updated = await announced(
      notice,
      () =>
        updateDocument<PackageDocument>('packages', pkg.id, (current) => {
          const waiting = current.pendingOwners.some((p) => p.tokenId === token.id) && invitationStands(current, pending, organizations);
          const owner = isOwner(current, pending.accountId);
          if (!waiting && !owner) throw invalidOwnerInvitation();
          if (!owner && current.owners.length >= MAX_OWNERS) throw tooManyOwners(current);
          return {
            ...current,
            owners: owner ? current.owners : [...current.owners, { accountId: pending.accountId, username: pending.username }],
            pendingOwners: current.pendingOwners.filter((p) => p.tokenId !== token.id),
          };
        }),
      log,
      (current) => current !== undefined && isOwner(current, pending.accountId),
    );
  } catch (error) {
    // The record written above claims a package the invitee did not get.
    const now = await readDocument<PackageDocument>('packages', pkg.id);
    if (!now || !isOwner(now, pending.accountId)) await forgetOwnership(pending.accountId, pkg.id);
    throw error;
  }
  const owners = updated ?? pkg;
  await unindexInvitation(pkg.id, pending);
  const details = { package: pkg.displayId, owner: pending.username };
  await recordPackageChange('package_owner_added', { account: caller, clientAddress }, details, [...ownerIds(owners), pending.accountId]);
  await spendToken(token);
  return viewWithInvitations(owners);
}

/**
 * Declines an invitation to co-own: by whoever could accept it, with its token, while it stands. Whoever sent
 * it, and the owner it was sent for, are told.
 */
export async function rejectOwnerInvitation(packageId: string, secret: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const { token, pkg, pending } = await invitationAnsweredBy(packageId, secret, caller);
  const inviters = [pending.invitedBy.accountId, pending.invitedFor.accountId];
  const notice = await packageNotice(pkg.id, inviters, ownerInvitationDeclinedNotice(pkg.displayId, pending.username, { at: nowIso() }));
  let declined = false;
  await announced(
    notice,
    () =>
      updateDocument<PackageDocument>('packages', pkg.id, (current) => {
        declined = current.pendingOwners.some((p) => p.tokenId === token.id);
        return declined ? { ...current, pendingOwners: current.pendingOwners.filter((p) => p.tokenId !== token.id) } : undefined;
      }),
    log,
    () => declined,
  );
  if (!declined) throw invalidOwnerInvitation();
  await spendToken(token);
  await unindexInvitation(pkg.id, pending);
  const details = { package: pkg.displayId, owner: pending.username };
  await recordPackageChange('package_owner_invitation_rejected', { account: caller, clientAddress }, details, [...ownerIds(pkg), pending.accountId]);
}

/**
 * Withdraws the invitation waiting for `username`: by anyone who manages the package. Its token stops working,
 * and the account invited is told.
 */
export async function withdrawOwnerInvitation(packageId: string, username: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const { pkg, actingAs } = await packageManagedBy(packageId, caller);
  const noInvitation = () => new Problem('not_found', `No invitation to own '${pkg.displayId}' is waiting for '${username}'.`);
  const pending = pkg.pendingOwners.find((p) => p.username.toLowerCase() === username.toLowerCase());
  if (!pending) throw noInvitation();
  const content = ownerInvitationWithdrawnNotice(pkg.displayId, pending.username, { by: caller.username }, { at: nowIso() });
  const notice = await packageNotice(pkg.id, [pending.accountId], content);
  let withdrawn = false;
  await announced(
    notice,
    () =>
      updateDocument<PackageDocument>('packages', pkg.id, (current) => {
        if (!isOwner(current, actingAs.accountId)) throw notAnOwner(current);
        withdrawn = current.pendingOwners.some((p) => p.tokenId === pending.tokenId);
        return withdrawn ? { ...current, pendingOwners: current.pendingOwners.filter((p) => p.tokenId !== pending.tokenId) } : undefined;
      }),
    log,
    () => withdrawn,
  );
  // Answered or withdrawn by someone else meanwhile.
  if (!withdrawn) throw noInvitation();
  await unindexInvitation(pkg.id, pending);
  const details = { package: pkg.displayId, owner: pending.username };
  await recordPackageChange('package_owner_invitation_withdrawn', { account: caller, clientAddress }, details, [...ownerIds(pkg), pending.accountId]);
}

/**
 * Removes an owner; a package always keeps one. Every owner, the one removed too, is told. The invitations
 * sent for it are withdrawn (their invitees told), as they died with its ownership.
 */
export async function removeOwner(packageId: string, username: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const { pkg, actingAs } = await packageManagedBy(packageId, caller);
  const owner = pkg.owners.find((o) => o.username.toLowerCase() === username.toLowerCase());
  if (!owner) throw new Problem('not_found', `'${username}' is not an owner of '${pkg.displayId}'.`);
  const notice = await packageNotice(pkg.id, ownerIds(pkg), packageOwnerRemovedNotice(pkg.displayId, owner.username, caller.username, { at: nowIso() }));
  let removed = false;
  const updated = await announced(
    notice,
    () =>
      updateDocument<PackageDocument>('packages', pkg.id, (current) => {
        // Two owners removing each other: the second finds itself no longer an owner.
        if (!isOwner(current, actingAs.accountId)) throw notAnOwner(current);
        const owners = current.owners.filter((o) => o.accountId !== owner.accountId);
        removed = owners.length !== current.owners.length;
        if (!removed) return undefined;
        if (owners.length === 0) throw new Problem('last_owner', `'${current.displayId}' must keep an owner. Add another owner first.`);
        return { ...current, owners };
      }),
    log,
    () => removed,
  );
  await forgetOwnership(owner.accountId, pkg.id);
  const details = { package: pkg.displayId, owner: owner.username };
  await recordPackageChange('package_owner_removed', { account: caller, clientAddress }, details, ownerIds(pkg));
  if (updated) await withdrawLapsedInvitations(updated, { ownerId: owner.accountId, sentBefore: nowIso() }, log);
}

/**
 * What made invitations lapse: the owner they were sent for is one no more (`ownerId`), or an admin who sent
 * them for an organization (`senderId`) administers it no more. Only those sent before the change lapse
 * (`sentBefore`): one sent after it, by an owner or admin made so again, is a new invitation and stands.
 */
interface Lapse {
  ownerId: string;
  senderId?: string;
  sentBefore: string;
}

const lapsedBy =
  ({ ownerId, senderId, sentBefore }: Lapse) =>
  (pending: PendingOwner): boolean =>
    pending.invitedFor?.accountId === ownerId &&
    (senderId === undefined || pending.invitedBy?.accountId === senderId) &&
    (pending.invitedAt ?? '') <= sentBefore;

/**
 * Withdraws the package's invitations that `lapse` made lapse (`pkg` as last read; the write is ETag-guarded),
 * so its owners see the truth and their places are free again. The accept refuses them already (see
 * `invitationStands`); this makes it show. Each invitee of one still waiting is told, once however often it
 * runs, and the copies go.
 */
async function withdrawLapsedInvitations(pkg: PackageDocument, lapse: Lapse, log: Log): Promise<void> {
  const lapsed = lapsedBy(lapse);
  const notices = await Promise.all(
    pkg.pendingOwners.filter(stillPending).filter(lapsed).map(async (p) => {
      const content = ownerInvitationWithdrawnNotice(pkg.displayId, p.username, { senderLeft: p.invitedBy.username }, { at: nowIso() });
      return { tokenId: p.tokenId, notice: await packageNotice(pkg.id, [p.accountId], content, `owner-invitation-lapsed:${p.tokenId}`) };
    }),
  );
  const settle = (made: (tokenId: string) => boolean) => Promise.all(notices.map(({ tokenId, notice }) => notice.settle(made(tokenId), log)));
  let dropped: PendingOwner[] = [];
  try {
    await updateDocumentFrom<PackageDocument>('packages', pkg, (current) => {
      dropped = current.pendingOwners.filter(lapsed);
      return dropped.length > 0 ? { ...current, pendingOwners: current.pendingOwners.filter((p) => !lapsed(p)) } : undefined;
    });
  } catch (error) {
    await settle(() => false);
    throw error;
  }
  await settle((tokenId) => dropped.some((p) => p.tokenId === tokenId));
  await Promise.all(dropped.map((p) => unindexInvitation(pkg.id, p)));
}

/**
 * The invitations sent for an owner lapse: it is no owner any more (its account deleted, its ownerships
 * released), or, with `senderId`, that admin no longer administers the organization (removed, left, demoted,
 * deleted). The owner's copies of the invitations sent for it name the packages (one query in its partition);
 * with `senderId`, only those it sent, or whose copy does not say who sent it, are read.
 */
export async function withdrawInvitationsSentFor(ownerId: string, log: Log, senderId?: string): Promise<void> {
  const lapse: Lapse = { ownerId, senderId, sentBefore: nowIso() };
  const mayBeLapsed = (r: InvitationRecord) => r.side === 'sent' && (senderId === undefined || r.senderId === undefined || r.senderId === senderId);
  const records = (await invitationRecordsOf(ownerId)).filter(mayBeLapsed);
  const packages = await readPackages([...new Set(records.map((r) => r.packageId))]);
  for (const pkg of packages) await withdrawLapsedInvitations(pkg, lapse, log);
}

/** The package forgets the waiting invitation `tokenId` stands for, and so do the copies of it. */
async function dropInvitation(packageId: string, tokenId: string): Promise<void> {
  let dropped: PendingOwner | undefined;
  await updateDocument<PackageDocument>('packages', packageId, (pkg) => {
    dropped = pkg.pendingOwners.find((p) => p.tokenId === tokenId);
    return dropped ? { ...pkg, pendingOwners: pkg.pendingOwners.filter((p) => p.tokenId !== tokenId) } : undefined;
  });
  if (dropped) await unindexInvitation(packageId, dropped);
}

/**
 * Account deletion: the packages forget the invitations sent to the account and those sent for it (an
 * invitation from an owner that is gone is nobody's to honour), and its copies go. The tokens go with the
 * account's.
 */
export async function dropOwnerInvitationsOf(accountId: string): Promise<void> {
  for (const token of await tokensConcerning(accountId, 'package-owner-invitation')) {
    if (token.subjectId) await dropInvitation(token.subjectId, token.id);
  }
  for (const record of await invitationRecordsOf(accountId)) {
    await dropInvitation(record.packageId, record.tokenId);
    await deleteRecord(record.side, record.packageId, record.inviteeId, accountId);
  }
}
