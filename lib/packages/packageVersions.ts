import type { SqlParameter } from '@azure/cosmos';
import { nowIso } from '../shared/clock';
import type { Log } from '../shared/log';
import { container, isConflict, isPreconditionFailed, readDocument, replaceIfUnchanged, updateDocument, updateDocumentFrom, upsertAllInPartition, type StoredDocument } from '../shared/storage/cosmos';
import type { PackageDocument } from './packages';
import { storedVersion, versionSortKey, type NuGetVersion } from './versions';

/**
 * A package's versions: one item each in `packageVersions`, in the partition of the package's lower-case id, so the
 * package document every push reads stays the same size whatever the number of versions (Cosmos DB charges by the
 * size of what it reads and writes, and an item may hold 2 MB: some 80,000 versions, when the document held them).
 * Creating a version's item is the duplicate check; its sort key pages the versions in NuGet's order within the
 * partition; `listed` is on each, and a package is listed while any of its versions is, asked of the store when shown.
 */
export interface VersionItem extends StoredDocument {
  /** The package's lower-case id: the partition. `id` is the version's key (normalized, lower case). */
  packageId: string;
  /** Normalized, with the label case of its push (`1.0.0-Beta`): what is shown. */
  version: string;
  /** `versionSortKey`: NuGet's order, as the store orders strings. */
  sortKey: string;
  listed: boolean;
  /** When it was pushed; absent on a version moved off its package document, which did not keep that. */
  pushedAt?: string;
  /** Pushed with a key trusted publishing made. */
  trustedPublishing?: true;
  /**
   * Copied off its package document by `moveVersionsOffPackages`, and ignored while that document still holds its
   * versions: the document is their truth until the move takes them off it, in one write.
   */
  movedFromPackage?: true;
}

/**
 * How a package document kept its versions before they had items of their own (every push read, sorted and rewrote
 * them all, and at some 80,000 versions the document reached Cosmos DB's 2 MB limit): `versions`, normalized, in push
 * order (before versions were normalized: lower-cased as pushed, several spellings of one version side by side, read
 * as NuGet reads them, each once); `unlistedVersions`, the keys of the unlisted ones (absent before versions were
 * listed one by one: every version was then as `listed` says). Such a document is read as it is, takes new versions as
 * items beside the ones it holds (which stay where they are until they are moved), and has them moved off by
 * `moveVersionsOffPackages`.
 */
export interface VersionsOnPackage {
  versions?: string[];
  unlistedVersions?: string[];
  listed?: boolean;
}

/** A version as a list shows it, with where it sorts. */
export interface VersionRow {
  version: string;
  listed: boolean;
  sortKey: string;
}

type PackageVersions = Pick<PackageDocument, 'id'> & VersionsOnPackage;

export const holdsVersions = (pkg: VersionsOnPackage): pkg is VersionsOnPackage & { versions: string[] } => Array.isArray(pkg.versions);

/** The versions a package document holds, each once (by key), and whether each is listed. */
function versionsOnPackage(pkg: VersionsOnPackage): Array<VersionRow & { key: string }> {
  if (!holdsVersions(pkg)) return [];
  const unlisted = new Set(pkg.unlistedVersions ?? []);
  const seen = new Set<string>();
  const rows: Array<VersionRow & { key: string }> = [];
  for (const stored of pkg.versions) {
    const { key, normalized, sortKey } = storedVersion(stored);
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({ key, version: normalized, sortKey, listed: pkg.unlistedVersions ? !unlisted.has(key) : pkg.listed === true });
  }
  return rows;
}

/** The version with this key as the package document holds it, if it does. */
export const versionOnPackage = (pkg: VersionsOnPackage, key: string) => versionsOnPackage(pkg).find((row) => row.key === key);

/**
 * The package document with the versions it holds listed as `listedNow` says, in the shape it keeps them (and
 * `listed` in step, as that shape had it).
 */
export function withListingOnPackage<T extends VersionsOnPackage>(pkg: T, listedNow: (row: VersionRow & { key: string }) => boolean): T {
  const rows = versionsOnPackage(pkg);
  const unlisted = rows.filter((row) => !listedNow(row)).map((row) => row.key);
  return { ...pkg, unlistedVersions: unlisted, listed: unlisted.length < rows.length };
}

const bySortKey = (a: VersionRow, b: VersionRow) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0);

/**
 * A query within one package's partition, answered in one page of up to `pageSize`. The filter names the partition
 * too: the local stand-in ignores the partition key option.
 */
async function queryVersions<T>(packageId: string, query: string, parameters: SqlParameter[] = [], pageSize = 100): Promise<T[]> {
  const { resources } = await container('packageVersions')
    .items.query<T>({ query, parameters: [{ name: '@packageId', value: packageId }, ...parameters] }, { partitionKey: packageId, maxItemCount: pageSize })
    .fetchAll();
  return resources;
}

/** The items that are the package's versions: while its document still holds some, not the copies the move made of them. */
const itemsCounted = (pkg: VersionsOnPackage) => `c.packageId = @packageId${holdsVersions(pkg) ? ' AND NOT IS_DEFINED(c.movedFromPackage)' : ''}`;

/**
 * Up to `count` versions after the sort key `after` (`''`: from the first), in NuGet's order: one query, ordered by
 * the index, whatever the number of versions. A document that still holds versions adds them, in order, from what
 * was read.
 */
export async function versionsAfter(pkg: PackageVersions, after: string, count: number): Promise<VersionRow[]> {
  const items = await queryVersions<VersionRow>(
    pkg.id,
    `SELECT TOP @count c.version, c.listed, c.sortKey FROM c WHERE ${itemsCounted(pkg)} AND c.sortKey > @after ORDER BY c.sortKey`,
    [
      { name: '@count', value: count },
      { name: '@after', value: after },
    ],
    count,
  );
  if (!holdsVersions(pkg)) return items;
  const held = versionsOnPackage(pkg)
    .filter((row) => row.sortKey > after)
    .map(({ version, listed, sortKey }) => ({ version, listed, sortKey }));
  return [...items, ...held].sort(bySortKey).slice(0, count);
}

/**
 * How many versions the package has: counted by the store when asked (a count kept on the package would be a write
 * on every push, and could part from the versions when a process dies between the two).
 */
export async function versionCount(pkg: PackageVersions): Promise<number> {
  const [counted] = await queryVersions<number>(pkg.id, `SELECT VALUE COUNT(1) FROM c WHERE ${itemsCounted(pkg)}`);
  return (counted ?? 0) + versionsOnPackage(pkg).length;
}

/** Whether any version is listed: the package is listed while one is. Asked of the store, so it is never out of step. */
export async function anyVersionListed(pkg: PackageVersions): Promise<boolean> {
  if (versionsOnPackage(pkg).some((row) => row.listed)) return true;
  return (await queryVersions<string>(pkg.id, `SELECT TOP 1 VALUE c.id FROM c WHERE ${itemsCounted(pkg)} AND c.listed = true`)).length > 0;
}

/**
 * Adds a listed version to the package, unless it has one NuGet treats as the same (listed or not: versions are
 * immutable): creating its item is the check, and of equivalent pushes at once Cosmos DB lets exactly one create it.
 * False when it was there already. (A version the package document still holds is the caller's to look for first.)
 */
export async function addVersion(packageId: string, version: NuGetVersion, pushedWithTrustedPublishing: boolean): Promise<boolean> {
  const item: VersionItem = {
    id: version.key,
    packageId,
    version: version.normalized,
    sortKey: versionSortKey(version),
    listed: true,
    pushedAt: nowIso(),
    ...(pushedWithTrustedPublishing ? { trustedPublishing: true as const } : {}),
  };
  try {
    await container('packageVersions').items.create(item);
    return true;
  } catch (error) {
    if (isConflict(error)) return false;
    throw error;
  }
}

/** Whether the package has the version with this key: on its document, or one point read. */
export async function hasVersion(pkg: PackageVersions, key: string): Promise<boolean> {
  if (versionOnPackage(pkg, key)) return true;
  return (await readDocument<VersionItem>('packageVersions', key, pkg.id)) !== undefined;
}

const listedAs = (listed: boolean) => (item: VersionItem) => (item.listed === listed ? undefined : { ...item, listed });

/**
 * Lists or unlists the version item with this key: a point read, and a write under its ETag only if it changes (of
 * two at once, one changes it), so the answer says whether it did. Undefined when the package has no such item. (A
 * version its document still holds is listed there, by the caller.)
 */
export async function setVersionItemListed(packageId: string, key: string, listed: boolean): Promise<{ version: string; changed: boolean } | undefined> {
  let changed = false;
  const item = await updateDocument<VersionItem>(
    'packageVersions',
    key,
    (current) => {
      const next = listedAs(listed)(current);
      changed = next !== undefined;
      return next;
    },
    packageId,
  );
  return item && { version: item.version, changed };
}

/**
 * Unlists every version item of the package, a page at a time, each under the ETag it was read with: what is left
 * listed is asked again each time, so a run that stops halfway is finished by the next. (Versions its document still
 * holds are unlisted there.)
 */
export async function unlistEveryVersion(packageId: string, pageSize = 100, parallel = 10): Promise<void> {
  for (;;) {
    const query = 'SELECT TOP @pageSize * FROM c WHERE c.packageId = @packageId AND c.listed = true';
    const items = await queryVersions<VersionItem>(packageId, query, [{ name: '@pageSize', value: pageSize }], pageSize);
    if (items.length === 0) return;
    for (let i = 0; i < items.length; i += parallel) {
      await Promise.all(items.slice(i, i + parallel).map((item) => updateDocumentFrom('packageVersions', item, listedAs(false), packageId)));
    }
  }
}

/**
 * The latest push a key trusted publishing made, for the alarm: among the versions, each of which says whether such
 * a key pushed it; else as the package document recorded it before versions had items.
 */
export async function latestTrustedPublishingPush(pkg: Pick<PackageDocument, 'id' | 'trustedPublishingPushed'>): Promise<{ at: string; version: string } | undefined> {
  const query = 'SELECT TOP 1 c.version, c.pushedAt FROM c WHERE c.packageId = @packageId AND c.trustedPublishing = true ORDER BY c.pushedAt DESC';
  const [latest] = await queryVersions<{ version: string; pushedAt: string }>(pkg.id, query);
  return latest ? { at: latest.pushedAt, version: latest.version } : pkg.trustedPublishingPushed;
}

/** Versions the move writes in one run at most; the next run goes on where it stopped. */
const MOVE_WRITES_PER_RUN = 20_000;
/** Attempts at taking the versions off one package document, which a concurrent change of it makes try again. */
const MOVE_ATTEMPTS = 5;

/**
 * Moves the versions package documents still hold (see `VersionsOnPackage`) to items of their own, one package after
 * another, at most `budget` versions written per run: the timer `movePackageVersions` runs it until none is left,
 * and it can be run at once (`POST /admin/functions/movePackageVersions`). Resumable and safe beside itself: what a
 * run wrote before it stopped is there for the next, and each package's document is rewritten once, at the end.
 */
export async function moveVersionsOffPackages(log: Log, budget = MOVE_WRITES_PER_RUN): Promise<{ packages: number; versions: number; finished: boolean }> {
  const tally = { packages: 0, versions: 0, finished: false };
  for (;;) {
    const ids = await packagesHoldingVersions(50);
    if (ids.length === 0) return { ...tally, finished: true };
    for (const id of ids) {
      const { written, done } = await moveVersionsOff(id, budget - tally.versions);
      tally.versions += written;
      if (!done) {
        log.warn(`The versions of package ${id} are left to move on the next run`);
        return tally;
      }
      tally.packages += 1;
    }
  }
}

/** Package documents that still hold their versions: a query across partitions, for the move only. */
async function packagesHoldingVersions(max: number): Promise<string[]> {
  const { resources } = await container('packages')
    .items.query<string>({ query: 'SELECT TOP @max VALUE c.id FROM c WHERE IS_DEFINED(c.versions)', parameters: [{ name: '@max', value: max }] })
    .fetchAll();
  return resources;
}

/**
 * Moves one package document's versions: a copy of each, as the document has it, written (or brought in step) where
 * there is none yet, then the document rewritten without them under the ETag it was read with, so an unlist or any
 * other change of it meanwhile makes it look again. Until that write, readers go by the document and ignore the
 * copies; after it, by the items. A version pushed since the document stopped taking versions is an item already and
 * left as it is.
 */
async function moveVersionsOff(packageId: string, budget: number): Promise<{ written: number; done: boolean }> {
  let written = 0;
  for (let attempt = 1; attempt <= MOVE_ATTEMPTS; attempt += 1) {
    const pkg = await readDocument<PackageDocument>('packages', packageId);
    if (!pkg || !holdsVersions(pkg)) return { written, done: true };
    const items = new Map(
      (await queryVersions<Pick<VersionItem, 'id' | 'listed' | 'movedFromPackage'>>(pkg.id, 'SELECT c.id, c.listed, c.movedFromPackage FROM c WHERE c.packageId = @packageId', [], 1000)).map(
        (item) => [item.id, item],
      ),
    );
    const toWrite = versionsOnPackage(pkg).filter((row) => {
      const item = items.get(row.key);
      return item === undefined || (item.movedFromPackage === true && item.listed !== row.listed);
    });
    const now = toWrite.slice(0, Math.max(0, budget - written));
    await writeCopies(pkg.id, now);
    written += now.length;
    if (now.length < toWrite.length) return { written, done: false };
    const { versions: _versions, unlistedVersions: _unlisted, listed: _listed, ...withoutVersions } = pkg;
    try {
      await replaceIfUnchanged('packages', withoutVersions);
      return { written, done: true };
    } catch (error) {
      if (!isPreconditionFailed(error)) throw error;
    }
  }
  return { written, done: false };
}

/** Writes the copies, a hundred to a request (`upsertAllInPartition`). */
async function writeCopies(packageId: string, rows: Array<VersionRow & { key: string }>): Promise<void> {
  const copies = rows.map(
    (row): VersionItem => ({ id: row.key, packageId, version: row.version, sortKey: row.sortKey, listed: row.listed, movedFromPackage: true }),
  );
  await upsertAllInPartition('packageVersions', packageId, copies);
}
