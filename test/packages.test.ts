import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { useTestService } from './support/service';
import type { Member } from './support/organizations';
import { newPerson, uniqueName } from './support/people';
import { API_KEY_HEADER, listed, storeVersionsOnPackage } from './support/packages';
import { waitFor } from './support/waitFor';

const DAY_MS = 24 * 60 * 60 * 1000;
const SITE_ADMIN = uniqueName('siteadmin');

const service = useTestService({ settings: { SITE_ADMINS: `someone-else, ${SITE_ADMIN.toUpperCase()}` } });

type User = Member;

const packageOf = async (id: string) => (await service.getPackage(id)).body;
/** The package's versions, in the order it lists them. */
const versionsOf = async (id: string): Promise<string[]> => (await packageOf(id)).versions.map((v: { version: string }) => v.version);

/** Letters and digits no other test uses, to build package ids and prefixes from. */
const tag = () => randomBytes(4).toString('hex');
/** A package id no other test uses, such as `Pkg1a2b3c4d.Lib`. */
const newId = (stem = 'Pkg', last = 'Lib') => `${stem}${tag()}.${last}`;

/** `status code` of a response, so a failing expectation shows what came back. */
const outcome = (response: { status: number; body?: { code?: string } }) => `${response.status} ${response.body?.code ?? ''}`.trim();

/** Moves the service's clock (and this file's) to `ms` from the real now. */
const moveClock = (ms: number) => jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + ms));

/** A new session by the service's current clock (sessions last an hour, so one taken before a jump is gone). */
async function signInAgain(user: User): Promise<User> {
  const response = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(user.person) } });
  if (response.status !== 200) throw new Error(`signing in ${user.username} failed: ${response.status} ${response.text}`);
  return { ...user, sessionToken: response.body.sessionToken };
}

let siteAdmin: User | undefined;
async function theSiteAdmin(): Promise<User> {
  siteAdmin ??= await service.confirmedUser(newPerson(), SITE_ADMIN);
  return siteAdmin;
}

describe('the push check', () => {
  it('makes a new id the key owner’s package (201), then takes new versions (200) but no version twice', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = newId('Contoso');

    const first = await service.push(key, id, '1.0.0');
    expect(first.status).toBe(201);
    // A push answers the version it pushed, never the whole version list.
    expect(first.body).toEqual({ id, version: '1.0.0', owners: [owner.username], listed: true });
    expect(await packageOf(id)).toEqual({ id, owners: [owner.username], versions: listed('1.0.0'), versionCount: 1, listed: true, trustedPublishingOnly: false, pendingOwners: [] });

    const second = await service.push(key, id, '1.1.0');
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ id, version: '1.1.0', owners: [owner.username], listed: true });

    const again = await service.push(key, id, '1.1.0');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('package_version_exists');
    // Versions compare case-insensitively too; the label keeps the case it was first pushed in, as NuGet's does.
    expect(outcome(await service.push(key, id, '2.0.0-Beta'))).toBe('200');
    expect(outcome(await service.push(key, id, '2.0.0-beta'))).toBe('409 package_version_exists');
    expect(await versionsOf(id)).toEqual(['1.0.0', '1.1.0', '2.0.0-Beta']);
  });

  it('compares ids case-insensitively: another casing is a new version of the same package', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = newId('Contoso');
    expect(outcome(await service.push(key, id, '1.0.0'))).toBe('201');

    const lower = await service.push(key, id.toLowerCase(), '1.0.1');
    expect(lower.status).toBe(200);
    expect(lower.body).toEqual({ id, version: '1.0.1', owners: [owner.username], listed: true });
    expect(outcome(await service.push(key, id.toUpperCase(), '1.0.1'))).toBe('409 package_version_exists');
    expect(await packageOf(id.toLowerCase())).toEqual({ id, owners: [owner.username], versions: listed('1.0.0', '1.0.1'), versionCount: 2, listed: true, trustedPublishingOnly: false, pendingOwners: [] });

    // Someone else's key cannot take it over by changing the case.
    const other = await service.createKey(await service.confirmedUser());
    expect(outcome(await service.push(other, id.toLowerCase(), '9.0.0'))).toBe('403 not_an_owner');
  });

  it('needs package:push for a new id; package:pushversion is enough for a new version', async () => {
    const owner = await service.confirmedUser();
    const pushKey = await service.createKey(owner, { scopes: ['package:push'] });
    const versionKey = await service.createKey(owner, { scopes: ['package:pushversion'] });
    const unlistKey = await service.createKey(owner, { scopes: ['package:unlist'] });
    const id = newId();

    const refused = await service.push(versionKey, id, '1.0.0');
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('api_key_scope');
    expect((await service.getPackage(id)).status).toBe(404);

    expect(outcome(await service.push(pushKey, id, '1.0.0'))).toBe('201');
    expect(outcome(await service.push(versionKey, id, '1.1.0'))).toBe('200');
    expect(outcome(await service.push(unlistKey, id, '1.2.0'))).toBe('403 api_key_scope');
    expect(await versionsOf(id)).toEqual(['1.0.0', '1.1.0']);
  });

  it('refuses ids the key’s globs do not cover, new or existing', async () => {
    const owner = await service.confirmedUser();
    const stem = `Fabrikam${tag()}`;
    const narrow = await service.createKey(owner, { packageGlobs: [`${stem}.*`], scopes: ['package:push', 'package:pushversion'] });
    const broad = await service.createKey(owner);
    const outside = newId('Outside');

    const refused = await service.push(narrow, outside, '1.0.0');
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('api_key_scope');

    expect(outcome(await service.push(broad, outside, '1.0.0'))).toBe('201');
    expect(outcome(await service.push(narrow, outside, '1.1.0'))).toBe('403 api_key_scope');
    expect(outcome(await service.push(narrow, `${stem}.Core`, '1.0.0'))).toBe('201');
  });

  it('refuses another owner’s key for an existing id (not_an_owner)', async () => {
    const owner = await service.confirmedUser();
    const stranger = await service.confirmedUser();
    const id = newId();
    expect(outcome(await service.push(await service.createKey(owner), id))).toBe('201');

    const response = await service.push(await service.createKey(stranger, { scopes: ['package:push', 'package:pushversion'] }), id, '2.0.0');
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('not_an_owner');
    expect(await packageOf(id)).toEqual({ id, owners: [owner.username], versions: listed('1.0.0'), versionCount: 1, listed: true, trustedPublishingOnly: false, pendingOwners: [] });
  });

  it('answers 401 invalid_api_key for unknown, malformed, revoked and expired keys, and without one', async () => {
    const owner = await service.confirmedUser();
    const id = newId();
    const live = await service.createKey(owner);
    expect(outcome(await service.push(live, id, '1.0.0'))).toBe('201');

    const [, keyId, secret] = live.key.split('.');
    const otherSecret = randomBytes(32).toString('base64url');
    const cases: Array<[string, string]> = [
      ['unknown id', `gak1.${randomBytes(16).toString('hex')}.${otherSecret}`],
      ['known id, wrong secret', `gak1.${keyId}.${otherSecret}`],
      ['malformed', 'not-a-key'],
      ['truncated', live.key.slice(0, -1)],
      ['other prefix', `gak2.${keyId}.${secret}`],
      ['empty', ''],
    ];
    for (const [what, key] of cases) {
      const response = await service.push(key, id, '1.1.0');
      expect(`${what}: ${outcome(response)}`).toBe(`${what}: 401 invalid_api_key`);
    }

    const noHeader = await service.call('PUT', '/api/packages', { body: { id, version: '1.1.0' } });
    expect(noHeader.status).toBe(401);
    expect(noHeader.body.code).toBe('invalid_api_key');
    expect(noHeader.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const revoked = await service.createKey(owner);
    expect(outcome(await service.push(revoked, id, '1.1.0'))).toBe('200');
    expect((await service.call('DELETE', `/api/me/api-keys/${revoked.id}`, { token: owner.sessionToken })).status).toBe(204);
    expect(outcome(await service.push(revoked, id, '1.2.0'))).toBe('401 invalid_api_key');

    expect(await versionsOf(id)).toEqual(['1.0.0', '1.1.0']);
  });

  it('refuses a key once it expires, by the service’s clock', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner, { expiresInDays: 2 });
    const id = newId();
    expect(Date.parse(key.expiresAt) - Date.now()).toBeGreaterThan(2 * DAY_MS - 60_000);

    moveClock(2 * DAY_MS - 60_000);
    expect(outcome(await service.push(key, id, '1.0.0'))).toBe('201');

    moveClock(2 * DAY_MS + 60_000);
    const expired = await service.push(key, id, '1.1.0');
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe('invalid_api_key');
    jest.restoreAllMocks();

    expect(outcome(await service.push(key, id, '1.1.0'))).toBe('200');
  });

  it('checks the key before it reads the body', async () => {
    const response = await service.call('PUT', '/api/packages', { headers: { [API_KEY_HEADER]: 'not-a-key' }, rawBody: '{not json' });
    expect(outcome(response)).toBe('401 invalid_api_key');
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const cases: Array<[unknown, string]> = [
      [{ id: newId(), version: 'one' }, 'version'],
      [{ id: 'bad id!', version: '1.0.0' }, 'id'],
      [{ id: newId(), version: '1.0.0', extra: true }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const bad = await service.call('PUT', '/api/packages', { headers: { [API_KEY_HEADER]: key.key }, body });
      expect(outcome(bad)).toBe('400 invalid_request');
      expect(bad.body.detail).toContain(`'${field}'`);
    }
  });
});

describe('versions as NuGet has them', () => {
  /** A package of a fresh owner with `first` pushed; pushes of it take its key. */
  async function packageWith(first: string) {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner, { scopes: ['package:push', 'package:pushversion'] });
    const id = newId('Ver');
    expect(outcome(await service.push(key, id, first))).toBe('201');
    return { id, key };
  }

  it('takes every spelling NuGet treats as an existing version as that version: 409 package_version_exists', async () => {
    const { id, key } = await packageWith('1.0.0');
    for (const same of ['1.0', '1.0.0.0', '01.0.0', '1.00.0', '1.0.00', '001.000.000.000', '1.0.0+build', '1.0.0+build.01', ' 1.0.0 ']) {
      const response = await service.push(key, id, same);
      expect(`${same}: ${outcome(response)}`).toBe(`${same}: 409 package_version_exists`);
      expect(response.body.detail).toContain("version '1.0.0'");
    }
    expect(await versionsOf(id)).toEqual(['1.0.0']);
    // …and the other way round: a longer spelling first.
    const other = await packageWith('1.0.0.0-Beta+sha.1');
    expect(await versionsOf(other.id)).toEqual(['1.0.0-Beta']);
    for (const same of ['1.0.0-beta', '1.0-BETA', '1.0.0-Beta+other']) expect(`${same}: ${outcome(await service.push(other.key, other.id, same))}`).toBe(`${same}: 409 package_version_exists`);
    expect(outcome(await service.push(other.key, other.id, '1.0.0-beta.1'))).toBe('200');
  });

  it('stores and shows each version normalized, listed in NuGet’s order', async () => {
    const { id, key } = await packageWith('2.0');
    const accepted: Array<[string, string]> = [
      ['1.0.01.0', '1.0.1'],
      ['1.0.0.1', '1.0.0.1'],
      ['1.0.0-beta.11', '1.0.0-beta.11'],
      ['1.0.0-beta.2+abc', '1.0.0-beta.2'],
      ['1.0.0-rc-1', '1.0.0-rc-1'],
      ['1.0.0.0-alpha', '1.0.0-alpha'],
      ['1.0.0-1.0', '1.0.0-1.0'],
      ['1.0.0-0+b', '1.0.0-0'],
      ['1-beta.1', '1.0.0-beta.1'],
      ['2147483647.0.0', '2147483647.0.0'],
    ];
    for (const [input, normalized] of accepted) {
      const response = await service.push(key, id, input);
      expect(`${input}: ${outcome(response)}`).toBe(`${input}: 200`);
      expect(response.body).toMatchObject({ id, version: normalized, listed: true });
    }
    expect(await versionsOf(id)).toEqual([
      '1.0.0-0',
      '1.0.0-1.0',
      '1.0.0-alpha',
      '1.0.0-beta.1',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc-1',
      '1.0.0.1',
      '1.0.1',
      '2.0.0',
      '2147483647.0.0',
    ]);
  });

  it('refuses what NuGet.org refuses with 400 naming the version, and stores nothing', async () => {
    const { id, key } = await packageWith('1.0.0');
    const refused = [
      '1',
      '1-beta',
      '',
      'v1.0.0',
      'V1.0',
      '-1.0.0',
      '1.0.0.0.0',
      '1.0.',
      '.1.0',
      '1..0',
      '1.a.0',
      '1 . 0 . 0',
      '1.0.0-',
      '1.0.0+',
      '1.0.0-beta+',
      '1.0.0-.a',
      '1.0.0-a.',
      '1.0.0-a..b',
      '1.0.0+a..b',
      '1.0.0-beta.01',
      '1.0.0-01',
      '1.0.0-1',
      '1.0.0-1a',
      '1.0.0--x',
      '1.0.0-a_b',
      '1.0.0-ä',
      '1.0.0+a+b',
      '1.0.0-a b',
      '2147483648.0.0',
      '99999999999999999999.0',
      `1.0.0+${'a'.repeat(59)}`,
      `1.0.0-${'a'.repeat(59)}`,
    ];
    for (const version of refused) {
      const response = await service.push(key, id, version);
      expect(`${JSON.stringify(version)}: ${outcome(response)}`).toBe(`${JSON.stringify(version)}: 400 invalid_request`);
      expect(response.body.detail).toMatch(/^The field 'version' /);
    }
    expect(outcome(await service.push(key, id, `1.0.0+${'a'.repeat(58)}`))).toBe('409 package_version_exists');
    expect(await versionsOf(id)).toEqual(['1.0.0']);
  });

  it('limits an id and its full version to 160 characters together, as NuGet.org does', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = `Long${tag()}.${'x'.repeat(100 - 13)}`;
    expect(id).toHaveLength(100);
    const tooLong = await service.push(key, id, `1.0.0+${'b'.repeat(55)}`);
    expect(outcome(tooLong)).toBe('400 invalid_request');
    expect(tooLong.body.detail).toContain("'version'");
    expect(outcome(await service.push(key, id, `1.0.0+${'b'.repeat(54)}`))).toBe('201');
  });

  it('gives exactly one of several equivalent versions pushed at once, never a 500', async () => {
    const spellings = ['1.0', '1.0.0', '1.0.0.0', '01.0.0', '1.00.0', '1.0.0+build', '1.0.0+ci.7', '001.0'];
    // A new id: one push creates it, every other finds its version there.
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    for (let round = 0; round < 3; round += 1) {
      const id = newId('Same');
      const answers = await Promise.all(spellings.map((version) => service.push(key, id, version)));
      expect(answers.map(outcome).sort()).toEqual(['201', ...Array(spellings.length - 1).fill('409 package_version_exists')]);
      expect(await versionsOf(id)).toEqual(['1.0.0']);
      // An existing id: one push adds it.
      const next = await Promise.all(spellings.map((version) => service.push(key, id, version.replace(/^0*1/, '2'))));
      expect(next.map(outcome).sort()).toEqual(['200', ...Array(spellings.length - 1).fill('409 package_version_exists')]);
      expect(await versionsOf(id)).toEqual(['1.0.0', '2.0.0']);
    }
  });

  it('reads versions stored before they were normalized as NuGet does, and moves them off the document normalized', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = newId('Legacy');
    expect(outcome(await service.push(key, id, '0.1.0'))).toBe('201');
    // As the service stored versions before: lower-cased as pushed, so spellings of one version side by side.
    const asStored = ['0.1.0', '1.0', '1.0.0+build', '2.0.0-beta', '2.0.0.0-beta', '03.0'];
    await storeVersionsOnPackage(id, asStored, { listed: true });

    expect(await versionsOf(id)).toEqual(['0.1.0', '1.0.0', '2.0.0-beta', '3.0.0']);
    for (const same of ['1.0.0', '3.0.0', '2.0.0-BETA']) expect(`${same}: ${outcome(await service.push(key, id, same))}`).toBe(`${same}: 409 package_version_exists`);
    expect(outcome(await service.push(key, id, '4.0'))).toBe('200');
    expect(await versionsOf(id)).toEqual(['0.1.0', '1.0.0', '2.0.0-beta', '3.0.0', '4.0.0']);
    // The push did not rewrite the document; the move takes its versions off it, normalized.
    const stored = async () => (await container('packages').item(id.toLowerCase(), id.toLowerCase()).read()).resource;
    expect((await stored()).versions).toEqual(asStored);
    await service.host.runTimer('movePackageVersions');
    expect((await stored()).versions).toBeUndefined();
    expect(await packageOf(id)).toMatchObject({ versions: listed('0.1.0', '1.0.0', '2.0.0-beta', '3.0.0', '4.0.0'), versionCount: 5, listed: true });
    expect(outcome(await service.push(key, id, '1.0'))).toBe('409 package_version_exists');
  });
});

describe('package globs', () => {
  // [glob, id, covered]. Ids are pushed in order by one owner: a covered id is new (201) the first time
  // and a new version (200) after; an id not covered is refused and never created.
  const cases: Array<[string, string, boolean]> = [
    ['*', 'Anything.Goes', true],
    ['*', 'x', true],
    ['Contoso.*', 'contoso.lib', true],
    ['Contoso.*', 'Contoso.Lib.Extra', true],
    ['Contoso.*', 'Contoso', false],
    ['Contoso.*', 'NotContoso.Lib', false],
    ['Contoso.*', 'ContosoLib', false],
    ['*.Json', 'Newtonsoft.Json', true],
    ['*.Json', 'newtonsoft.JSON', true],
    ['*.Json', 'Newtonsoft.Json.Bson', false],
    ['*.Json', 'Json', false],
    ['Con*so.*', 'Contoso.Lib', true],
    ['Con*so.*', 'Conso.Lib', true],
    ['Con*so.*', 'Contoso', false],
    ['Con*so.*', 'Fabrikam.Lib', false],
    ['a.b', 'a.b', true],
    ['a.b', 'aXb', false],
    ['a.b', 'a.b.c', false],
    ['a.b*', 'aXbc', false],
    ['a-b', 'a-b', true],
    ['a-b', 'a-bb', false],
    ['a_b', 'a_b', true],
    ['a_b', 'aXb', false],
    ['CONTOSO.*', 'contoso.Utils', true],
    ['contoso.*', 'CONTOSO.UTILS', true],
    ['Exact.Id', 'exact.id', true],
    ['Exact.Id', 'Exact.Id2', false],
    ['*Lib*', 'MyLibrary', true],
    ['**', 'Two.Stars', true],
    // The first and last pieces anchor at either end and may not overlap; the middle ones come in order.
    ['ab*ba', 'aba', false],
    ['ab*ba', 'abba', true],
    ['a*b*a', 'a.b.a', true],
    ['a*b*a', 'a.a', false],
    ['*a.b*b.a*', 'a.b.a', false],
    ['*a.b*b.a*', 'xa.bb.ax', true],
    ['x*aab*', 'xaaab', true],
    ['*A*B*C', 'cbaabc', true],
    ['*A*B*C', 'cbac', false],
  ];

  it('matches `*` as the only wildcard, everything else literally, case-insensitively', async () => {
    const owner = await service.confirmedUser();
    const created = new Set<string>();
    const failures: string[] = [];
    for (const [index, [glob, id, covered]] of cases.entries()) {
      const key = await service.createKey(owner, { packageGlobs: [glob] });
      const response = await service.push(key, id, `1.0.${index}`);
      const expected = !covered ? '403 api_key_scope' : created.has(id.toLowerCase()) ? '200' : '201';
      if (covered) created.add(id.toLowerCase());
      if (outcome(response) !== expected) failures.push(`${glob} vs ${id}: ${outcome(response)}, expected ${expected}`);
    }
    expect(failures).toEqual([]);
    for (const [glob, id, covered] of cases) {
      if (!covered && !cases.some(([, other, yes]) => yes && other.toLowerCase() === id.toLowerCase())) {
        expect(`${glob} vs ${id}: ${(await service.getPackage(id)).status}`).toBe(`${glob} vs ${id}: 404`);
      }
    }
  });

  it('lets a key with several globs push what any one of them covers', async () => {
    const owner = await service.confirmedUser();
    const [a, b] = [`Multi${tag()}`, `Multi${tag()}`];
    const key = await service.createKey(owner, { packageGlobs: [`${a}.*`, `*.${b}`] });
    expect(outcome(await service.push(key, `${a}.One`))).toBe('201');
    expect(outcome(await service.push(key, `Any.${b}`))).toBe('201');
    expect(outcome(await service.push(key, `${b}.Any`))).toBe('403 api_key_scope');
  });

  it('match in time linear in the id, whatever the glob (no backtracking)', async () => {
    const owner = await service.confirmedUser();
    // The reviewer's glob: with a regular expression, one push of a 45-character id took seconds.
    const reported = await service.createKey(owner, { packageGlobs: ['*a*a*a*a*a*a*a*a*b'] });
    // The longest glob there is (128 characters, 64 stars) against the longest id there is.
    const longest = await service.createKey(owner, { packageGlobs: [`${'*a'.repeat(63)}*b`] });
    for (const [key, id] of [
      [reported, 'a'.repeat(45)],
      [reported, 'a'.repeat(100)],
      [longest, 'a'.repeat(100)],
      [longest, `${'a'.repeat(99)}c`],
    ] as const) {
      const started = performance.now();
      const response = await service.push(key, id);
      const elapsed = performance.now() - started;
      expect(`${id.length} characters: ${outcome(response)}`).toBe(`${id.length} characters: 403 api_key_scope`);
      expect(elapsed).toBeLessThan(500);
    }
    // And they still match what they should.
    expect(outcome(await service.push(reported, `${'a'.repeat(8)}${tag()}b`))).toBe('201');
    expect(outcome(await service.push(longest, `${'a'.repeat(63)}${tag()}b`))).toBe('201');
  });

  it('refuses globs with characters other than id characters and *', async () => {
    const owner = await service.confirmedUser();
    for (const glob of ['Contoso.?', 'Con[t]oso', 'a|b', '', 'Contoso.(Lib)', 'a b']) {
      const response = await service.requestKey(owner, { packageGlobs: [glob] });
      expect(`${JSON.stringify(glob)}: ${outcome(response)}`).toBe(`${JSON.stringify(glob)}: 400 invalid_request`);
      expect(response.body.detail).toContain("'packageGlobs.0'");
    }
  });
});

describe('what a push costs', () => {
  /** The path of a document, by container and id, as the Cosmos DB REST API names it. */
  const doc = (container: string, id: string) => new RegExp(`^GET /dbs/[^/]+/colls/${container}/docs/${id.replace(/[.]/g, '\\.')}$`);

  it('reads the key, the package and (for a new id) the prefix bucket by id, and queries nothing', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const stem = `Cost${tag()}`;
    const id = `${stem}.Lib`;

    service.cosmos.reset();
    expect(outcome(await service.push(key, id, '1.0.0'))).toBe('201');
    const created = service.cosmos.documentRequests();
    const createdReads = created.filter((line) => line.startsWith('GET '));
    expect(createdReads).toHaveLength(3);
    expect(createdReads[0]).toMatch(doc('apiKeys', key.id));
    expect(createdReads[1]).toMatch(doc('packages', id.toLowerCase()));
    expect(createdReads[2]).toMatch(doc('prefixes', stem.toLowerCase()));
    expect(service.cosmos.queries()).toEqual([]);
    // The writes: the owner's record of the package, then the package, then its first version (a version is made only
    // once its package exists); the record of the push alongside.
    const writes = (lines: string[]) => lines.filter((line) => !line.startsWith('GET ')).map((line) => line.replace(/^(\w+ )\/dbs\/[^/]+/, '$1'));
    expect(writes(created).filter((line) => !line.includes('/audit/'))).toEqual(['POST /colls/ownerships/docs', 'POST /colls/packages/docs', 'POST /colls/packageVersions/docs']);
    expect(writes(created).filter((line) => line.includes('/audit/'))).toEqual(['POST /colls/audit/docs']);

    // A new version: the version's item created, the package document not written at all.
    service.cosmos.reset();
    expect(outcome(await service.push(key, id, '1.1.0'))).toBe('200');
    const version = service.cosmos.documentRequests();
    expect(version).toHaveLength(4);
    expect(version[0]).toMatch(doc('apiKeys', key.id));
    expect(version[1]).toMatch(doc('packages', id.toLowerCase()));
    expect(writes(version).sort()).toEqual(['POST /colls/audit/docs', 'POST /colls/packageVersions/docs']);
    expect(service.cosmos.queries()).toEqual([]);

    // A version the package has: creating its item is the check, refused (409) beside the record's create, refused too
    // (the record of the push that made it is there).
    service.cosmos.reset();
    expect(outcome(await service.push(key, id, '1.1.0'))).toBe('409 package_version_exists');
    expect(writes(service.cosmos.documentRequests()).sort()).toEqual(['POST /colls/audit/docs', 'POST /colls/packageVersions/docs']);
    expect(service.cosmos.documentRequests()).toHaveLength(4);
    expect(service.cosmos.queries()).toEqual([]);

    service.cosmos.reset();
    expect(outcome(await service.push('not-a-key', id, '1.2.0'))).toBe('401 invalid_api_key');
    expect(service.cosmos.documentRequests()).toEqual([]);
  });

  it('sends the record of a push alongside the version’s write, not after it: no second round trip', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = newId('Cost');
    expect(outcome(await service.push(key, id, '1.0.0'))).toBe('201');
    for (const [version, write] of [
      ['1.1.0', /^POST .*\/colls\/packageVersions\/docs$/],
      ['1.2.0', /^POST .*\/colls\/audit\/docs$/],
    ] as const) {
      service.cosmos.reset();
      // Either write held back: the other has already reached the store.
      const held = service.cosmos.holdNext(write);
      const pushing = service.push(key, id, version);
      await held.reached;
      const other = write.source.includes('audit') ? /^POST .*\/colls\/packageVersions\/docs$/ : /^POST .*\/colls\/audit\/docs$/;
      await waitFor(() => service.cosmos.documentRequests().some((line) => other.test(line)), { what: `the other write of the push of ${version}` });
      held.release();
      expect(outcome(await pushing)).toBe('200');
    }
    const log = (await service.call('GET', '/api/me/audit', { token: owner.sessionToken })).body.events;
    expect(log.filter((e: { action: string }) => e.action === 'package_pushed').map((e: { details: { version: string } }) => e.details.version)).toEqual([
      '1.2.0',
      '1.1.0',
      '1.0.0',
    ]);
  });

  it('tells queries apart from creates (the harness check the budget relies on)', async () => {
    const owner = await service.confirmedUser();
    service.cosmos.reset();
    expect((await service.call('GET', '/api/me/audit', { token: owner.sessionToken })).status).toBe(200);
    expect(service.cosmos.queries().length).toBeGreaterThan(0);
    expect(service.cosmos.queries().every((line) => /^POST .*\/colls\/audit\/docs$/.test(line))).toBe(true);
  });
});

describe('keys owned by an organization', () => {
  it('push new ids for the organization; members’ organization keys push its new versions', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const outsider = await service.confirmedUser();
    const { name: organization } = await service.createOrganization(admin);
    await service.inviteAndAccept(organization, admin, member);

    const adminKey = await service.createKey(admin, { owner: organization });
    expect(adminKey.owner).toBe(organization);
    const id = newId('Org');
    const created = await service.push(adminKey, id, '1.0.0');
    expect(created.status).toBe(201);
    expect(created.body.owners).toEqual([organization]);

    const memberKey = await service.createKey(member, { owner: organization.toUpperCase(), scopes: ['package:pushversion'] });
    expect(memberKey.owner).toBe(organization);
    expect(outcome(await service.push(memberKey, id, '1.1.0'))).toBe('200');
    expect(await packageOf(id)).toEqual({ id, owners: [organization], versions: listed('1.0.0', '1.1.0'), versionCount: 2, listed: true, trustedPublishingOnly: false, pendingOwners: [] });

    // Keys the members own themselves do not push for the organization.
    expect(outcome(await service.push(await service.createKey(admin), id, '1.2.0'))).toBe('403 not_an_owner');
    expect(outcome(await service.push(await service.createKey(member), id, '1.2.0'))).toBe('403 not_an_owner');

    const refused = await service.requestKey(outsider, { owner: organization });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('owner_not_allowed');
    const nobody = await service.requestKey(outsider, { owner: uniqueName('nobody') });
    expect(outcome(nobody)).toBe('403 owner_not_allowed');
    const anotherUser = await service.requestKey(outsider, { owner: member.username });
    expect(outcome(anotherUser)).toBe('403 owner_not_allowed');
  });
});

describe('two pushes of one new id at once', () => {
  it('give it one owner; the refused push leaves its owner no claim on the package', async () => {
    const admin = await service.confirmedUser();
    const rivalKey = await service.createKey(await service.confirmedUser());
    for (let round = 0; round < 6; round += 1) {
      const { name: organization } = await service.createOrganization(admin);
      const orgKey = await service.createKey(admin, { owner: organization });
      const id = newId('Race');
      // Either starts first, so each wins some rounds.
      const [byOrganization, byRival] =
        round % 2 === 0
          ? await Promise.all([service.push(orgKey, id, '1.0.0'), service.push(rivalKey, id, '1.0.0')])
          : (await Promise.all([service.push(rivalKey, id, '1.0.0'), service.push(orgKey, id, '1.0.0')])).reverse();
      expect([outcome(byOrganization), outcome(byRival)].sort()).toEqual(['201', '403 not_an_owner']);
      const winner = byOrganization.status === 201 ? organization : byRival.body.owners[0];
      expect((await packageOf(id)).owners).toEqual([winner]);

      // An organization can be deleted only while it owns no package: exactly when it lost the race.
      const deleted = await service.call('DELETE', `/api/organizations/${organization}`, { token: admin.sessionToken });
      const expected = winner === organization ? '409 organization_not_empty' : '204';
      expect(`${id}: ${outcome(deleted)}`).toBe(`${id}: ${expected}`);
    }
  });
});

describe('package owners', () => {
  /** A package `owner` pushed, with the key it used. */
  async function ownedPackage(owner: User) {
    const key = await service.createKey(owner);
    const id = newId();
    expect(outcome(await service.push(key, id, '1.0.0'))).toBe('201');
    return { id, key };
  }

  it('invites by username with an emailed token; only the invitee can accept, and then pushes too', async () => {
    const owner = await service.confirmedUser();
    const invitee = await service.confirmedUser();
    const stranger = await service.confirmedUser();
    const { id } = await ownedPackage(owner);

    const token = await service.inviteOwner(id, owner, invitee.username, invitee.person.email);
    expect(outcome(await service.acceptOwnership(id, stranger, token))).toBe('400 invalid_token');
    expect(outcome(await service.acceptOwnership(newId(), invitee, token))).toBe('400 invalid_token');
    expect((await packageOf(id)).owners).toEqual([owner.username]);

    const accepted = await service.acceptOwnership(id, invitee, token);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ id, owners: [owner.username, invitee.username], versions: listed('1.0.0'), versionCount: 1, listed: true, trustedPublishingOnly: false, pendingOwners: [] });
    expect(await packageOf(id)).toEqual({ id, owners: [owner.username, invitee.username], versions: listed('1.0.0'), versionCount: 1, listed: true, trustedPublishingOnly: false, pendingOwners: [] });
    expect(outcome(await service.acceptOwnership(id, invitee, token))).toBe('400 invalid_token');

    expect(outcome(await service.push(await service.createKey(invitee, { scopes: ['package:pushversion'] }), id, '1.1.0'))).toBe('200');
  });

  it('lets invitations work for 7 days', async () => {
    const owner = await service.confirmedUser();
    const early = await service.confirmedUser();
    const late = await service.confirmedUser();
    const { id } = await ownedPackage(owner);
    const earlyToken = await service.inviteOwner(id, owner, early.username, early.person.email);
    const lateToken = await service.inviteOwner(id, owner, late.username, late.person.email);

    moveClock(6 * DAY_MS);
    expect(outcome(await service.acceptOwnership(id, await signInAgain(early), earlyToken))).toBe('200');
    moveClock(7 * DAY_MS + 60_000);
    expect(outcome(await service.acceptOwnership(id, await signInAgain(late), lateToken))).toBe('400 invalid_token');
    jest.restoreAllMocks();
    expect((await packageOf(id)).owners).toEqual([owner.username, early.username]);
  });

  it('lets only owners invite, and not an existing owner or a name nobody holds', async () => {
    const owner = await service.confirmedUser();
    const other = await service.confirmedUser();
    const { id } = await ownedPackage(owner);

    const byStranger = await service.call('POST', `/api/packages/${id}/owners`, { token: other.sessionToken, body: { username: other.username } });
    expect(byStranger.status).toBe(403);
    expect(byStranger.body.code).toBe('not_an_owner');

    const existing = await service.call('POST', `/api/packages/${id}/owners`, { token: owner.sessionToken, body: { username: owner.username.toUpperCase() } });
    expect(existing.status).toBe(409);
    expect(existing.body.code).toBe('already_owner');

    const nobody = await service.call('POST', `/api/packages/${id}/owners`, { token: owner.sessionToken, body: { username: uniqueName('nobody') } });
    expect(outcome(nobody)).toBe('404 user_not_found');
    const noPackage = await service.call('POST', `/api/packages/${newId()}/owners`, { token: owner.sessionToken, body: { username: other.username } });
    expect(outcome(noPackage)).toBe('404 not_found');
    const signedOut = await service.call('POST', `/api/packages/${id}/owners`, { body: { username: other.username } });
    expect(signedOut.status).toBe(401);
  });

  it('removes owners (204) but never the last one (409 last_owner)', async () => {
    const owner = await service.confirmedUser();
    const second = await service.confirmedUser();
    const { id, key } = await ownedPackage(owner);
    const invitation = await service.inviteOwner(id, owner, second.username, second.person.email);
    expect(outcome(await service.acceptOwnership(id, second, invitation))).toBe('200');
    const secondKey = await service.createKey(second);

    expect(outcome(await service.removeOwner(id, await service.confirmedUser(), second.username))).toBe('403 not_an_owner');
    const removed = await service.removeOwner(id, owner, second.username);
    expect(removed.status).toBe(204);
    expect((await packageOf(id)).owners).toEqual([owner.username]);
    expect(outcome(await service.push(secondKey, id, '2.0.0'))).toBe('403 not_an_owner');
    expect(outcome(await service.removeOwner(id, owner, second.username))).toBe('404 not_found');

    const last = await service.removeOwner(id, owner, owner.username);
    expect(last.status).toBe(409);
    expect(last.body.code).toBe('last_owner');
    expect((await packageOf(id)).owners).toEqual([owner.username]);
    expect(outcome(await service.push(key, id, '2.0.0'))).toBe('200');
  });

  it('lets an owner leave while another owner remains', async () => {
    const owner = await service.confirmedUser();
    const second = await service.confirmedUser();
    const { id } = await ownedPackage(owner);
    const invitation = await service.inviteOwner(id, owner, second.username, second.person.email);
    expect(outcome(await service.acceptOwnership(id, second, invitation))).toBe('200');
    expect((await service.removeOwner(id, owner, owner.username)).status).toBe(204);
    expect((await packageOf(id)).owners).toEqual([second.username]);
    expect(outcome(await service.removeOwner(id, second, second.username))).toBe('409 last_owner');
  });

  it('invites an organization: one of its admins accepts, then its members’ organization keys push', async () => {
    const owner = await service.confirmedUser();
    const orgAdmin = await service.confirmedUser();
    const collaborator = await service.confirmedUser();
    const organization = await service.confirmedOrganization(orgAdmin);
    await service.inviteAndAccept(organization.name, orgAdmin, collaborator);
    const { id } = await ownedPackage(owner);
    const collaboratorKey = await service.createKey(collaborator, { owner: organization.name, scopes: ['package:pushversion'] });
    expect(outcome(await service.push(collaboratorKey, id, '1.1.0'))).toBe('403 not_an_owner');

    const token = await service.inviteOwner(id, owner, organization.name, organization.emailAddress);
    expect(outcome(await service.acceptOwnership(id, collaborator, token))).toBe('400 invalid_token');
    expect(outcome(await service.acceptOwnership(id, owner, token))).toBe('400 invalid_token');

    const accepted = await service.acceptOwnership(id, orgAdmin, token);
    expect(accepted.status).toBe(200);
    expect(accepted.body.owners).toEqual([owner.username, organization.name]);

    expect(outcome(await service.push(collaboratorKey, id, '1.1.0'))).toBe('200');
    // Its admin manages the package for it: removing the original owner leaves the organization.
    expect((await service.removeOwner(id, orgAdmin, owner.username)).status).toBe(204);
    expect(await packageOf(id)).toEqual({ id, owners: [organization.name], versions: listed('1.0.0', '1.1.0'), versionCount: 2, listed: true, trustedPublishingOnly: false, pendingOwners: [] });
    expect(outcome(await service.removeOwner(id, collaborator, organization.name))).toBe('403 not_an_owner');
  });

  it('decides an organization’s rights from its own document: a demotion not yet copied to the member counts at once', async () => {
    const orgAdmin = await service.confirmedUser();
    const demoted = await service.confirmedUser();
    const other = await service.confirmedUser();
    const organization = await service.confirmedOrganization(orgAdmin);
    await service.inviteAndAccept(organization.name, orgAdmin, demoted, 'admin');
    // The organization owns one package with `other`, and is invited to own another.
    const { id } = await ownedPackage(other);
    const invitation = await service.inviteOwner(id, other, organization.name, organization.emailAddress);
    expect(outcome(await service.acceptOwnership(id, orgAdmin, invitation))).toBe('200');
    const second = await ownedPackage(other);
    const secondInvitation = await service.inviteOwner(second.id, other, organization.name, organization.emailAddress);

    // The demotion is written to the organization; its copy on the member's account waits.
    const { id: demotedId } = (await service.call('GET', '/api/me', { token: demoted.sessionToken })).body;
    const held = service.cosmos.holdNext(new RegExp(`^PUT .*/colls/accounts/docs/${demotedId}$`));
    const demotion = service.call('PUT', `/api/organizations/${organization.name}/members/${demoted.username}`, {
      token: orgAdmin.sessionToken,
      body: { role: 'collaborator' },
    });
    await held.reached;
    expect(await service.organizationsOf(demoted)).toEqual([{ name: organization.name, role: 'admin' }]);

    const attempts = {
      invite: await service.call('POST', `/api/packages/${id}/owners`, { token: demoted.sessionToken, body: { username: demoted.username } }),
      remove: await service.removeOwner(id, demoted, other.username),
      accept: await service.acceptOwnership(second.id, demoted, secondInvitation),
    };
    held.release();
    expect((await demotion).status).toBe(204);

    expect(Object.entries(attempts).map(([what, response]) => `${what}: ${outcome(response)}`)).toEqual([
      'invite: 403 not_an_owner',
      'remove: 403 not_an_owner',
      'accept: 400 invalid_token',
    ]);
    expect((await packageOf(id)).owners).toEqual([other.username, organization.name]);
    expect((await packageOf(second.id)).owners).toEqual([other.username]);
    // The admin who stayed one still can.
    expect(outcome(await service.acceptOwnership(second.id, orgAdmin, secondInvitation))).toBe('200');
  });

  it('refuses a removal by an owner who was removed while it was being written', async () => {
    const [first, second, third] = [await service.confirmedUser(), await service.confirmedUser(), await service.confirmedUser()];
    const { id } = await ownedPackage(first);
    for (const owner of [second, third]) {
      expect(outcome(await service.acceptOwnership(id, owner, await service.inviteOwner(id, first, owner.username, owner.person.email)))).toBe('200');
    }
    // `second` has checked it owns the package and is about to write when `first` removes it.
    const held = service.cosmos.holdNext(new RegExp(`^PUT .*/colls/packages/docs/${id.toLowerCase().replace(/\./g, '\\.')}$`));
    const bySecond = service.removeOwner(id, second, third.username);
    await held.reached;
    expect((await service.removeOwner(id, first, second.username)).status).toBe(204);
    held.release();
    expect(outcome(await bySecond)).toBe('403 not_an_owner');
    expect((await packageOf(id)).owners).toEqual([first.username, third.username]);
  });

  it('lets two owners removing each other at once leave exactly one owner', async () => {
    for (let round = 0; round < 4; round += 1) {
      const first = await service.confirmedUser();
      const second = await service.confirmedUser();
      const { id } = await ownedPackage(first);
      expect(outcome(await service.acceptOwnership(id, second, await service.inviteOwner(id, first, second.username, second.person.email)))).toBe('200');
      const answers = await Promise.all([service.removeOwner(id, first, second.username), service.removeOwner(id, second, first.username)]);
      expect(answers.filter((a) => a.status === 204)).toHaveLength(1);
      expect(answers.every((a) => a.status < 500)).toBe(true);
      expect((await packageOf(id)).owners).toEqual([answers[0].status === 204 ? first.username : second.username]);
    }
  });

  it('answers 404 for a package nobody pushed', async () => {
    const response = await service.getPackage(newId());
    expect(response.status).toBe(404);
    expect(response.body.code).toBe('not_found');
  });
});

describe('reserved prefixes', () => {
  it('are reserved and listed by site admins only', async () => {
    const admin = await theSiteAdmin();
    const owner = await service.confirmedUser();
    const prefix = `Contoso${tag()}.`;

    const reserved = await service.reservePrefix(admin, prefix, [owner.username]);
    expect(reserved.status).toBe(201);
    expect(reserved.body).toEqual({ prefix, owners: [owner.username], reservedAt: expect.any(String) });

    const listed = await service.call('GET', '/api/site-admin/prefixes', { token: admin.sessionToken });
    expect(listed.status).toBe(200);
    expect(listed.body).toContainEqual({ prefix, owners: [owner.username], reservedAt: reserved.body.reservedAt });

    const notAdmin = await service.reservePrefix(owner, `Other${tag()}.`, [owner.username]);
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.body.code).toBe('site_admin_required');
    expect(outcome(await service.call('GET', '/api/site-admin/prefixes', { token: owner.sessionToken }))).toBe('403 site_admin_required');
    expect((await service.call('GET', '/api/site-admin/prefixes')).status).toBe(401);
  });

  it('keep new ids under the prefix for its owners; other ids are unaffected', async () => {
    const admin = await theSiteAdmin();
    const prefixOwner = await service.confirmedUser();
    const someoneElse = await service.confirmedUser();
    const base = `Contoso${tag()}`;
    expect((await service.reservePrefix(admin, `${base}.`, [prefixOwner.username])).status).toBe(201);
    const othersKey = await service.createKey(someoneElse);
    const ownersKey = await service.createKey(prefixOwner);

    const refused = await service.push(othersKey, `${base}.Anything`);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('prefix_reserved');
    expect(outcome(await service.push(othersKey, `${base.toLowerCase()}.anything.else`))).toBe('403 prefix_reserved');
    expect((await service.getPackage(`${base}.Anything`)).status).toBe(404);

    expect(outcome(await service.push(ownersKey, `${base}.Anything`))).toBe('201');
    expect(outcome(await service.push(ownersKey, `${base.toUpperCase()}.SOMETHING`))).toBe('201');

    for (const id of [`${base}X`, `${base}`, `Other${tag()}.${base}.Lib`, `${base}-Lib`, `${base}_Lib.Core`]) {
      expect(`${id}: ${outcome(await service.push(othersKey, id))}`).toBe(`${id}: 201`);
    }
  });

  it('let a longer reservation win for the ids under it', async () => {
    const admin = await theSiteAdmin();
    const outer = await service.confirmedUser();
    const inner = await service.confirmedUser();
    const base = `Contoso${tag()}`;
    expect((await service.reservePrefix(admin, `${base}.`, [outer.username])).status).toBe(201);
    expect((await service.reservePrefix(admin, `${base}.Internal.`, [inner.username])).status).toBe(201);
    const outerKey = await service.createKey(outer);
    const innerKey = await service.createKey(inner);

    expect(outcome(await service.push(outerKey, `${base}.Internal.Tools`))).toBe('403 prefix_reserved');
    expect(outcome(await service.push(innerKey, `${base}.Internal.Tools`))).toBe('201');
    expect(outcome(await service.push(innerKey, `${base}.Public`))).toBe('403 prefix_reserved');
    expect(outcome(await service.push(outerKey, `${base}.Public`))).toBe('201');
    // `Internal.` ends at the period: `InternalTools` is only under the shorter prefix.
    expect(outcome(await service.push(innerKey, `${base}.InternalTools`))).toBe('403 prefix_reserved');
    expect(outcome(await service.push(outerKey, `${base}.InternalTools`))).toBe('201');
  });

  it('may be owned by an organization, whose keys then push under it', async () => {
    const admin = await theSiteAdmin();
    const orgAdmin = await service.confirmedUser();
    const organization = await service.createOrganization(orgAdmin);
    const base = `Contoso${tag()}`;
    expect((await service.reservePrefix(admin, `${base}.`, [organization.name])).body.owners).toEqual([organization.name]);

    expect(outcome(await service.push(await service.createKey(orgAdmin), `${base}.Personal`))).toBe('403 prefix_reserved');
    const pushed = await service.push(await service.createKey(orgAdmin, { owner: organization.name }), `${base}.Shared`);
    expect(outcome(pushed)).toBe('201');
    expect(pushed.body.owners).toEqual([organization.name]);
  });

  it('do not take away packages pushed before the reservation', async () => {
    const admin = await theSiteAdmin();
    const earlyOwner = await service.confirmedUser();
    const prefixOwner = await service.confirmedUser();
    const base = `Contoso${tag()}`;
    const earlyKey = await service.createKey(earlyOwner);
    expect(outcome(await service.push(earlyKey, `${base}.Old`, '1.0.0'))).toBe('201');

    expect((await service.reservePrefix(admin, `${base}.`, [prefixOwner.username])).status).toBe(201);
    expect(outcome(await service.push(earlyKey, `${base}.Old`, '1.1.0'))).toBe('200');
    expect(await packageOf(`${base}.Old`)).toEqual({ id: `${base}.Old`, owners: [earlyOwner.username], versions: listed('1.0.0', '1.1.0'), versionCount: 2, listed: true, trustedPublishingOnly: false, pendingOwners: [] });
    expect(outcome(await service.push(earlyKey, `${base}.New`))).toBe('403 prefix_reserved');
    // Nor do they make the prefix owner an owner of it.
    expect(outcome(await service.push(await service.createKey(prefixOwner), `${base}.Old`, '2.0.0'))).toBe('403 not_an_owner');
  });

  it('must end with a period and name owners that exist', async () => {
    const admin = await theSiteAdmin();
    const owner = await service.confirmedUser();
    for (const prefix of ['Contoso', `Contoso${tag()}.*`, '.', 'Contoso..']) {
      const response = await service.reservePrefix(admin, prefix, [owner.username]);
      expect(`${prefix}: ${outcome(response)}`).toBe(`${prefix}: 400 invalid_request`);
      expect(response.body.detail).toContain("'prefix'");
    }
    expect(outcome(await service.reservePrefix(admin, `Contoso${tag()}.`, []))).toBe('400 invalid_request');
    expect(outcome(await service.reservePrefix(admin, `Contoso${tag()}.`, [uniqueName('nobody')]))).toBe('404 user_not_found');
  });

  it('are released by site admins: new ids under them are anyone’s again, packages pushed under them keep their owners', async () => {
    const admin = await theSiteAdmin();
    const prefixOwner = await service.confirmedUser();
    const someoneElse = await service.confirmedUser();
    const base = `Contoso${tag()}`;
    expect((await service.reservePrefix(admin, `${base}.`, [prefixOwner.username])).status).toBe(201);
    expect((await service.reservePrefix(admin, `${base}.Internal.`, [prefixOwner.username])).status).toBe(201);
    await service.pushOk(await service.createKey(prefixOwner), `${base}.Kept`, '1.0.0', 201);
    const othersKey = await service.createKey(someoneElse);
    expect(outcome(await service.push(othersKey, `${base}.Mine`))).toBe('403 prefix_reserved');

    expect(outcome(await service.releasePrefix(someoneElse, `${base}.`))).toBe('403 site_admin_required');
    const released = await service.releasePrefix(admin, `${base.toUpperCase()}.`);
    expect(released.status).toBe(204);
    expect(outcome(await service.releasePrefix(admin, `${base}.`))).toBe('404 not_found');

    const listed = (await service.call('GET', '/api/site-admin/prefixes', { token: admin.sessionToken })).body.map((r: { prefix: string }) => r.prefix);
    expect(listed).toContain(`${base}.Internal.`);
    expect(listed).not.toContain(`${base}.`);
    expect(outcome(await service.push(othersKey, `${base}.Mine`))).toBe('201');
    expect(outcome(await service.push(othersKey, `${base}.Internal.Lib`))).toBe('403 prefix_reserved');
    expect((await packageOf(`${base}.Kept`)).owners).toEqual([prefixOwner.username]);
  });

  it('are released only by a path that names a prefix, with a full session', async () => {
    const admin = await theSiteAdmin();
    for (const prefix of ['Contoso', 'Contoso..', '.Contoso.']) {
      const response = await service.releasePrefix(admin, prefix);
      expect(`${prefix}: ${outcome(response)}`).toBe(`${prefix}: 400 invalid_request`);
      expect(response.body.detail).toContain("path parameter 'prefix'");
    }
    expect((await service.call('DELETE', `/api/site-admin/prefixes/Contoso${tag()}.`)).status).toBe(401);
  });
});

describe('the security log', () => {
  const auditActions = async (user: User) => {
    const response = await service.call('GET', '/api/me/audit', { token: user.sessionToken });
    expect(response.status).toBe(200);
    return response.body.events as Array<{ action: string; details?: Record<string, string> }>;
  };

  it('records key creation and package ownership changes', async () => {
    const owner = await service.confirmedUser();
    const invitee = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = newId();
    expect(outcome(await service.push(key, id))).toBe('201');
    const token = await service.inviteOwner(id, owner, invitee.username, invitee.person.email);
    expect(outcome(await service.acceptOwnership(id, invitee, token))).toBe('200');
    expect((await service.removeOwner(id, owner, invitee.username)).status).toBe(204);

    const ownerEvents = await auditActions(owner);
    expect(ownerEvents).toContainEqual(expect.objectContaining({ action: 'api_key_created', details: { keyId: key.id, owner: owner.username } }));
    expect(ownerEvents).toContainEqual(expect.objectContaining({ action: 'package_owner_invited', details: { package: id, owner: invitee.username } }));
    expect(ownerEvents).toContainEqual(expect.objectContaining({ action: 'package_owner_removed', details: { package: id, owner: invitee.username } }));
    expect(await auditActions(invitee)).toContainEqual(
      expect.objectContaining({ action: 'package_owner_added', details: { package: id, owner: invitee.username } }),
    );
  });
});
