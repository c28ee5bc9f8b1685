import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { nowIso } from '../shared/clock';
import { packageOwnerInvitationMessage } from '../shared/email/messages';
import { deliverSoon, queueEmail } from '../shared/email/outbox';
import { Problem } from '../shared/problems';
import { container, isConflict, isNotFound, readDocument, updateDocument, updateDocumentFrom, type StoredDocument } from '../shared/storage/cosmos';
import { findToken, issueToken, spendToken, tokensConcerning, tokenField } from '../shared/tokens';
import { readAccount, tokenRecipient, tokenStillAddressed, type AccountDocument } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { assertKeyAllows, type ApiKeyDocument } from './apiKeys';
import { packageIdField } from './globs';
import { reservationCovering } from './prefixes';
import { compareVersions, MAX_ID_AND_VERSION_LENGTH, storedVersion, versionField, type NuGetVersion } from './versions';
import type { Log } from '../shared/log';

export interface PackageOwner {
  accountId: string;
  username: string;
}

interface PendingOwner extends PackageOwner {
  tokenId: string;
  expiresAt: string;
}

export interface PackageDocument extends StoredDocument {
  /** As first pushed; `id` is its lower-case form. */
  displayId: string;
  owners: PackageOwner[];
  /**
   * NuGet's normalized versions, label case as first pushed (`1.0.0-Beta`), in push order; compared by
   * their lower-case key. Stored before versions were normalized: lower-cased as pushed (`1.0`), read as
   * normalized (lib/packages/versions.ts) and rewritten so with the next write.
   */
  versions: string[];
  listed: boolean;
  pendingOwners: PendingOwner[];
  createdAt: string;
}

export const pushBody = z
  .object({ id: packageIdField, version: versionField })
  .strict()
  .superRefine((body, context) => {
    if (body.id.length + body.version.full.length > MAX_ID_AND_VERSION_LENGTH) {
      context.addIssue({
        code: 'custom',
        path: ['version'],
        input: body.version.full,
        message: `must be at most ${MAX_ID_AND_VERSION_LENGTH} characters long together with the id`,
      });
    }
  });

export const packageView = z.object({ id: z.string(), owners: z.array(z.string()), versions: z.array(z.string()), listed: z.boolean() });
/** `{id}`: a package. */
export const packageParams = z.object({ id: packageIdField });
/** `{id}` and `{username}`: a package and one of its owners. */
export const packageOwnerParams = z.object({ id: packageIdField, username: usernameField });

export const inviteOwnerBody = z.object({ username: usernameField }).strict();
export const ownerTokenBody = z.object({ token: tokenField }).strict();

const OWNER_INVITATION_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

/** The package's versions, normalized, each once (by its key), in push order. */
function versionsOf(pkg: PackageDocument): Array<ReturnType<typeof storedVersion>> {
  const seen = new Set<string>();
  return pkg.versions.map(storedVersion).filter(({ key }) => {
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Versions in NuGet's order; one NuGet could not read (none is stored now) last, as stored. */
function sortedVersions(pkg: PackageDocument): string[] {
  const versions = versionsOf(pkg);
  const parsed = versions.flatMap(({ parsed: version }) => (version ? [version] : []));
  return [...parsed.sort(compareVersions).map((v) => v.normalized), ...versions.filter((v) => !v.parsed).map((v) => v.normalized)];
}

const toView = (pkg: PackageDocument): z.infer<typeof packageView> => ({
  id: pkg.displayId,
  owners: pkg.owners.map((o) => o.username),
  versions: sortedVersions(pkg),
  listed: pkg.listed,
});

/** Records in the owner's partition that it owns the package; the package's own owner list stays the truth. */
async function recordOwnership(accountId: string, packageId: string): Promise<void> {
  await container('ownerships').items.upsert({ id: packageId, accountId });
}

async function forgetOwnership(accountId: string, packageId: string): Promise<void> {
  try {
    await container('ownerships').item(packageId, accountId).delete();
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/**
 * Up to `limit` of the packages an account owns: one query within its own partition. The filter names the
 * partition too, so the query never depends on a store honouring the partition key option alone (the local
 * stand-in ignores it and would answer every account's records).
 */
export async function ownedPackageIds(accountId: string, limit: number): Promise<string[]> {
  const { resources } = await container('ownerships')
    .items.query<{ id: string }>(
      {
        query: 'SELECT TOP @limit c.id FROM c WHERE c.accountId = @accountId',
        parameters: [
          { name: '@limit', value: limit },
          { name: '@accountId', value: accountId },
        ],
      },
      { partitionKey: accountId },
    )
    .fetchAll();
  return resources.map((r) => r.id);
}

/**
 * Removes the account from the owners of every package it owns, a page at a time: a package it owned
 * alone is unlisted and left with no owner. Each ownership record goes once its package is updated, so a
 * run that stops halfway resumes where it was.
 */
export async function releaseAllOwnerships(accountId: string, pageSize = 100, parallel = 10): Promise<number> {
  let released = 0;
  for (;;) {
    const page = await ownedPackageIds(accountId, pageSize);
    if (page.length === 0) return released;
    for (let i = 0; i < page.length; i += parallel) {
      await Promise.all(
        page.slice(i, i + parallel).map(async (packageId) => {
          await updateDocument<PackageDocument>('packages', packageId, (pkg) => {
            if (!isOwner(pkg, accountId)) return undefined;
            const owners = pkg.owners.filter((o) => o.accountId !== accountId);
            return { ...pkg, owners, listed: owners.length > 0 && pkg.listed };
          });
          await forgetOwnership(accountId, packageId);
        }),
      );
    }
    released += page.length;
  }
}

/** The packages forget the invitations to own them sent to an account (account deletion); the tokens go with the account's. */
export async function dropOwnerInvitationsTo(accountId: string): Promise<void> {
  for (const token of await tokensConcerning(accountId, 'package-owner-invitation')) {
    if (!token.subjectId) continue;
    await updateDocument<PackageDocument>('packages', token.subjectId, (pkg) =>
      pkg.pendingOwners.some((p) => p.tokenId === token.id)
        ? { ...pkg, pendingOwners: pkg.pendingOwners.filter((p) => p.tokenId !== token.id) }
        : undefined,
    );
  }
}

/** The packages nobody but the account owns, by id: its to hand over before it is deleted. */
export async function solelyOwnedPackages(accountId: string): Promise<string[]> {
  const packageIds = await ownedPackageIds(accountId, 10_000);
  const solelyOwned: string[] = [];
  for (let i = 0; i < packageIds.length; i += 50) {
    const packages = await Promise.all(packageIds.slice(i, i + 50).map((id) => readDocument<PackageDocument>('packages', id)));
    for (const pkg of packages) {
      if (pkg && pkg.owners.length === 1 && pkg.owners[0].accountId === accountId) solelyOwned.push(pkg.displayId);
    }
  }
  return solelyOwned;
}

const isOwner = (pkg: PackageDocument, accountId: string) => pkg.owners.some((o) => o.accountId === accountId);

/**
 * The check the push pipeline calls: the key (one point read), the package (one), and for a new id the
 * prefix reservations (one). A new id is owned by the key's owner; a new version needs an owner's key.
 */
export async function pushPackage(key: ApiKeyDocument, input: z.infer<typeof pushBody>): Promise<{ created: boolean; pkg: z.infer<typeof packageView> }> {
  const id = input.id.toLowerCase();
  const { version } = input;
  const existing = await readDocument<PackageDocument>('packages', id);
  if (existing) return { created: false, pkg: toView(await pushVersion(key, existing, version)) };

  assertKeyAllows(key, input.id, ['package:push']);
  const reservation = await reservationCovering(input.id);
  if (reservation && !reservation.owners.some((o) => o.accountId === key.ownerAccountId)) {
    throw new Problem('prefix_reserved', `The prefix '${reservation.displayPrefix}' is reserved; '${key.ownerName}' cannot push new ids under it.`);
  }
  const pkg: PackageDocument = {
    id,
    displayId: input.id,
    owners: [{ accountId: key.ownerAccountId, username: key.ownerName }],
    versions: [version.normalized],
    listed: true,
    pendingOwners: [],
    createdAt: nowIso(),
  };
  await recordOwnership(key.ownerAccountId, id);
  try {
    await container('packages').items.create(pkg);
  } catch (error) {
    if (!isConflict(error)) throw error;
    // Someone pushed the same new id a moment ago: this is now a new version of their package.
    const raced = await readDocument<PackageDocument>('packages', id);
    if (!raced) throw error;
    // The record written above claims a package this owner did not get: take it back.
    if (!isOwner(raced, key.ownerAccountId)) await forgetOwnership(key.ownerAccountId, id);
    return { created: false, pkg: toView(await pushVersion(key, raced, version)) };
  }
  return { created: true, pkg: toView(pkg) };
}

/**
 * Adds a version unless one NuGet treats as the same is there (`1.0` after `1.0.0`, `1.0.0-BETA` after
 * `1.0.0-beta`, `1.0.0+build` after `1.0.0`), listed or not: versions are immutable. Each attempt decides on
 * the document it writes under its ETag, so of equivalent pushes at once exactly one succeeds.
 */
async function pushVersion(key: ApiKeyDocument, pkg: PackageDocument, version: NuGetVersion): Promise<PackageDocument> {
  assertKeyAllows(key, pkg.displayId, ['package:push', 'package:pushversion']);
  const addVersion = (current: PackageDocument): PackageDocument => {
    if (!isOwner(current, key.ownerAccountId)) {
      throw new Problem('not_an_owner', `'${key.ownerName}' is not an owner of '${current.displayId}'.`);
    }
    const versions = versionsOf(current);
    const existing = versions.find(({ key: known }) => known === version.key);
    if (existing) {
      throw new Problem(
        'package_version_exists',
        `A package with ID '${current.displayId}' and version '${existing.normalized}' already exists and cannot be modified. Push a new version.`,
      );
    }
    return { ...current, versions: [...versions.map((v) => v.normalized), version.normalized] };
  };
  // The package read a moment ago is written back as is (no second read); only a concurrent change reads again.
  return (await updateDocumentFrom('packages', pkg, addVersion)) ?? pkg;
}

const noSuchPackage = (id: string) => new Problem('not_found', `There is no package '${id}'.`);

export async function getPackage(packageId: string) {
  const pkg = await readDocument<PackageDocument>('packages', packageId.toLowerCase());
  if (!pkg) throw noSuchPackage(packageId);
  return toView(pkg);
}

/** An organization's admin, by the organization's own document (a member's copy of its roles may lag). */
const administers = (account: AccountDocument | undefined, callerId: string): boolean =>
  account?.kind === 'organization' && !account.deletedAt && (account.members ?? []).some((m) => m.accountId === callerId && m.role === 'admin');

const notAnOwner = (pkg: PackageDocument) => new Problem('not_an_owner', `You are not an owner of '${pkg.displayId}'.`);

/**
 * Manages a package: an owner itself, or an admin of an organization that owns it. An organization's
 * rights are read from its own document now (point reads), never from the caller's copy of its roles, so
 * an admin demoted a moment ago manages nothing more. Answers the package and the owner the caller acts as;
 * each write checks on the document it writes that this owner still is one.
 */
async function packageManagedBy(packageId: string, caller: AccountDocument): Promise<{ pkg: PackageDocument; actingAs: PackageOwner }> {
  const pkg = await readDocument<PackageDocument>('packages', packageId.toLowerCase());
  if (!pkg) throw noSuchPackage(packageId);
  const direct = pkg.owners.find((o) => o.accountId === caller.id);
  if (direct) return { pkg, actingAs: direct };
  const owners = await Promise.all(pkg.owners.map((o) => readAccount(o.accountId)));
  const index = owners.findIndex((owner) => administers(owner, caller.id));
  if (index < 0) throw notAnOwner(pkg);
  return { pkg, actingAs: pkg.owners[index] };
}

/** Invites an account or organization to co-own the package; its emailed token works for 7 days. */
export async function inviteOwner(packageId: string, username: string, caller: AccountDocument, clientAddress: string, log: Log) {
  const { pkg, actingAs } = await packageManagedBy(packageId, caller);
  const invitee = await accountHolding({ kind: 'username', name: username });
  if (!invitee || invitee.deletedAt) throw new Problem('user_not_found', `There is no account or organization named '${username}'.`);
  if (isOwner(pkg, invitee.id)) throw new Problem('already_owner', `'${invitee.username}' already owns '${pkg.displayId}'.`);
  const token = await issueToken('package-owner-invitation', tokenRecipient(invitee), OWNER_INVITATION_LIFETIME_MS, pkg.id);
  const email = await queueEmail(packageOwnerInvitationMessage(invitee, pkg.displayId, caller.username, token), { container: 'packages', id: pkg.id });
  const { id: tokenId, expiresAt } = token;
  await updateDocument<PackageDocument>('packages', pkg.id, (current) => {
    if (!isOwner(current, actingAs.accountId)) throw notAnOwner(current);
    return {
      ...current,
      pendingOwners: [
        ...current.pendingOwners.filter((p) => p.accountId !== invitee.id),
        { accountId: invitee.id, username: invitee.username, tokenId, expiresAt },
      ],
    };
  });
  await recordAudit(caller.id, 'package_owner_invited', clientAddress, { package: pkg.displayId, owner: invitee.username });
  await deliverSoon(email, log);
}

const invalidOwnerInvitation = () =>
  new Problem('invalid_token', 'This invitation to own the package is not valid: it may have expired, been replaced or used already.');

/**
 * Accepts an invitation to co-own: by the invited account, or for an invited organization by one of its
 * admins, by the organization's own document. The invitation holds only while it is the package's current
 * one and the address it went to is still the invitee's. The ownership record is written before the
 * package's owner list, and the token spent last, so accepting again finishes an accept that died halfway.
 */
export async function acceptOwnerInvitation(packageId: string, secret: string, caller: AccountDocument, clientAddress: string) {
  const token = await findToken(secret, 'package-owner-invitation');
  const pkg = await readDocument<PackageDocument>('packages', packageId.toLowerCase());
  const pending = pkg?.pendingOwners.find((p) => p.tokenId === token.id);
  if (!pkg || token.subjectId !== pkg.id || !pending) throw invalidOwnerInvitation();
  const invitee = pending.accountId === caller.id ? caller : await readAccount(pending.accountId);
  const actsFor = invitee !== undefined && !invitee.deletedAt && (invitee.id === caller.id || administers(invitee, caller.id));
  if (!actsFor || !tokenStillAddressed(token, invitee)) throw invalidOwnerInvitation();
  await recordOwnership(pending.accountId, pkg.id);
  const updated = await updateDocument<PackageDocument>('packages', pkg.id, (current) => {
    const stillPending = current.pendingOwners.some((p) => p.tokenId === token.id);
    if (!stillPending && !isOwner(current, pending.accountId)) throw invalidOwnerInvitation();
    return {
      ...current,
      owners: isOwner(current, pending.accountId) ? current.owners : [...current.owners, { accountId: pending.accountId, username: pending.username }],
      pendingOwners: current.pendingOwners.filter((p) => p.tokenId !== token.id),
    };
  });
  await recordAudit(caller.id, 'package_owner_added', clientAddress, { package: pkg.displayId, owner: pending.username });
  await spendToken(token);
  return toView(updated ?? pkg);
}

/** Removes an owner; a package always keeps one. */
export async function removeOwner(packageId: string, username: string, caller: AccountDocument, clientAddress: string): Promise<void> {
  const { pkg, actingAs } = await packageManagedBy(packageId, caller);
  const owner = pkg.owners.find((o) => o.username.toLowerCase() === username.toLowerCase());
  if (!owner) throw new Problem('not_found', `'${username}' is not an owner of '${pkg.displayId}'.`);
  await updateDocument<PackageDocument>('packages', pkg.id, (current) => {
    // Two owners removing each other: the second finds itself no longer an owner.
    if (!isOwner(current, actingAs.accountId)) throw notAnOwner(current);
    const owners = current.owners.filter((o) => o.accountId !== owner.accountId);
    if (owners.length === current.owners.length) return undefined;
    if (owners.length === 0) throw new Problem('last_owner', `'${current.displayId}' must keep an owner. Add another owner first.`);
    return { ...current, owners };
  });
  await forgetOwnership(owner.accountId, pkg.id);
  await recordAudit(caller.id, 'package_owner_removed', clientAddress, { package: pkg.displayId, owner: owner.username });
}
