import { z } from 'zod';
import { recordTrailEvent } from '../shared/audit';
import { clock, nowIso } from '../shared/clock';
import { Problem } from '../shared/problems';
import { container, isConflict, isNotFound, readDocument, updateDocument, updateDocumentFrom, type StoredDocument } from '../shared/storage/cosmos';
import { readAccount, type AccountDocument } from '../accounts/account';
import { usernameField } from '../accounts/names';
import { assertKeyAllows, type ApiKeyDocument } from './apiKeys';
import { packageIdField } from './globs';
import { packageOwnerRemovedNotice } from '../shared/email/messages';
import { noticeToAll } from '../accounts/notices';
import { organizationsAmong, pushRecorded, recordListingChange, type PackageActor } from './packageEvents';
import {
  addVersion,
  anyVersionListed,
  holdsVersions,
  setVersionItemListed,
  unlistEveryVersion,
  versionCount,
  versionOnPackage,
  versionsAfter,
  withListingOnPackage,
  type VersionsOnPackage,
} from './packageVersions';
import { reservationCovering } from './prefixes';
import { MAX_ID_AND_VERSION_LENGTH, versionField, versionLookupField, type NuGetVersion } from './versions';
import { continuationFor, pageQuery, positionIn } from '../shared/paging';
import type { Log } from '../shared/log';

export interface PackageOwner {
  accountId: string;
  username: string;
}

/** An invitation to co-own the package, waiting for its answer; `tokenId` is the emailed token's. */
export interface PendingOwner extends PackageOwner {
  tokenId: string;
  expiresAt: string;
  /** When, by whom, and for which owner (the inviter, or an organization it administers); absent on invitations sent before they were kept. */
  invitedAt?: string;
  invitedBy?: PackageOwner;
  invitedFor?: PackageOwner;
}

/** An invitation that says when, by whom and for which owner it was sent: every one sent since they were kept. */
export type SentInvitation = PendingOwner & Required<Pick<PendingOwner, 'invitedAt' | 'invitedBy' | 'invitedFor'>>;

/**
 * A package: its owners, invitations and how it may be published, the same size however many versions it has (they
 * are items of their own, lib/packages/packageVersions.ts; a document stored before then holds its versions too,
 * `VersionsOnPackage`, until they are moved off it).
 */
export interface PackageDocument extends StoredDocument, VersionsOnPackage {
  /** As first pushed; `id` is its lower-case form. */
  displayId: string;
  owners: PackageOwner[];
  pendingOwners: PendingOwner[];
  createdAt: string;
  /**
   * Trusted-publishing-only: while true, only keys trusted publishing made push the package or unlist and relist
   * its versions. Absent on every package until an owner first turns it on, and read as off.
   */
  trustedPublishingOnly?: boolean;
  /**
   * That a key trusted publishing made has pushed the package: its first such push, written once, by that push (a
   * package whose versions it held recorded its latest such push here until they were moved off it). Each version
   * says whether such a key pushed it, which gives the latest (`latestTrustedPublishingPush`). Absent on a package no
   * such key pushed since it was kept, including one trusted publishing pushed before then: nothing on the package
   * said which kind of key pushed it, so it reads as never pushed so until trusted publishing pushes it again.
   */
  trustedPublishingPushed?: { at: string; version: string };
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

/** The versions `GET /api/packages/{id}` shows: the first in NuGet's order (and how many there are in all). */
export const FIRST_VERSIONS = 100;
/** The most a page of `GET /api/packages/{id}/versions` holds. */
export const MAX_VERSIONS_PAGE = 1000;

const versionView = z.object({ version: z.string().describe('Normalized'), listed: z.boolean() });
const packageIdentity = {
  id: z.string(),
  owners: z.array(z.string()),
};
const packageListed = z.boolean().describe('Whether any version is listed');

/** What a push answers: the version pushed, never the whole version list. */
export const pushedVersionView = z.object({
  ...packageIdentity,
  version: z.string().describe('The version pushed, normalized'),
  listed: packageListed.describe('Whether any version is listed: true, as a new version is'),
});
/** The package with the owner invitations that still stand: `GET /api/packages/{id}`, and what an accept answers. */
export const packageView = z.object({
  ...packageIdentity,
  versions: z
    .array(versionView)
    .describe(`The first ${FIRST_VERSIONS} versions in NuGet's version order; GET /api/packages/{id}/versions pages through all of them`),
  versionCount: z.number().int().describe('How many versions the package has'),
  listed: packageListed,
  trustedPublishingOnly: z
    .boolean()
    .describe('While true, only API keys trusted publishing made may push the package or unlist and relist its versions; owners still unlist and relist signed in'),
  pendingOwners: z
    .array(z.object({ username: z.string().describe('The account or organization invited'), invitedBy: z.string(), invitedAt: z.string() }))
    .describe('Invitations waiting for an answer whose sender still manages the package, oldest first'),
});
/** `pageSize` (1 to 1000, default 100) and `continuationToken`: a page of a package's versions. */
export const versionsPageQuery = pageQuery(MAX_VERSIONS_PAGE);
export const versionsPage = z.object({
  versions: z.array(versionView).describe("In NuGet's version order"),
  continuationToken: z.string().nullable().describe('Pass it back for the next page; null on the last'),
});
/** `{id}`: a package. */
export const packageParams = z.object({ id: packageIdField });
/** `{id}` and `{username}`: a package and one of its owners (or an account invited to be one). */
export const packageOwnerParams = z.object({ id: packageIdField, username: usernameField });
/** `{id}` and `{version}`: one version of a package, in any spelling NuGet reads as it (`1.0` is `1.0.0`). */
export const packageVersionParams = z.object({ id: packageIdField, version: versionLookupField });
export const listedBody = z.object({ listed: z.boolean() }).strict();

/** Records in the owner's partition that it owns the package; the package's own owner list stays the truth. */
export async function recordOwnership(accountId: string, packageId: string): Promise<void> {
  await container('ownerships').items.upsert({ id: packageId, accountId });
}

export async function forgetOwnership(accountId: string, packageId: string): Promise<void> {
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

/** Reads packages by (lower-case) id, 50 point reads at a time; missing ones are left out. */
export async function readPackages(packageIds: readonly string[]): Promise<PackageDocument[]> {
  const packages: PackageDocument[] = [];
  for (let i = 0; i < packageIds.length; i += 50) {
    const batch = await Promise.all(packageIds.slice(i, i + 50).map((id) => readDocument<PackageDocument>('packages', id)));
    packages.push(...batch.filter((pkg): pkg is PackageDocument => pkg !== undefined));
  }
  return packages;
}

/**
 * Removes the account from the owners of every package it owns, a page at a time: a package it owned
 * alone is left with no owner and has every version unlisted (which nobody can then relist or push); an
 * organization still owning one finds the change in its trail, and the owners left are told. Each ownership record
 * goes once its package is updated and unlisted, so a run that stops halfway resumes where it was (and records and
 * tells nothing twice).
 */
export async function releaseAllOwnerships(accountId: string, pageSize = 100, parallel = 10): Promise<number> {
  const account = await readAccount(accountId);
  let released = 0;
  for (;;) {
    const page = await ownedPackageIds(accountId, pageSize);
    if (page.length === 0) return released;
    for (let i = 0; i < page.length; i += parallel) {
      await Promise.all(
        page.slice(i, i + parallel).map(async (packageId) => {
          const updated = await updateDocument<PackageDocument>('packages', packageId, (pkg) => {
            if (!isOwner(pkg, accountId)) return undefined;
            const owners = pkg.owners.filter((o) => o.accountId !== accountId);
            const released = { ...pkg, owners };
            return owners.length > 0 || !holdsVersions(pkg) ? released : withListingOnPackage(released, () => false);
          });
          if (updated && updated.owners.length === 0) await unlistEveryVersion(packageId);
          if (updated && account) {
            const owners = updated.owners.map((o) => o.accountId);
            await recordTrailEvent(await organizationsAmong(owners), {
              id: `owner-deleted:${packageId}:${accountId}`,
              action: 'package_owner_removed',
              actor: { accountId, username: account.username },
              details: { package: updated.displayId, owner: account.username, reason: 'account_deleted' },
            });
            const content = packageOwnerRemovedNotice(updated.displayId, account.username, undefined, { at: nowIso() });
            await noticeToAll(owners, 'emailAllowed', content, { container: 'packages', id: packageId }, { onceKey: `owner-deleted:${packageId}:${accountId}`, afterChange: true });
          }
          await forgetOwnership(accountId, packageId);
        }),
      );
    }
    released += page.length;
  }
}

/** The packages nobody but the account owns, by id: its to hand over before it is deleted. */
export async function solelyOwnedPackages(accountId: string): Promise<string[]> {
  const packages = await readPackages(await ownedPackageIds(accountId, 10_000));
  return packages.filter((pkg) => pkg.owners.length === 1 && pkg.owners[0].accountId === accountId).map((pkg) => pkg.displayId);
}

export const isOwner = (pkg: PackageDocument, accountId: string) => pkg.owners.some((o) => o.accountId === accountId);

/**
 * Refuses a key trusted publishing did not make while the package is trusted-publishing-only, saying what to do
 * instead of what the key was used for (`push`, or `list`: unlist or relist).
 */
function assertTrustedPublishingAllows(pkg: PackageDocument, key: ApiKeyDocument, use: 'push' | 'list'): void {
  if (pkg.trustedPublishingOnly !== true || key.trustedPublishing) return;
  const instead =
    use === 'push'
      ? 'Push it from its CI job with trusted publishing (the job trades the token its CI system gives it for a short-lived key at the token API, as NuGet/login does)'
      : 'Unlist or relist its versions signed in as an owner, or with a key trusted publishing made';
  throw new Problem(
    'trusted_publishing_required',
    `'${pkg.displayId}' accepts only trusted publishing, and this API key was not made by it. ${instead}, or have an owner turn trusted-publishing-only off for the package first.`,
  );
}

/** The mark that trusted publishing pushed the package, from a push with a key it made: on the package's creation, or its first such push. */
const markOfPush = (key: ApiKeyDocument, version: NuGetVersion): Pick<PackageDocument, 'trustedPublishingPushed'> =>
  key.trustedPublishing ? { trustedPublishingPushed: { at: nowIso(), version: version.normalized } } : {};

/** What a push answers: the version pushed, never the whole version list; the package is listed, as a new version is. */
const pushedView = (pkg: PackageDocument, version: NuGetVersion): z.infer<typeof pushedVersionView> => ({
  id: pkg.displayId,
  version: version.normalized,
  owners: pkg.owners.map((o) => o.username),
  listed: true,
});

const versionExists = (pkg: PackageDocument, version: string) =>
  new Problem('package_version_exists', `A package with ID '${pkg.displayId}' and version '${version}' already exists and cannot be modified. Push a new version.`);

/**
 * The check the push pipeline calls: the key (one point read), the package (one), and for a new id the
 * prefix reservations (one); then the version's item created and the push's audit record, at the same time. The
 * package document is not written (it does not hold versions), so a push costs the same at 10 versions as at
 * 100,000: only the first push of a trusted publishing key writes its mark there, and a new id the document itself.
 * A new id is owned by the key's owner; a new version needs an owner's key, and one trusted publishing made while the
 * package is trusted-publishing-only. Everything that refuses a push is decided on the package as read, before
 * anything is written, except a version the package has as an item: creating it is the check. A long-lived key
 * pushing a package trusted publishing has pushed is an alarm for a stolen key: decided on the package read, it rides
 * in the push's record, as the push notice does, so it costs no request.
 */
export async function pushPackage(
  key: ApiKeyDocument,
  input: z.infer<typeof pushBody>,
  clientAddress: string,
  log: Log,
): Promise<{ created: boolean; pushed: z.infer<typeof pushedVersionView> }> {
  const id = input.id.toLowerCase();
  const { version } = input;
  const by = { key, clientAddress };
  const existing = await readDocument<PackageDocument>('packages', id);
  if (existing) {
    assertMayPushVersion(existing, key, version);
    const alarm = !key.trustedPublishing && existing.trustedPublishingPushed !== undefined;
    const pkg = await pushRecorded(by, existing.displayId, version, () => pushVersion(existing, key, version), log, { alarm });
    return { created: false, pushed: pushedView(pkg, version) };
  }

  assertKeyAllows(key, input.id, ['package:push']);
  const reservation = await reservationCovering(input.id);
  if (reservation && !reservation.owners.some((o) => o.accountId === key.ownerAccountId)) {
    throw new Problem('prefix_reserved', `The prefix '${reservation.displayPrefix}' is reserved; '${key.ownerName}' cannot push new ids under it.`);
  }
  const pkg: PackageDocument = {
    id,
    displayId: input.id,
    owners: [{ accountId: key.ownerAccountId, username: key.ownerName }],
    pendingOwners: [],
    createdAt: nowIso(),
    ...markOfPush(key, version),
  };
  return pushRecorded(by, input.id, version, () => createPackage(key, pkg, version), log);
}

/**
 * Creates the package, then its first version: a version is only ever made once its package exists, so one found
 * there was pushed to this package a moment ago (an equivalent spelling at the same moment). If someone created the
 * package a moment before, this push is a new version of theirs.
 */
async function createPackage(key: ApiKeyDocument, pkg: PackageDocument, version: NuGetVersion) {
  await recordOwnership(key.ownerAccountId, pkg.id);
  try {
    await container('packages').items.create(pkg);
  } catch (error) {
    if (!isConflict(error)) throw error;
    const raced = await readDocument<PackageDocument>('packages', pkg.id);
    if (!raced) throw new Problem('concurrent_change', `'${pkg.displayId}' was changed by another request at the same moment. Push it again.`);
    // The record written above claims a package this owner did not get: take it back.
    if (!isOwner(raced, key.ownerAccountId)) await forgetOwnership(key.ownerAccountId, pkg.id);
    assertMayPushVersion(raced, key, version);
    return { created: false, pushed: pushedView(await pushVersion(raced, key, version), version) };
  }
  if (!(await addVersion(pkg.id, version, key.trustedPublishing !== undefined))) throw versionExists(pkg, version.normalized);
  return { created: true, pushed: pushedView(pkg, version) };
}

/**
 * Whether `key` may push `version` of the package as read: its scope and globs, its owner an owner, the switch, and
 * no version NuGet treats as the same (`1.0` after `1.0.0`, `1.0.0-BETA` after `1.0.0-beta`, `1.0.0+build` after
 * `1.0.0`), listed or not, among those the document still holds (the items answer for the rest when one is created).
 */
function assertMayPushVersion(pkg: PackageDocument, key: ApiKeyDocument, version: NuGetVersion): void {
  assertKeyAllows(key, pkg.displayId, ['package:push', 'package:pushversion']);
  if (!isOwner(pkg, key.ownerAccountId)) throw notAnOwner(pkg, key.ownerName);
  assertTrustedPublishingAllows(pkg, key, 'push');
  const held = versionOnPackage(pkg, version.key);
  if (held) throw versionExists(pkg, held.version);
}

/**
 * Adds the version, listed, unless the package has it (of equivalent pushes at once exactly one succeeds: creating
 * its item is the check), and, for the first push of a key trusted publishing made, marks the package so. Decided on
 * the package as read: its document is not written, so a change of its owners or of trusted-publishing-only a moment
 * after that read cannot stop a push already checked (it would take a request more on every push).
 */
async function pushVersion(pkg: PackageDocument, key: ApiKeyDocument, version: NuGetVersion): Promise<PackageDocument> {
  if (!(await addVersion(pkg.id, version, key.trustedPublishing !== undefined))) throw versionExists(pkg, version.normalized);
  if (!key.trustedPublishing || pkg.trustedPublishingPushed) return pkg;
  const marked = await updateDocumentFrom<PackageDocument>('packages', pkg, (current) =>
    current.trustedPublishingPushed ? undefined : { ...current, ...markOfPush(key, version) },
  );
  return marked ?? pkg;
}

export const noSuchPackage = (id: string) => new Problem('not_found', `There is no package '${id}'.`);

export async function getPackage(packageId: string): Promise<z.infer<typeof packageView>> {
  const pkg = await readDocument<PackageDocument>('packages', packageId.toLowerCase());
  if (!pkg) throw noSuchPackage(packageId);
  return viewWithInvitations(pkg);
}

/**
 * The package with its first versions, their count and its standing invitations: a query for the first page of
 * versions and one counting them (at once), and a point read of each organization an invitation was sent for by an
 * admin. Whether it is listed is seen on that page, and asked of the store only when none of a longer list's first
 * versions is.
 */
export async function viewWithInvitations(pkg: PackageDocument): Promise<z.infer<typeof packageView>> {
  const [first, count, standing] = await Promise.all([versionsAfter(pkg, '', FIRST_VERSIONS), versionCount(pkg), standingInvitations(pkg)]);
  const listed = first.some((v) => v.listed) || (count > first.length && (await anyVersionListed(pkg)));
  return {
    id: pkg.displayId,
    owners: pkg.owners.map((o) => o.username),
    versions: first.map(({ version, listed: shown }) => ({ version, listed: shown })),
    versionCount: count,
    listed,
    trustedPublishingOnly: pkg.trustedPublishingOnly === true,
    pendingOwners: standing.map((p) => ({ username: p.username, invitedBy: p.invitedBy.username, invitedAt: p.invitedAt })),
  };
}

/** The list `GET /api/packages/{id}/versions` pages, for its continuation tokens. */
const VERSIONS_LIST = 'versions';

/**
 * One page of the package's versions in NuGet's order: one query within its partition, from the sort key the
 * continuation token holds (signed for this package's list), so a page costs the same wherever it is in the list.
 */
export async function getPackageVersions(packageId: string, pageSize = FIRST_VERSIONS, continuationToken?: string): Promise<z.infer<typeof versionsPage>> {
  const pkg = await readDocument<PackageDocument>('packages', packageId.toLowerCase());
  if (!pkg) throw noSuchPackage(packageId);
  const after = continuationToken === undefined ? '' : positionIn(VERSIONS_LIST, pkg.id, continuationToken);
  // One more than asked tells whether another page follows.
  const rows = await versionsAfter(pkg, after, pageSize + 1);
  const page = rows.slice(0, pageSize);
  return {
    versions: page.map(({ version, listed }) => ({ version, listed })),
    continuationToken: rows.length > pageSize ? continuationFor(VERSIONS_LIST, pkg.id, page[page.length - 1].sortKey) : null,
  };
}

/** An organization's admin, by the organization's own document (a member's copy of its roles may lag). */
export const administers = (account: AccountDocument | undefined, callerId: string): boolean =>
  account?.kind === 'organization' && !account.deletedAt && (account.members ?? []).some((m) => m.accountId === callerId && m.role === 'admin');

export const notAnOwner = (pkg: PackageDocument, who = 'You') =>
  new Problem('not_an_owner', `${who === 'You' ? 'You are' : `'${who}' is`} not an owner of '${pkg.displayId}'.`);

/**
 * Manages a package: an owner itself, or an admin of an organization that owns it. An organization's
 * rights are read from its own document now (point reads), never from the caller's copy of its roles, so
 * an admin demoted a moment ago manages nothing more. Answers the package and the owner the caller acts as;
 * each write checks on the document it writes that this owner still is one. Anyone else is refused with
 * `not_an_owner` (who owns a package is public).
 */
export async function packageManagedBy(packageId: string, caller: AccountDocument): Promise<{ pkg: PackageDocument; actingAs: PackageOwner }> {
  const pkg = await readDocument<PackageDocument>('packages', packageId.toLowerCase());
  if (!pkg) throw noSuchPackage(packageId);
  const direct = pkg.owners.find((o) => o.accountId === caller.id);
  if (direct) return { pkg, actingAs: direct };
  const owners = await Promise.all(pkg.owners.map((o) => readAccount(o.accountId)));
  const index = owners.findIndex((owner) => administers(owner, caller.id));
  if (index < 0) throw notAnOwner(pkg);
  return { pkg, actingAs: pkg.owners[index] };
}

/** Who may unlist or relist: an `package:unlist` key whose owner owns the package, or a session that manages it. */
export type ListingCaller = { key: ApiKeyDocument } | { account: AccountDocument };

/**
 * Unlists or relists one version. A key needs `package:unlist` and globs covering the id, and its owner must
 * own the package; while the package is trusted-publishing-only, only a key trusted publishing made will do. A
 * session must manage it (an owner, or an admin of an owning organization): a person signed in is no stored key.
 * Setting what is already so writes and records nothing. The write is the version's alone (its item, under the ETag
 * it was read with), so an unlist and a push at the same moment both land, and so do unlists of different versions;
 * who may make it is decided on the package as read, as for a push. A version the package document still holds is listed there instead, under its
 * ETag, each rule decided again on the document written (and, should the move take it off meanwhile, on its item).
 */
export async function setVersionListed(packageId: string, version: NuGetVersion, listed: boolean, caller: ListingCaller, clientAddress: string): Promise<void> {
  let pkg: PackageDocument;
  let by: PackageActor;
  if ('key' in caller) {
    assertKeyAllows(caller.key, packageId, ['package:unlist']);
    const found = await readDocument<PackageDocument>('packages', packageId.toLowerCase());
    if (!found) throw noSuchPackage(packageId);
    if (!isOwner(found, caller.key.ownerAccountId)) throw notAnOwner(found, caller.key.ownerName);
    assertTrustedPublishingAllows(found, caller.key, 'list');
    pkg = found;
    by = { key: caller.key, clientAddress };
  } else {
    const managed = await packageManagedBy(packageId, caller.account);
    pkg = managed.pkg;
    by = { account: caller.account, actingAs: managed.actingAs, clientAddress };
  }
  const listing = (versionOnPackage(pkg, version.key) && (await setListedOnPackage(pkg, version, listed, by))) || (await setVersionItemListed(pkg.id, version.key, listed));
  if (!listing) throw new Problem('not_found', `'${pkg.displayId}' has no version '${version.normalized}'.`);
  if (listing.changed) await recordListingChange(listed, by, pkg.displayId, listing.version);
}

/**
 * Lists or unlists a version the package document holds, under its ETag, deciding again on the document written
 * whether the actor may; undefined once the document holds it no more (moved off it meanwhile).
 */
async function setListedOnPackage(pkg: PackageDocument, version: NuGetVersion, listed: boolean, by: PackageActor) {
  const owner = 'key' in by ? { accountId: by.key.ownerAccountId, username: by.key.ownerName } : by.actingAs;
  let listing: { version: string; changed: boolean } | undefined;
  await updateDocumentFrom<PackageDocument>('packages', pkg, (current) => {
    if (!isOwner(current, owner.accountId)) throw notAnOwner(current, 'key' in by ? owner.username : 'You');
    if ('key' in by) assertTrustedPublishingAllows(current, by.key, 'list');
    const held = versionOnPackage(current, version.key);
    listing = held && { version: held.version, changed: held.listed !== listed };
    return listing?.changed ? withListingOnPackage(current, (row) => (row.key === version.key ? listed : row.listed)) : undefined;
  });
  return listing;
}

/**
 * Whether an invitation still waits for its answer by the service's clock. One stored before invitations said
 * who sent them waits no more: nobody can tell whether its sender still manages the package.
 */
export const stillPending = (pending: PendingOwner): pending is SentInvitation =>
  pending.invitedAt !== undefined && pending.invitedBy !== undefined && pending.invitedFor !== undefined && Date.parse(pending.expiresAt) > clock.now().getTime();

/** Sent by an admin of an organization for it, rather than by an owner for itself. */
const sentForOrganization = (pending: SentInvitation) => pending.invitedBy.accountId !== pending.invitedFor.accountId;

/** The organizations those of `invitations` still waiting were sent for by an admin, each by its own document (point reads). */
export async function organizationsSentFor(invitations: readonly PendingOwner[]): Promise<Map<string, AccountDocument | undefined>> {
  const ids = new Set(invitations.filter(stillPending).filter(sentForOrganization).map((p) => p.invitedFor.accountId));
  return new Map(await Promise.all([...ids].map(async (id) => [id, await readAccount(id)] as const)));
}

/**
 * Whether an invitation stands: it still waits, the owner it was sent for still owns `pkg`, and one an admin sent
 * for an organization was sent by an admin still, by the organization's own document (`organizations`, from
 * `organizationsSentFor`; never a member's copy of its roles). An invitation is only as good as its sender.
 */
export function invitationStands(pkg: PackageDocument, pending: PendingOwner, organizations: ReadonlyMap<string, AccountDocument | undefined>): pending is SentInvitation {
  if (!stillPending(pending) || !isOwner(pkg, pending.invitedFor.accountId)) return false;
  return !sentForOrganization(pending) || administers(organizations.get(pending.invitedFor.accountId), pending.invitedBy.accountId);
}

/** The package's invitations that stand (see `invitationStands`), oldest first. */
async function standingInvitations(pkg: PackageDocument): Promise<SentInvitation[]> {
  const organizations = await organizationsSentFor(pkg.pendingOwners);
  return pkg.pendingOwners.filter((p): p is SentInvitation => invitationStands(pkg, p, organizations));
}
