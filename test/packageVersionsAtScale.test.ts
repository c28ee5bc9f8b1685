import { randomBytes } from 'node:crypto';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService } from './support/service';
import { storeVersionItems, storeVersionsOnPackage } from './support/packages';

/**
 * A package at the size that used to be the end: some 80,000 versions shaped like `1.2.3-ci.20261206.123`, about what
 * the package document held at Cosmos DB's 2 MB limit. Its own file: the Cosmos DB stand-in reads every document of a
 * container for each query, so the other tests' queries stay quick.
 */
const service = useTestService();

const newId = (stem = 'Nightly') => `${stem}${randomBytes(4).toString('hex')}.Lib`;
const AT_THE_OLD_LIMIT = 80_000;
const ciVersion = (i: number) => `1.2.3-ci.20261206.${i}`;

/** The push's requests, with the database and the ids of the documents left out: what two pushes are compared by. */
const requestsOfPush = (lines: string[]) => lines.map((line) => line.replace(/^(\w+ )\/dbs\/[^/]+/, '$1').replace(/\/docs\/.+$/, '/docs/…')).sort();

describe('a package with 80,000 versions', () => {
  it('takes a push with the requests of one at 10 versions, shows its first 100 and how many, and pages to the end', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const [small, large] = [newId('Small'), newId()];
    await service.pushOk(key, small, ciVersion(0));
    await storeVersionItems(small, Array.from({ length: 9 }, (_, i) => ({ version: ciVersion(i + 1) })));
    await service.pushOk(key, large, ciVersion(0));
    await storeVersionItems(large, Array.from({ length: AT_THE_OLD_LIMIT - 1 }, (_, i) => ({ version: ciVersion(i + 1) })));

    const pushed: Record<string, { requests: string[]; bytes: number }> = {};
    for (const id of [small, large]) {
      service.cosmos.reset();
      const answer = await service.push(key, id, '1.2.3-ci.20261207.1');
      expect(outcome(answer)).toBe('200');
      expect(answer.body).toEqual({ id, version: '1.2.3-ci.20261207.1', owners: [owner.username], listed: true });
      pushed[id] = { requests: requestsOfPush(service.cosmos.documentRequests()), bytes: answer.text.length - id.length };
    }
    expect(pushed[large]).toEqual(pushed[small]);
    expect(pushed[large].requests).toEqual(['GET /colls/apiKeys/docs/…', 'GET /colls/packages/docs/…', 'POST /colls/audit/docs', 'POST /colls/packageVersions/docs']);
    // Every push after it works as well: there is no limit left to reach.
    expect(outcome(await service.push(key, large, '1.2.3-ci.20261207.2'))).toBe('200');
    expect(outcome(await service.push(key, large, '1.2.3-ci.20261207.2'))).toBe('409 package_version_exists');

    const view = (await service.getPackage(large)).body;
    expect(view.versionCount).toBe(AT_THE_OLD_LIMIT + 2);
    expect(view.versions).toHaveLength(100);
    // NuGet's order: numeric labels by value.
    expect(view.versions.slice(0, 3).map((v: { version: string }) => v.version)).toEqual([ciVersion(0), ciVersion(1), ciVersion(2)]);
    expect(view.versions[99].version).toBe(ciVersion(99));

    let token: string | null = null;
    let pages = 0;
    const seen: string[] = [];
    do {
      const query = `?pageSize=1000${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
      const page = await service.call('GET', `/api/packages/${large}/versions${query}`);
      expect(outcome(page)).toBe('200');
      seen.push(...page.body.versions.map((v: { version: string }) => v.version));
      token = page.body.continuationToken;
      pages += 1;
    } while (token);
    expect(pages).toBe(Math.ceil((AT_THE_OLD_LIMIT + 2) / 1000));
    expect(seen).toHaveLength(AT_THE_OLD_LIMIT + 2);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(AT_THE_OLD_LIMIT - 2)).toEqual([ciVersion(AT_THE_OLD_LIMIT - 2), ciVersion(AT_THE_OLD_LIMIT - 1), '1.2.3-ci.20261207.1', '1.2.3-ci.20261207.2']);
  }, 120_000);

  it('stored on its document near the 2 MB limit, takes a push that reads it and writes only the new version', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = newId('Stored');
    await service.pushOk(key, id, ciVersion(0));
    await storeVersionsOnPackage(id, Array.from({ length: AT_THE_OLD_LIMIT }, (_, i) => ciVersion(i)), { unlistedVersions: [], listed: true });
    const { resource: stored } = await container('packages').item(id.toLowerCase(), id.toLowerCase()).read();
    expect(JSON.stringify(stored).length).toBeGreaterThan(1_900_000);

    service.cosmos.reset();
    expect(outcome(await service.push(key, id, '1.2.3-ci.20261207.1'))).toBe('200');
    expect(requestsOfPush(service.cosmos.documentRequests())).toEqual(['GET /colls/apiKeys/docs/…', 'GET /colls/packages/docs/…', 'POST /colls/audit/docs', 'POST /colls/packageVersions/docs']);
    expect(outcome(await service.push(key, id, ciVersion(79_999)))).toBe('409 package_version_exists');
    expect((await service.getPackage(id)).body).toMatchObject({ versionCount: AT_THE_OLD_LIMIT + 1, listed: true });
  }, 60_000);
});
