import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { useTestService } from './support/service';
import type { Member } from './support/organizations';
import { listed, type ApiKeyRequest } from './support/packages';
import { uniqueName } from './support/people';
import { tokenIn } from './support/waitFor';

const service = useTestService();

const listKeys = async (user: Member) => (await service.call('GET', '/api/me/api-keys', { token: user.sessionToken })).body;

describe('creating an API key', () => {
  it('shows the secret once, lists the key without it, and stores only a hash', async () => {
    const user = await service.confirmedUser();
    const created = await service.requestKey(user, {
      description: 'CI publishing',
      scopes: ['package:push', 'package:unlist'],
      packageGlobs: ['Contoso.*'],
      expiresInDays: 90,
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      description: 'CI publishing',
      scopes: ['package:push', 'package:unlist'],
      packageGlobs: ['Contoso.*'],
      owner: user.username,
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
      expired: false,
      suspended: false,
      trustedPublishing: false,
      key: expect.stringMatching(/^gak1\.[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/),
    });
    const { key, ...metadata } = created.body;
    expect(Date.parse(metadata.expiresAt) - Date.parse(metadata.createdAt)).toBe(90 * 24 * 60 * 60 * 1000);
    expect(await listKeys(user)).toEqual([metadata]);

    const { resource: stored } = await container('apiKeys').item(metadata.id, metadata.id).read();
    expect(JSON.stringify(stored)).not.toContain(key.split('.')[2]);
    expect(stored.secretHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    [{ scopes: [] }, 'scopes'],
    [{ scopes: ['package:delete'] }, 'scopes.0'],
    [{ packageGlobs: [] }, 'packageGlobs'],
    [{ packageGlobs: ['bad glob!'] }, 'packageGlobs.0'],
    [{ expiresInDays: 0 }, 'expiresInDays'],
    [{ expiresInDays: 366 }, 'expiresInDays'],
    [{ expiresInDays: 1.5 }, 'expiresInDays'],
    [{ description: '' }, 'description'],
  ])('refuses %j, naming the field', async (overrides, field) => {
    const user = await service.confirmedUser();
    const response = await service.requestKey(user, overrides as Partial<ApiKeyRequest>);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid_request');
    expect(response.body.detail).toContain(`'${field}'`);
  });

  it('lets the key be owned by the caller or an organization the caller belongs to, nobody else', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const outsider = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, member);

    expect((await service.createKey(member, { owner: name })).owner).toBe(name);
    for (const owner of [name, admin.username, 'no-such-owner']) {
      const response = await service.requestKey(outsider, { owner });
      expect(`${owner}: ${response.status} ${response.body.code}`).toBe(`${owner}: 403 owner_not_allowed`);
    }
  });
});

describe('editing a key', () => {
  const outcome = (response: { status: number; body?: { code?: string } }) => `${response.status} ${response.body?.code ?? ''}`.trim();

  it('changes its description and globs; its secret, scopes, owner and expiry stay', async () => {
    const user = await service.confirmedUser();
    const stem = uniqueName('Edit').replace('-', '');
    const original = await service.createKey(user, { description: 'old', scopes: ['package:push'], packageGlobs: [`${stem}.Old.*`] });
    const { key, ...before } = original;

    const edited = await service.editKey(user, original.id, { description: '  new description ', packageGlobs: [`${stem}.New.*`, `${stem}.Other`] });
    expect(edited.status).toBe(200);
    expect(edited.body).toEqual({ ...before, description: 'new description', packageGlobs: [`${stem}.New.*`, `${stem}.Other`] });
    expect(await listKeys(user)).toEqual([edited.body]);
    // The same secret pushes what the new globs cover, and no longer what only the old ones did.
    expect((await service.push(key, `${stem}.New.Lib`)).status).toBe(201);
    expect(outcome(await service.push(key, `${stem}.Old.Lib`))).toBe('403 api_key_scope');

    const onlyDescription = await service.editKey(user, original.id, { description: 'described again' });
    expect(onlyDescription.body).toMatchObject({ description: 'described again', packageGlobs: [`${stem}.New.*`, `${stem}.Other`] });
    const events = (await service.call('GET', '/api/me/audit', { token: user.sessionToken })).body.events;
    expect(events.slice(0, 3).map((e: { action: string; details: Record<string, string> }) => [e.action, e.details])).toEqual([
      ['api_key_edited', { keyId: original.id, changed: 'description' }],
      ['package_pushed', expect.objectContaining({ keyId: original.id })],
      ['api_key_edited', { keyId: original.id, changed: 'description, packageGlobs' }],
    ]);
  });

  it.each([
    [{}, 'description'],
    [{ scopes: ['package:unlist'] }, 'scopes'],
    [{ owner: 'someone' }, 'owner'],
    [{ expiresInDays: 365 }, 'expiresInDays'],
    [{ description: '' }, 'description'],
    [{ description: 5 }, 'description'],
    [{ packageGlobs: [] }, 'packageGlobs'],
    [{ packageGlobs: ['bad glob!'] }, 'packageGlobs.0'],
    [{ packageGlobs: 'Contoso.*' }, 'packageGlobs'],
  ])('refuses %j, naming the field, and changes nothing', async (body, field) => {
    const user = await service.confirmedUser();
    const created = await service.createKey(user);
    const response = await service.call('PATCH', `/api/me/api-keys/${created.id}`, { token: user.sessionToken, body });
    expect(outcome(response)).toBe('400 invalid_request');
    expect(response.body.detail).toContain(`'${field}'`);
    const { key: _secret, ...unchanged } = created;
    expect(await listKeys(user)).toEqual([expect.objectContaining(unchanged)]);
  });

  it("answers 404 for another's key, a revoked one and one that never was; needs a full session", async () => {
    const owner = await service.confirmedUser();
    const other = await service.confirmedUser();
    const { id } = await service.createKey(owner);
    expect(outcome(await service.editKey(other, id, { description: 'mine now' }))).toBe('404 not_found');
    expect(outcome(await service.editKey(owner, '0'.repeat(32), { description: 'nothing' }))).toBe('404 not_found');
    expect(outcome(await service.call('PATCH', `/api/me/api-keys/${id}`, { body: { description: 'anonymous' } }))).toBe('401 unauthorized');
    const revoked = await service.createKey(owner);
    expect((await service.call('DELETE', `/api/me/api-keys/${revoked.id}`, { token: owner.sessionToken })).status).toBe(204);
    expect(outcome(await service.editKey(owner, revoked.id, { description: 'back' }))).toBe('404 not_found');
    const recovery = await service.recoverySession(owner);
    expect(outcome(await service.editKey({ sessionToken: recovery }, id, { description: 'x' }))).toBe('403 microsoft_account_required');
  });

  it('an edit and a regeneration at once both land: the new secret pushes with the new globs', async () => {
    const user = await service.confirmedUser();
    const stem = uniqueName('Both').replace('-', '');
    for (let round = 0; round < 3; round += 1) {
      const { id } = await service.createKey(user, { packageGlobs: ['Nothing.*'] });
      const [edited, regenerated] = await Promise.all([
        service.editKey(user, id, { packageGlobs: [`${stem}.*`] }),
        service.call('POST', `/api/me/api-keys/${id}/regenerate`, { token: user.sessionToken }),
      ]);
      expect([edited.status, regenerated.status]).toEqual([200, 200]);
      expect((await service.push(regenerated.body.key, `${stem}.R${round}`)).status).toBe(201);
    }
  });
});

describe('regenerating and revoking', () => {
  it('regenerates a secret with the same scopes; the old secret stops at once', async () => {
    const user = await service.confirmedUser();
    const original = await service.createKey(user, { scopes: ['package:push', 'package:pushversion'], packageGlobs: ['Regen.*'] });
    const regenerated = await service.call('POST', `/api/me/api-keys/${original.id}/regenerate`, { token: user.sessionToken });
    expect(regenerated.status).toBe(200);
    expect(regenerated.body).toMatchObject({ id: original.id, scopes: ['package:push', 'package:pushversion'], packageGlobs: ['Regen.*'] });
    expect(regenerated.body.key).not.toBe(original.key);

    expect((await service.push(original.key, `Regen.${uniqueName('a')}`)).body.code).toBe('invalid_api_key');
    expect((await service.push(regenerated.body.key, `Regen.${uniqueName('a')}`)).status).toBe(201);
  });

  it('revokes at once, and a revoked key is gone from the list', async () => {
    const user = await service.confirmedUser();
    const { id, key } = await service.createKey(user);
    expect((await service.push(key, uniqueName('pkg'))).status).toBe(201);
    expect((await service.call('DELETE', `/api/me/api-keys/${id}`, { token: user.sessionToken })).status).toBe(204);
    const refused = await service.push(key, uniqueName('pkg'));
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('invalid_api_key');
    expect(await listKeys(user)).toEqual([]);
    expect((await service.call('DELETE', `/api/me/api-keys/${id}`, { token: user.sessionToken })).status).toBe(404);
  });

  it("does not let one account revoke, regenerate or even see another's key", async () => {
    const owner = await service.confirmedUser();
    const other = await service.confirmedUser();
    const { id, key } = await service.createKey(owner);
    for (const [method, path] of [
      ['DELETE', `/api/me/api-keys/${id}`],
      ['POST', `/api/me/api-keys/${id}/regenerate`],
    ] as const) {
      const response = await service.call(method, path, { token: other.sessionToken });
      expect(`${method} ${response.status} ${response.body.code}`).toBe(`${method} 404 not_found`);
    }
    expect(await listKeys(other)).toEqual([]);
    expect((await service.push(key, uniqueName('still-works'))).status).toBe(201);
  });

  it('refuses a key after it expires', async () => {
    const user = await service.confirmedUser();
    const { key } = await service.createKey(user, { expiresInDays: 1 });
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 25 * 60 * 60 * 1000));
    const response = await service.push(key, uniqueName('late'));
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('invalid_api_key');
  });
});

describe('keys and organizations', () => {
  it('stops the keys a member made for an organization when the member leaves it, and only those', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, member);
    const forOrganization = await service.createKey(member, { owner: name });
    const ownKey = await service.createKey(member);
    expect((await service.push(forOrganization.key, uniqueName('org-pkg'))).status).toBe(201);

    await service.removeMember(name, admin, member);
    expect((await service.push(forOrganization.key, uniqueName('org-pkg'))).body.code).toBe('invalid_api_key');
    expect((await service.push(ownKey.key, uniqueName('own-pkg'))).status).toBe(201);
  });

  it("passes a transformed account's keys to its admin, owned by the organization, and they keep working", async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const { key, id } = await service.createKey(account, { scopes: ['package:push', 'package:pushversion'] });
    const packageId = uniqueName('Transformed.Lib');
    expect((await service.push(key, packageId, '1.0.0')).status).toBe(201);

    const requested = await service.call('POST', '/api/me/transform', { token: account.sessionToken, body: { adminUsername: admin.username } });
    expect(requested.status).toBe(202);
    const email = await service.waitForEmailTo(admin.person.email, /administer it as an organization/);
    const accepted = await service.call('POST', '/api/organizations/transform/accept', {
      token: admin.sessionToken,
      body: { token: tokenIn(email.links[0]) },
    });
    expect(accepted.status).toBe(200);

    expect(await listKeys(admin)).toEqual([expect.objectContaining({ id, owner: account.username })]);
    expect((await service.push(key, packageId, '1.1.0')).status).toBe(200);
    expect((await service.call('GET', `/api/packages/${packageId}`)).body).toMatchObject({ owners: [account.username], versions: listed('1.0.0', '1.1.0') });
    // The admin now manages the key: it can revoke it.
    expect((await service.call('DELETE', `/api/me/api-keys/${id}`, { token: admin.sessionToken })).status).toBe(204);
    expect((await service.push(key, packageId, '1.2.0')).body.code).toBe('invalid_api_key');
  });
});

describe('keys whose owner is gone', () => {
  const deleteOrganization = (name: string, admin: Member) => service.call('DELETE', `/api/organizations/${name}`, { token: admin.sessionToken });
  /** A push that authenticates the key without creating anything: the id is outside the key's globs. */
  const probe = async (key: { key: string }) => (await service.push(key.key, uniqueName('Outside.Lib'))).body.code;

  /** Revoked when its creator left, then made live again, as a key left behind from before would be. */
  async function strayKeyOf(organization: string, admin: Member): Promise<{ id: string; key: string }> {
    const member = await service.confirmedUser();
    await service.inviteAndAccept(organization, admin, member);
    const stray = await service.createKey(member, { owner: organization, packageGlobs: ['Stray.*'] });
    await service.removeMember(organization, admin, member);
    const { resource } = await container('apiKeys').item(stray.id, stray.id).read();
    await container('apiKeys').items.upsert({ ...resource, revokedAt: null, revokedBecause: undefined });
    expect(await probe(stray)).toBe('api_key_scope');
    return stray;
  }

  it('deleting an organization revokes every key it owns, whoever holds it: 401 invalid_api_key, nothing created', async () => {
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const adminsKey = await service.createKey(admin, { owner: name, packageGlobs: ['Deleted.*'] });
    const ownKey = await service.createKey(admin, { packageGlobs: ['Own.*'] });
    const stray = await strayKeyOf(name, admin);
    expect(await probe(adminsKey)).toBe('api_key_scope');

    expect((await deleteOrganization(name, admin)).status).toBe(204);
    for (const key of [adminsKey, stray]) {
      const id = `${key === stray ? 'Stray' : 'Deleted'}.${uniqueName('lib')}`;
      const pushed = await service.push(key, id);
      expect(`${pushed.status} ${pushed.body.code}`).toBe('401 invalid_api_key');
      expect((await service.getPackage(id)).status).toBe(404);
    }
    expect((await service.push(ownKey, `Own.${uniqueName('lib')}`)).status).toBe(201);
    expect(await listKeys(admin)).toEqual([expect.objectContaining({ id: ownKey.id })]);
  });

  it('the keys a transformed account handed to its admin stop when that organization is deleted', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const { key } = await service.createKey(account);
    expect((await service.call('POST', '/api/me/transform', { token: account.sessionToken, body: { adminUsername: admin.username } })).status).toBe(202);
    const email = await service.waitForEmailTo(admin.person.email, /administer it as an organization/);
    expect((await service.call('POST', '/api/organizations/transform/accept', { token: admin.sessionToken, body: { token: tokenIn(email.links[0]) } })).status).toBe(200);

    expect((await deleteOrganization(account.username, admin)).status).toBe(204);
    expect((await service.push(key, uniqueName('Orphan.Lib'))).body.code).toBe('invalid_api_key');
  });

  it('a key made for an organization while it is being deleted never works', async () => {
    for (let round = 0; round < 6; round += 1) {
      const admin = await service.confirmedUser();
      const { name } = await service.createOrganization(admin);
      const [created, deleted] = await Promise.all([service.requestKey(admin, { owner: name }), deleteOrganization(name, admin)]);
      expect(deleted.status).toBe(204);
      expect([201, 403]).toContain(created.status);
      if (created.status === 403) expect(created.body.code).toBe('owner_not_allowed');
      else expect((await service.push(created.body.key, uniqueName('Race.Lib'))).body.code).toBe('invalid_api_key');
      expect(await listKeys(admin)).toEqual([]);
    }
  });

  it('a key made for an organization while its maker is removed from it never works', async () => {
    for (let round = 0; round < 6; round += 1) {
      const admin = await service.confirmedUser();
      const member = await service.confirmedUser();
      const { name } = await service.createOrganization(admin);
      await service.inviteAndAccept(name, admin, member);
      const [created] = await Promise.all([service.requestKey(member, { owner: name }), service.removeMember(name, admin, member)]);
      if (created.status === 201) expect((await service.push(created.body.key, uniqueName('Left.Lib'))).body.code).toBe('invalid_api_key');
      else expect(`${created.status} ${created.body.code}`).toBe('403 owner_not_allowed');
    }
  });

  it('deleting the account that alone belonged to an organization revokes every key the organization owns', async () => {
    const user = await service.confirmedUser();
    const { name } = await service.createOrganization(user);
    const stray = await strayKeyOf(name, user);
    expect((await service.call('DELETE', '/api/me', { token: user.sessionToken, body: { confirmUsername: user.username } })).status).toBe(202);
    jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + 25 * 60 * 60 * 1000));
    await service.host.runTimer('processAccountDeletions');
    jest.restoreAllMocks();
    expect((await service.push(stray, uniqueName('Stray.Lib'))).body.code).toBe('invalid_api_key');
  });
});

describe("an account's list of keys, when a process stops between its writes", () => {
  /** The ids in the account's list as stored, whatever their keys. */
  async function listItemsOf(user: Member) {
    const { id } = (await service.call('GET', '/api/me', { token: user.sessionToken })).body;
    const { resources } = await container('heldApiKeys')
      .items.query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c.holderId = @holder', parameters: [{ name: '@holder', value: id }] })
      .fetchAll();
    return resources.map((item) => item.id);
  }

  it('a key that was listed but never made is shown nowhere, and the list still answers', async () => {
    const user = await service.confirmedUser();
    service.cosmos.failNext(/^POST .*\/colls\/apiKeys\/docs$/, 500);
    expect((await service.requestKey(user)).status).toBe(500);
    expect(await listItemsOf(user)).toHaveLength(1);
    expect(await listKeys(user)).toEqual([]);
    const key = await service.createKey(user);
    expect((await listKeys(user)).map((k: { id: string }) => k.id)).toEqual([key.id]);
  });

  it('a key revoked that stayed in the list no longer works, is not shown, and leaves the list when it is read', async () => {
    const user = await service.confirmedUser();
    const key = await service.createKey(user);
    service.cosmos.failNext(/^DELETE .*\/colls\/heldApiKeys\/docs\//, 500);
    expect((await service.call('DELETE', `/api/me/api-keys/${key.id}`, { token: user.sessionToken })).status).toBe(500);
    expect((await service.push(key, uniqueName('Stopped').replace(/[^A-Za-z0-9]/g, ''))).body.code).toBe('invalid_api_key');
    expect(await listItemsOf(user)).toEqual([key.id]);
    expect(await listKeys(user)).toEqual([]);
    expect(await listItemsOf(user)).toEqual([]);
  });
});

describe('the security log', () => {
  it('records key creation, regeneration and revocation', async () => {
    const user = await service.confirmedUser();
    const { id } = await service.createKey(user);
    await service.call('POST', `/api/me/api-keys/${id}/regenerate`, { token: user.sessionToken });
    await service.call('DELETE', `/api/me/api-keys/${id}`, { token: user.sessionToken });
    const events = (await service.call('GET', '/api/me/audit', { token: user.sessionToken })).body.events;
    expect(events.slice(0, 3).map((e: { action: string; details: { keyId: string } }) => [e.action, e.details.keyId])).toEqual([
      ['api_key_revoked', id],
      ['api_key_regenerated', id],
      ['api_key_created', id],
    ]);
  });
});

describe('concurrent changes to one key', () => {
  const regenerate = (user: Member, id: string) => service.call('POST', `/api/me/api-keys/${id}/regenerate`, { token: user.sessionToken });

  it('twenty regenerations at once: no 500, and exactly one of the secrets handed out works', async () => {
    const user = await service.confirmedUser();
    const { id } = await service.createKey(user);
    const answers = await Promise.all(Array.from({ length: 20 }, () => regenerate(user, id)));
    const outcomes = answers.map((a) => `${a.status} ${a.body?.code ?? ''}`.trim());
    expect(outcomes.filter((o) => o !== '200' && o !== '409 concurrent_change')).toEqual([]);
    const secrets = answers.filter((a) => a.status === 200).map((a) => a.body.key as string);
    expect(secrets.length).toBeGreaterThanOrEqual(1);
    for (const refused of answers.filter((a) => a.status === 409)) expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const working = [];
    for (const secret of secrets) if ((await service.push(secret, uniqueName('regen'))).status === 201) working.push(secret);
    expect(working).toHaveLength(1);
    // The key is listed once, and regenerating again works as usual.
    expect((await listKeys(user)).map((k: { id: string }) => k.id)).toEqual([id]);
    expect((await regenerate(user, id)).status).toBe(200);
  });

  it('regenerations racing a revocation: the key ends revoked, and nothing answers 500', async () => {
    const user = await service.confirmedUser();
    const { id } = await service.createKey(user);
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => regenerate(user, id)),
      service.call('DELETE', `/api/me/api-keys/${id}`, { token: user.sessionToken }),
      ...Array.from({ length: 5 }, () => regenerate(user, id)),
      service.call('DELETE', `/api/me/api-keys/${id}`, { token: user.sessionToken }),
    ]);
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    expect(answers.filter((a) => a.status === 204).length).toBeGreaterThanOrEqual(1);
    for (const secret of answers.filter((a) => a.status === 200).map((a) => a.body.key)) {
      expect((await service.push(secret, uniqueName('revoked'))).body.code).toBe('invalid_api_key');
    }
    expect(await listKeys(user)).toEqual([]);
  });

  it('answers 409 concurrent_change, not 500, when a write loses to concurrent changes every time it retries', async () => {
    const user = await service.confirmedUser();
    const { id, key } = await service.createKey(user);
    service.cosmos.failNext(new RegExp(`^PUT .*/colls/apiKeys/docs/${id}$`), 412, 100);
    const response = await regenerate(user, id);
    service.cosmos.clearFaults();
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ code: 'concurrent_change', title: 'Changed by someone else at the same moment' });
    expect(response.body.detail).toMatch(/^[A-Z].*\.$/);
    // Nothing changed: the old secret still works.
    expect((await service.push(key, uniqueName('unchanged'))).status).toBe(201);
  });
});
