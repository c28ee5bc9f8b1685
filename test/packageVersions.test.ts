import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { compareVersions, versionLookupField, versionSortKey, type NuGetVersion } from '../lib/packages/versions';
import { outcome, useTestService, type ApiResponse } from './support/service';
import type { Member } from './support/organizations';
import { storeVersionItems, storeVersionsOnPackage, type CreatedApiKey } from './support/packages';

/** A package's versions, each an item of its own: NuGet's order, paging, listing, and packages stored before. */
const service = useTestService();

const newId = (stem = 'Versions') => `${stem}${randomBytes(4).toString('hex')}.Lib`;
const packageOf = async (id: string) => (await service.getPackage(id)).body;
const versionsPage = (id: string, query = '') => service.call('GET', `/api/packages/${encodeURIComponent(id)}/versions${query}`);
/** `version: listed` for each version of the package, as its view lists them. */
const listing = async (id: string) => Object.fromEntries((await packageOf(id)).versions.map((v: { version: string; listed: boolean }) => [v.version, v.listed]));

/** Every page of the package's versions, `pageSize` at a time, following the continuation tokens to the end. */
async function allPages(id: string, pageSize?: number): Promise<Array<{ version: string; listed: boolean }>> {
  const versions: Array<{ version: string; listed: boolean }> = [];
  let token: string | null = null;
  do {
    const query = new URLSearchParams();
    if (pageSize !== undefined) query.set('pageSize', String(pageSize));
    if (token) query.set('continuationToken', token);
    const page: ApiResponse = await versionsPage(id, `?${query}`);
    expect(outcome(page)).toBe('200');
    versions.push(...page.body.versions);
    token = page.body.continuationToken;
  } while (token);
  return versions;
}

/** A package of a fresh owner, pushed with `first`, and a key of the owner's that pushes and unlists. */
async function ownedPackage(first = '1.0.0'): Promise<{ owner: Member; key: CreatedApiKey; id: string }> {
  const owner = await service.confirmedUser();
  const key = await service.createKey(owner, { scopes: ['package:push', 'package:unlist'] });
  const id = newId();
  await service.pushOk(key, id, first, 201);
  return { owner, key, id };
}

/** Deletes `owner`'s account and has the timer process it: the service's clock moves a day on for the rest of the test. */
async function deleted(owner: Member): Promise<void> {
  expect((await service.call('DELETE', '/api/me', { token: owner.sessionToken, body: { confirmUsername: owner.username } })).status).toBe(202);
  jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 25 * 60 * 60 * 1000));
  await service.host.runTimer('processAccountDeletions');
}

/** A pseudo-random generator with a seed, so a failing corpus can be made again. */
function seeded(seed: number) {
  let state = seed;
  return (below: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % below;
  };
}

describe('NuGet’s order', () => {
  it('is the order of the sort key the store pages by: every pair of a generated corpus compares as compareVersions says', () => {
    const numbers = ['0', '1', '2', '9', '10', '11', '99', '100', '2147483647', '02'];
    const labels = ['alpha', 'Alpha', 'a', 'a-', 'a-b', 'a0', 'A0', 'ab', 'b', 'z', 'Z', 'beta', 'rc', '-', '--', '0', '1', '2', '9', '10', '11', '2147483647', '2147483648', '99999999999'];
    const random = seeded(26);
    const corpus: NuGetVersion[] = [];
    while (corpus.length < 800) {
      const release = Array.from({ length: 1 + random(4) }, () => numbers[random(numbers.length)]).join('.');
      const prerelease = Array.from({ length: random(4) }, () => labels[random(labels.length)]).join('.');
      const reading = versionLookupField.safeParse(prerelease ? `${release}-${prerelease}` : release);
      if (reading.success) corpus.push(reading.data);
    }
    const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
    const disagreements: string[] = [];
    for (const a of corpus) {
      for (const b of corpus) {
        const [x, y] = [versionSortKey(a), versionSortKey(b)];
        if (sign(compareVersions(a, b)) !== (x < y ? -1 : x > y ? 1 : 0)) disagreements.push(`${a.normalized} vs ${b.normalized}`);
      }
    }
    expect(disagreements.slice(0, 10)).toEqual([]);
    // Versions NuGet treats as one share their sort key, and only they.
    const keys = new Map(corpus.map((v) => [versionSortKey(v), v.key]));
    expect(new Set(keys.values()).size).toBe(keys.size);
  });

  it('is how pushed versions are shown and paged, whatever order they were pushed in', async () => {
    const versions = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.0.1',
      '1.0.1', '1.1.0-0.a', '1.1.0-1.0', '1.1.0-A', '1.1.0-a-', '1.1.0-a0', '1.1.0', '2.0.0-rc-1', '2.0.0', '10.0.0', '2147483647.0.0'];
    const { key, id } = await ownedPackage('0.9.0');
    const random = seeded(7);
    const shuffled = [...versions].sort(() => random(3) - 1);
    for (let i = 0; i < shuffled.length; i += 5) {
      const answers = await Promise.all(shuffled.slice(i, i + 5).map((version) => service.push(key, id, version)));
      expect(answers.map(outcome)).toEqual(Array(answers.length).fill('200'));
    }
    const expected = ['0.9.0', ...versions];
    const view = await packageOf(id);
    expect(view.versions.map((v: { version: string }) => v.version)).toEqual(expected);
    expect(view.versionCount).toBe(expected.length);
    expect((await allPages(id, 3)).map((v) => v.version)).toEqual(expected);
  });
});

describe('GET /api/packages/{id}/versions', () => {
  it('pages through every version, 100 a page unless asked for up to 1000, and the package shows the first 100 and how many', async () => {
    const { id } = await ownedPackage('0.1.0');
    const stored = Array.from({ length: 1149 }, (_, i) => ({ version: `1.${Math.floor(i / 100)}.${i % 100}` }));
    await storeVersionItems(id, stored);
    const all = ['0.1.0', ...stored.map((v) => v.version)];

    const view = await packageOf(id);
    expect(view.versions.map((v: { version: string }) => v.version)).toEqual(all.slice(0, 100));
    expect(view).toMatchObject({ versionCount: 1150, listed: true });

    const first = await versionsPage(id);
    expect(first.body.versions).toEqual(view.versions);
    expect(first.body.continuationToken).toEqual(expect.any(String));
    const big = await versionsPage(id, '?pageSize=1000');
    expect(big.body.versions).toHaveLength(1000);
    const rest = await versionsPage(id, `?pageSize=1000&continuationToken=${encodeURIComponent(big.body.continuationToken)}`);
    expect(rest.body.versions).toHaveLength(150);
    expect(rest.body.continuationToken).toBeNull();
    expect([...big.body.versions, ...rest.body.versions].map((v: { version: string }) => v.version)).toEqual(all);
    // A page that ends the list exactly says so.
    const exact = await versionsPage(id, '?pageSize=1000');
    expect((await versionsPage(id, `?pageSize=150&continuationToken=${encodeURIComponent(exact.body.continuationToken)}`)).body.continuationToken).toBeNull();
  });

  it('refuses a page size outside 1 to 1000, and a continuation token it did not give for this package, naming the parameter', async () => {
    const { id } = await ownedPackage();
    await storeVersionItems(id, [{ version: '2.0.0' }, { version: '3.0.0' }]);
    for (const pageSize of ['0', '1001', '-1', '1.5', 'ten', '', '00000000001']) {
      const response = await versionsPage(id, `?pageSize=${pageSize}`);
      expect(`${pageSize}: ${outcome(response)}`).toBe(`${pageSize}: 400 invalid_request`);
      expect(response.body.detail).toContain("'pageSize'");
    }
    const token = (await versionsPage(id, '?pageSize=1')).body.continuationToken as string;
    const other = await ownedPackage();
    await storeVersionItems(other.id, [{ version: '2.0.0' }]);
    const [encoded, signature] = token.split('.');
    const forged = `${Buffer.from('0', 'utf8').toString('base64url')}.${signature}`;
    for (const [bad, where] of [
      [token, other.id],
      [forged, id],
      [`${encoded}.${signature.slice(1)}`, id],
      [encoded, id],
      ['not a token', id],
      [`${token}.more`, id],
    ]) {
      const response = await versionsPage(where, `?continuationToken=${encodeURIComponent(bad)}`);
      expect(`${bad}: ${outcome(response)}`).toBe(`${bad}: 400 invalid_request`);
      expect(response.body.detail).toContain("'continuationToken'");
    }
    const unknownParameter = await versionsPage(id, '?page=2');
    expect(outcome(unknownParameter)).toBe('400 invalid_request');
    expect(outcome(await versionsPage(id, `?pageSize=1&continuationToken=${encodeURIComponent(token)}`))).toBe('200');
  });

  it('answers 404 for a package nobody pushed, and 400 naming a malformed id', async () => {
    expect(outcome(await versionsPage(newId()))).toBe('404 not_found');
    const malformed = await versionsPage('bad!id');
    expect(outcome(malformed)).toBe('400 invalid_request');
    expect(malformed.body.detail).toContain("path parameter 'id'");
  });
});

describe('listed, with versions apart', () => {
  it('is true while any version is listed, also one beyond the first 100 shown', async () => {
    const { owner, id, key } = await ownedPackage('0.1.0');
    expect(outcome(await service.setListed(id, '0.1.0', false, { key }))).toBe('204');
    await storeVersionItems(id, [
      ...Array.from({ length: 120 }, (_, i) => ({ version: `1.0.${i}`, listed: false })),
      { version: '9.0.0', listed: true },
    ]);
    const view = await packageOf(id);
    expect(view.versions.every((v: { listed: boolean }) => !v.listed)).toBe(true);
    expect(view).toMatchObject({ versionCount: 122, listed: true });
    expect(outcome(await service.setListed(id, '9.0.0', false, { key }))).toBe('204');
    expect((await packageOf(id)).listed).toBe(false);
    expect((await service.myPackages(owner)).packages).toEqual([{ id, owner: owner.username, listed: false }]);
  });

  it('comes out right when the last two listed versions are unlisted at once, and relisted at once, round after round', async () => {
    const { owner, key, id } = await ownedPackage();
    await service.pushOk(key, id, '2.0.0', 200);
    for (let round = 0; round < 4; round += 1) {
      const unlisted = await Promise.all([service.setListed(id, '1.0.0', false, { key }), service.setListed(id, '2.0.0', false, owner)]);
      expect(unlisted.map(outcome)).toEqual(['204', '204']);
      expect(await packageOf(id)).toMatchObject({ listed: false, versions: [{ version: '1.0.0', listed: false }, { version: '2.0.0', listed: false }] });
      expect((await service.myPackages(owner)).packages).toEqual([{ id, owner: owner.username, listed: false }]);
      // One relisted while the other is unlisted again: the package is listed.
      const mixed = await Promise.all([service.setListed(id, '1.0.0', true, owner), service.setListed(id, '2.0.0', false, { key })]);
      expect(mixed.map(outcome)).toEqual(['204', '204']);
      expect((await packageOf(id)).listed).toBe(true);
      expect(outcome(await service.setListed(id, '2.0.0', true, owner))).toBe('204');
    }
  });

  it('records exactly one of two identical unlists at once', async () => {
    const { owner, key, id } = await ownedPackage();
    const answers = await Promise.all([service.setListed(id, '1.0.0', false, { key }), service.setListed(id, '1.0', false, owner)]);
    expect(answers.map(outcome)).toEqual(['204', '204']);
    const events = (await service.securityLog(owner)).filter((e) => e.action === 'package_unlisted');
    expect(events).toHaveLength(1);
  });
});

describe('a package whose only owner is deleted, with many versions', () => {
  it('has every version unlisted, by a deletion that a failure stopped halfway and the next run finished', async () => {
    const { owner, id } = await ownedPackage('0.1.0');
    await storeVersionItems(id, Array.from({ length: 249 }, (_, i) => ({ version: `1.${Math.floor(i / 50)}.${i % 50}` })));
    // The run stops at the first version it unlists; the versions unlisted beside it stay so.
    service.cosmos.failNext(/^PUT .*\/colls\/packageVersions\/docs\//, 500);
    await deleted(owner);
    const halfway = await allPages(id, 1000);
    expect(halfway.some((v) => v.listed)).toBe(true);
    await service.host.runTimer('processAccountDeletions');
    const view = await packageOf(id);
    expect(view).toMatchObject({ owners: [], versionCount: 250, listed: false });
    expect((await allPages(id, 1000)).filter((v) => v.listed)).toEqual([]);
  });
});

describe('a package stored with its versions on its document', () => {
  /** A package of a fresh owner as the service stored it before versions had items of their own. */
  async function storedBefore(versions: string[], shape: { unlistedVersions?: string[]; listed: boolean }) {
    const package_ = await ownedPackage(versions[0]);
    await storeVersionsOnPackage(package_.id, versions, shape);
    return package_;
  }
  const storedDocument = async (id: string) => (await container('packages').item(id.toLowerCase(), id.toLowerCase()).read()).resource;
  const move = () => service.host.runTimer('movePackageVersions');

  it('is read, pushed to, paged, unlisted and relisted, and works the same once the move took its versions off it', async () => {
    const { owner, key, id } = await storedBefore(['1.0.0', '1.1.0', '2.0.0-beta', '2.0.0'], { unlistedVersions: ['1.1.0'], listed: true });
    const expected = { '1.0.0': true, '1.1.0': false, '2.0.0-beta': true, '2.0.0': true };
    expect(await listing(id)).toEqual(expected);
    expect(outcome(await service.push(key, id, '1.1'))).toBe('409 package_version_exists');
    expect(outcome(await service.push(key, id, '2.1.0'))).toBe('200');
    Object.assign(expected, { '2.1.0': true });
    expect(await listing(id)).toEqual(expected);
    expect((await packageOf(id)).versionCount).toBe(5);
    expect((await allPages(id, 2)).map((v) => v.version)).toEqual(Object.keys(expected));

    // A version the document holds is listed there; one pushed since, on its item.
    expect(outcome(await service.setListed(id, '1.0.0', false, { key }))).toBe('204');
    expect(outcome(await service.setListed(id, '1.1.0', true, owner))).toBe('204');
    expect(outcome(await service.setListed(id, '2.1.0', false, owner))).toBe('204');
    Object.assign(expected, { '1.0.0': false, '1.1.0': true, '2.1.0': false });
    expect(await listing(id)).toEqual(expected);
    expect((await storedDocument(id)).unlistedVersions).toEqual(['1.0.0']);

    await move();
    const moved = await storedDocument(id);
    expect(moved).not.toHaveProperty('versions');
    expect(moved).not.toHaveProperty('unlistedVersions');
    expect(moved).not.toHaveProperty('listed');
    expect(await listing(id)).toEqual(expected);
    expect((await packageOf(id)).versionCount).toBe(5);
    expect(outcome(await service.push(key, id, '2.0.0-BETA'))).toBe('409 package_version_exists');
    expect(outcome(await service.setListed(id, '1.0.0', true, { key }))).toBe('204');
    expect((await listing(id))['1.0.0']).toBe(true);
    // The move has nothing left to do.
    const again = (await storedDocument(id))._etag;
    await move();
    expect((await storedDocument(id))._etag).toBe(again);
  });

  it('in the older shapes too: one listed flag for every version, versions lower-cased as pushed; moved on demand', async () => {
    const { key, id } = await storedBefore(['1.0', '1.0.0+build', '2.0.0-beta', '03.0'], { listed: false });
    expect(await listing(id)).toEqual({ '1.0.0': false, '2.0.0-beta': false, '3.0.0': false });
    expect(await packageOf(id)).toMatchObject({ versionCount: 3, listed: false });
    expect(outcome(await service.setListed(id, '2.0.0-BETA', true, { key }))).toBe('204');
    expect(await packageOf(id)).toMatchObject({ listed: true });
    // Through the Functions host's admin API, as operators run a timer at once.
    expect((await service.call('POST', '/admin/functions/movePackageVersions', { body: {} })).status).toBe(202);
    await service.host.idle();
    expect(await storedDocument(id)).not.toHaveProperty('versions');
    expect(await listing(id)).toEqual({ '1.0.0': false, '2.0.0-beta': true, '3.0.0': false });
    expect(await packageOf(id)).toMatchObject({ versionCount: 3, listed: true });
  });

  it('takes two pushes at once: different versions both land, one version once, and nothing writes the document', async () => {
    const { key, id } = await storedBefore(['1.0.0', '1.1.0'], { unlistedVersions: [], listed: true });
    const before = (await storedDocument(id))._etag;
    for (const round of [1, 2, 3]) {
      const different = await Promise.all([service.push(key, id, `2.${round}.0`), service.push(key, id, `3.${round}.0`)]);
      expect(different.map(outcome)).toEqual(['200', '200']);
      const same = await Promise.all([service.push(key, id, `4.${round}.0`), service.push(key, id, `4.${round}`)]);
      expect(same.map(outcome).sort()).toEqual(['200', '409 package_version_exists']);
      expect(outcome(await service.push(key, id, '1.1'))).toBe('409 package_version_exists');
    }
    expect((await storedDocument(id))._etag).toBe(before);
    expect((await packageOf(id)).versionCount).toBe(11);
  });

  it('is moved resumably: a run stopped before its last write leaves the package as it was, the next finishes; an unlist meanwhile is kept', async () => {
    const versions = Array.from({ length: 250 }, (_, i) => `1.${Math.floor(i / 50)}.${i % 50}`);
    const { key, id } = await storedBefore(versions, { unlistedVersions: ['1.0.1'], listed: true });
    const documentWrite = new RegExp(`^PUT .*/colls/packages/docs/${id.toLowerCase().replace(/\./g, '\\.')}$`);

    // The first run copies every version, then fails to take them off the document: the copies are not counted.
    service.cosmos.failNext(documentWrite, 500);
    await move();
    expect((await storedDocument(id)).versions).toHaveLength(250);
    expect(await packageOf(id)).toMatchObject({ versionCount: 250, listed: true });
    expect((await allPages(id, 1000)).map((v) => v.version)).toEqual(versions);

    // The next run's write waits while an unlist changes the document: it looks again and copies the change.
    const held = service.cosmos.holdNext(documentWrite);
    const moving = move();
    await held.reached;
    expect(outcome(await service.setListed(id, '1.4.49', false, { key }))).toBe('204');
    held.release();
    await moving;
    expect(await storedDocument(id)).not.toHaveProperty('versions');
    const pages = await allPages(id, 1000);
    expect(pages.filter((v) => !v.listed).map((v) => v.version)).toEqual(['1.0.1', '1.4.49']);
    expect(pages).toHaveLength(250);
    expect((await packageOf(id)).versionCount).toBe(250);
  });

  it('of an account deleted: every version unlisted, those the document holds and those pushed since', async () => {
    const { owner, key, id } = await storedBefore(['1.0.0', '1.1.0'], { unlistedVersions: [], listed: true });
    await service.pushOk(key, id, '2.0.0', 200);
    expect((await service.call('GET', '/api/me/deletion-preview', { token: owner.sessionToken })).body.solelyOwnedPackages).toEqual([id]);
    await deleted(owner);
    expect(await listing(id)).toEqual({ '1.0.0': false, '1.1.0': false, '2.0.0': false });
    expect(await packageOf(id)).toMatchObject({ owners: [], listed: false });
    await move();
    expect(await listing(id)).toEqual({ '1.0.0': false, '1.1.0': false, '2.0.0': false });
  });
});
