import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { useTestService } from './support/service';
import type { Member } from './support/organizations';
import type { CreatedApiKey } from './support/packages';

/** Unlisting and relisting versions: NuGet.org's answer to "can I delete a package?". */
const service = useTestService();

const newId = (stem = 'List') => `${stem}${randomBytes(4).toString('hex')}.Lib`;
const outcome = (response: { status: number; body?: { code?: string } }) => `${response.status} ${response.body?.code ?? ''}`.trim();
const packageOf = async (id: string) => (await service.getPackage(id)).body;
/** `version: listed` for each version of the package, as it lists them. */
const listing = async (id: string) =>
  Object.fromEntries((await packageOf(id)).versions.map((v: { version: string; listed: boolean }) => [v.version, v.listed]));
const actionsIn = async (user: Member, action: RegExp) =>
  (await service.call('GET', '/api/me/audit', { token: user.sessionToken })).body.events.filter((e: { action: string }) => action.test(e.action));

/** A package `owner` pushed with versions 1.0.0 and 2.0.0, and a key of the owner's that may unlist. */
async function packageWithVersions(owner: Member): Promise<{ id: string; unlistKey: CreatedApiKey }> {
  const key = await service.createKey(owner);
  const id = newId();
  await service.pushOk(key, id, '1.0.0', 201);
  await service.pushOk(key, id, '2.0.0', 200);
  return { id, unlistKey: await service.createKey(owner, { scopes: ['package:unlist'] }) };
}

describe('unlisting and relisting a version', () => {
  it('with a package:unlist key: 204, shown per version, and the package is listed while any version is', async () => {
    const owner = await service.confirmedUser();
    const { id, unlistKey } = await packageWithVersions(owner);

    const unlisted = await service.setListed(id, '1.0.0', false, { key: unlistKey });
    expect(unlisted.status).toBe(204);
    expect(unlisted.text).toBe('');
    expect(await packageOf(id)).toEqual({
      id,
      owners: [owner.username],
      versions: [
        { version: '1.0.0', listed: false },
        { version: '2.0.0', listed: true },
      ],
      versionCount: 2,
      listed: true,
      trustedPublishingOnly: false,
      pendingOwners: [],
    });
    expect(outcome(await service.setListed(id, '2.0.0', false, { key: unlistKey }))).toBe('204');
    expect((await packageOf(id)).listed).toBe(false);

    expect(outcome(await service.setListed(id, '1.0.0', true, { key: unlistKey }))).toBe('204');
    expect(await listing(id)).toEqual({ '1.0.0': true, '2.0.0': false });
    expect((await packageOf(id)).listed).toBe(true);
  });

  it('by an owner signed in, and by an admin of an owning organization; not by a collaborator', async () => {
    const owner = await service.confirmedUser();
    const { id } = await packageWithVersions(owner);
    expect(outcome(await service.setListed(id, '1.0.0', false, owner))).toBe('204');
    expect(await listing(id)).toEqual({ '1.0.0': false, '2.0.0': true });

    const admin = await service.confirmedUser();
    const collaborator = await service.confirmedUser();
    const organization = await service.createOrganization(admin);
    await service.inviteAndAccept(organization.name, admin, collaborator);
    const orgKey = await service.createKey(admin, { owner: organization.name });
    const orgPackage = newId('Org');
    await service.pushOk(orgKey, orgPackage, '1.0.0', 201);

    expect(outcome(await service.setListed(orgPackage, '1.0.0', false, admin))).toBe('204');
    expect(outcome(await service.setListed(orgPackage, '1.0.0', true, collaborator))).toBe('403 not_an_owner');
    expect(outcome(await service.setListed(orgPackage, '1.0.0', true, owner))).toBe('403 not_an_owner');
    expect(await listing(orgPackage)).toEqual({ '1.0.0': false });
    // A collaborator's key made for the organization does: its owner owns the package.
    const collaboratorKey = await service.createKey(collaborator, { owner: organization.name, scopes: ['package:unlist'] });
    expect(outcome(await service.setListed(orgPackage, '1.0.0', true, { key: collaboratorKey }))).toBe('204');
    expect(await listing(orgPackage)).toEqual({ '1.0.0': true });
  });

  it('finds the version in any spelling NuGet reads as it, and the id in any casing', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = newId();
    await service.pushOk(key, id, '1.0.0-Beta', 201);
    for (const [spelling, listed] of [
      ['1.0.0-beta', false],
      ['1.0-BETA', true],
      ['01.0.0.0-Beta+build.7', false],
    ] as const) {
      expect(`${spelling}: ${outcome(await service.setListed(id.toUpperCase(), spelling, listed, owner))}`).toBe(`${spelling}: 204`);
      expect(await listing(id)).toEqual({ '1.0.0-Beta': listed });
    }
  });

  it('answers 404 not_found for an id or a version nobody pushed, and 400 naming a malformed one', async () => {
    const owner = await service.confirmedUser();
    const { id, unlistKey } = await packageWithVersions(owner);
    for (const by of [owner, { key: unlistKey }]) {
      expect(outcome(await service.setListed(newId(), '1.0.0', false, by))).toBe('404 not_found');
      expect(outcome(await service.setListed(id, '3.0.0', false, by))).toBe('404 not_found');
      expect(outcome(await service.setListed(id, '1.0.0-beta', false, by))).toBe('404 not_found');
    }
    const malformed = await service.setListed(id, 'one', false, owner);
    expect(outcome(malformed)).toBe('400 invalid_request');
    expect(malformed.body.detail).toContain("path parameter 'version'");
    const badId = await service.setListed('bad!id', '1.0.0', false, owner);
    expect(outcome(badId)).toBe('400 invalid_request');
    expect(badId.body.detail).toContain("path parameter 'id'");
    for (const body of [{}, { listed: 'false' }, { listed: false, extra: 1 }, { listed: null }]) {
      const response = await service.call('PUT', `/api/packages/${id}/versions/1.0.0/listed`, { token: owner.sessionToken, body });
      expect(`${JSON.stringify(body)}: ${outcome(response)}`).toBe(`${JSON.stringify(body)}: 400 invalid_request`);
      expect(response.body.detail).toMatch(/'(listed|extra)'/);
    }
    expect(await listing(id)).toEqual({ '1.0.0': true, '2.0.0': true });
  });

  it('needs package:unlist, globs covering the id and an owning key owner; a key answers 401 once revoked', async () => {
    const owner = await service.confirmedUser();
    const { id, unlistKey } = await packageWithVersions(owner);
    const pushKey = await service.createKey(owner, { scopes: ['package:push', 'package:pushversion'] });
    const narrow = await service.createKey(owner, { scopes: ['package:unlist'], packageGlobs: ['Other.*'] });
    const stranger = await service.createKey(await service.confirmedUser(), { scopes: ['package:unlist'] });

    expect(outcome(await service.setListed(id, '1.0.0', false, { key: pushKey }))).toBe('403 api_key_scope');
    expect(outcome(await service.setListed(id, '1.0.0', false, { key: narrow }))).toBe('403 api_key_scope');
    expect(outcome(await service.setListed(id, '1.0.0', false, { key: stranger }))).toBe('403 not_an_owner');
    expect(outcome(await service.setListed(id, '1.0.0', false, { key: 'not-a-key' }))).toBe('401 invalid_api_key');
    expect((await service.call('DELETE', `/api/me/api-keys/${unlistKey.id}`, { token: owner.sessionToken })).status).toBe(204);
    expect(outcome(await service.setListed(id, '1.0.0', false, { key: unlistKey }))).toBe('401 invalid_api_key');
    expect(await listing(id)).toEqual({ '1.0.0': true, '2.0.0': true });
  });

  it('refuses strangers (403 not_an_owner), no caller at all (401), and a recovery session (403 microsoft_account_required)', async () => {
    const owner = await service.confirmedUser();
    const { id } = await packageWithVersions(owner);
    const stranger = await service.confirmedUser();
    expect(outcome(await service.setListed(id, '1.0.0', false, stranger))).toBe('403 not_an_owner');
    expect(outcome(await service.call('PUT', `/api/packages/${id}/versions/1.0.0/listed`, { body: { listed: false } }))).toBe('401 unauthorized');
    const recovery = await service.recoverySession(owner);
    expect(outcome(await service.setListed(id, '1.0.0', false, { sessionToken: recovery }))).toBe('403 microsoft_account_required');
    expect(await listing(id)).toEqual({ '1.0.0': true, '2.0.0': true });
  });

  it('is idempotent, and records only what changed, in the owner’s own security log', async () => {
    const owner = await service.confirmedUser();
    const { id, unlistKey } = await packageWithVersions(owner);
    for (let i = 0; i < 3; i += 1) expect(outcome(await service.setListed(id, '1.0.0', false, { key: unlistKey }))).toBe('204');
    expect(outcome(await service.setListed(id, '1.0.0', false, owner))).toBe('204');
    expect(outcome(await service.setListed(id, '2.0.0', true, owner))).toBe('204');
    expect(outcome(await service.setListed(id, '1.0.0', true, owner))).toBe('204');
    const events = await actionsIn(owner, /^package_(un|re)listed$/);
    expect(events.map((e: { action: string; details: Record<string, string> }) => [e.action, e.details])).toEqual([
      ['package_relisted', { package: id, version: '1.0.0' }],
      ['package_unlisted', { package: id, version: '1.0.0', keyId: unlistKey.id, keyDescription: 'test key' }],
    ]);
    for (const event of events) expect(event.clientAddress).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });

  it('keeps an unlisted version: pushing it again is 409, relisting needs no push', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner, { scopes: ['package:push', 'package:unlist'] });
    const id = newId();
    await service.pushOk(key, id, '1.0.0', 201);
    expect(outcome(await service.setListed(id, '1.0.0', false, { key }))).toBe('204');
    expect(outcome(await service.push(key, id, '1.0.0'))).toBe('409 package_version_exists');
    expect(outcome(await service.push(key, id, '1.0'))).toBe('409 package_version_exists');
    // A new version is listed, and so is the package again; the unlisted one stays as it is.
    expect((await packageOf(id)).listed).toBe(false);
    expect((await service.pushOk(key, id, '1.1.0', 200)).body).toMatchObject({ version: '1.1.0', listed: true });
    expect(await packageOf(id)).toMatchObject({ versions: [{ version: '1.0.0', listed: false }, { version: '1.1.0', listed: true }], listed: true });
  });
});

describe('an unlist and a push at the same moment', () => {
  /** A version's write: its creation by a push, its change by an unlist. */
  const versionWrite = (method: 'POST' | 'PUT') => new RegExp(`^${method} .*/colls/packageVersions/docs`);

  it('both land when one writes while the other, having read the package, waits to write', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner, { scopes: ['package:push', 'package:unlist'] });
    const id = newId('Race');
    await service.pushOk(key, id, '1.0.0', 201);

    // The push has read the package and is about to write its version when the unlist writes.
    let held = service.cosmos.holdNext(versionWrite('POST'));
    const pushing = service.push(key, id, '1.1.0');
    await held.reached;
    expect(outcome(await service.setListed(id, '1.0.0', false, { key }))).toBe('204');
    held.release();
    expect(outcome(await pushing)).toBe('200');
    expect(await listing(id)).toEqual({ '1.0.0': false, '1.1.0': true });

    // And the other way round: the unlist waits while a push writes.
    held = service.cosmos.holdNext(versionWrite('PUT'));
    const unlisting = service.setListed(id, '1.1.0', false, owner);
    await held.reached;
    expect(outcome(await service.push(key, id, '1.2.0'))).toBe('200');
    held.release();
    expect(outcome(await unlisting)).toBe('204');
    expect(await listing(id)).toEqual({ '1.0.0': false, '1.1.0': false, '1.2.0': true });
  });

  it('both land when sent together, round after round, each recorded once, and nothing answers 500', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner, { scopes: ['package:push', 'package:unlist'] });
    const id = newId('Race');
    await service.pushOk(key, id, '1.0.0', 201);
    const expected: Record<string, boolean> = { '1.0.0': true };
    for (let round = 1; round <= 6; round += 1) {
      const version = `1.0.${round}`;
      const unlisting = `1.0.${round - 1}`;
      const [pushed, unlisted] = await Promise.all([
        service.push(key, id, version),
        service.setListed(id, unlisting, false, round % 2 === 0 ? { key } : owner),
      ]);
      expect([outcome(pushed), outcome(unlisted)]).toEqual(['200', '204']);
      expected[unlisting] = false;
      expected[version] = true;
      expect(await listing(id)).toEqual(expected);
    }
    const log = await actionsIn(owner, /^package_(pushed|unlisted)$/);
    expect(log.filter((e: { action: string }) => e.action === 'package_pushed')).toHaveLength(7);
    expect(log.filter((e: { action: string }) => e.action === 'package_unlisted')).toHaveLength(6);
  });
});

describe('a package whose only owner is deleted', () => {
  it('has every version unlisted and no owner', async () => {
    const owner = await service.confirmedUser();
    const { id } = await packageWithVersions(owner);
    expect((await service.call('DELETE', '/api/me', { token: owner.sessionToken, body: { confirmUsername: owner.username } })).status).toBe(202);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 25 * 60 * 60 * 1000));
    await service.host.runTimer('processAccountDeletions');
    jest.restoreAllMocks();
    expect(await packageOf(id)).toEqual({
      id,
      owners: [],
      versions: [
        { version: '1.0.0', listed: false },
        { version: '2.0.0', listed: false },
      ],
      versionCount: 2,
      listed: false,
      trustedPublishingOnly: false,
      pendingOwners: [],
    });
  });
});
