import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService } from './support/service';
import { storePolicyAsFirstStored } from './support/trustedPublishing';
import { uniqueName } from './support/people';
import type { Member } from './support/organizations';
import type { GitHubRepository } from './standins/githubActions';

/**
 * Trusted publishing policies as their owners manage them (`/api/me/trusted-publishers`): who may add one for
 * which owner, what a policy must name, what the list shows, who may remove one, and what each change leaves
 * in the security log and the organization's trail.
 */
const SITE_ADMIN = uniqueName('tp-admin');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });

const newRepository = (owner = uniqueName('octo')): GitHubRepository => service.github.repository(`${owner}/${uniqueName('repo')}`);
const DAY = 24 * 60 * 60 * 1000;

async function organizationWith(admin: Member, member?: Member, role: 'admin' | 'collaborator' = 'collaborator') {
  const { name } = await service.createOrganization(admin);
  if (member) await service.inviteAndAccept(name, admin, member, role);
  return name;
}

describe('adding a policy', () => {
  it('answers the policy, pending its first use for 7 days, lists it and records it', async () => {
    const user = await service.confirmedUser();
    const repository = newRepository();
    const before = Date.now();
    const response = await service.requestTrustedPublisher(user, repository, { environment: 'release' });
    expect(response.status).toBe(201);
    const criteria = { repositoryOwner: repository.owner, repository: repository.name, workflowFile: 'release.yml', environment: 'release' };
    expect(response.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      owner: user.username,
      createdBy: user.username,
      provider: 'github',
      criteria,
      // Where frontends read them before providers.
      repositoryOwner: repository.owner,
      repository: repository.name,
      workflowFile: 'release.yml',
      environment: 'release',
      packageGlobs: ['*'],
      scopes: ['package:push'],
      status: 'pending',
      lapsesAt: expect.any(String),
      pinned: null,
      createdAt: expect.any(String),
      lastUsedAt: null,
    });
    const lapse = Date.parse(response.body.lapsesAt) - before;
    expect(lapse).toBeGreaterThanOrEqual(7 * DAY - 1000);
    expect(lapse).toBeLessThanOrEqual(7 * DAY + 5000);
    expect(await service.trustedPublishersOf(user)).toEqual([response.body]);
    expect((await service.securityLog(user))[0]).toMatchObject({
      action: 'trusted_publisher_added',
      details: {
        policyId: response.body.id,
        owner: user.username,
        provider: 'github',
        repository: `${repository.owner}/${repository.name}`,
        workflowFile: 'release.yml',
        environment: 'release',
        packageGlobs: '*',
        scopes: 'package:push',
      },
    });
    // Named explicitly, the provider is the same.
    const named = await service.requestTrustedPublisher(user, newRepository(), { provider: 'github' });
    expect(`${named.status} ${named.body.provider}`).toBe('201 github');
    const unknown = await service.requestTrustedPublisher(user, newRepository(), { provider: 'bitbucket' } as never);
    expect(unknown.body.detail).toMatch(/^The field 'provider' must be one of "github"/);
  });

  it('takes no environment, or null for none, and keeps the names as typed', async () => {
    const user = await service.confirmedUser();
    const withNull = await service.addTrustedPublisher(user, { owner: 'Octo-Org', name: 'My.Repo_1' }, { environment: null, workflowFile: 'Publish.YAML' });
    expect(withNull).toMatchObject({ repositoryOwner: 'Octo-Org', repository: 'My.Repo_1', workflowFile: 'Publish.YAML', environment: null });
    expect((await service.addTrustedPublisher(user, newRepository())).environment).toBeNull();
  });

  it("takes the globs and scopes its keys get, as an API key's, shows them, records them and tells them", async () => {
    const user = await service.confirmedUser();
    const repository = newRepository();
    const policy = await service.addTrustedPublisher(user, repository, { packageGlobs: ['Contoso.*', 'Fabrikam.Lib'], scopes: ['package:pushversion', 'package:unlist'] });
    expect(policy).toMatchObject({ packageGlobs: ['Contoso.*', 'Fabrikam.Lib'], scopes: ['package:pushversion', 'package:unlist'] });
    expect((await service.trustedPublishersOf(user))[0]).toMatchObject({ packageGlobs: ['Contoso.*', 'Fabrikam.Lib'], scopes: ['package:pushversion', 'package:unlist'] });
    expect((await service.securityLog(user))[0]).toMatchObject({
      action: 'trusted_publisher_added',
      details: { policyId: policy.id, packageGlobs: 'Contoso.*, Fabrikam.Lib', scopes: 'package:pushversion, package:unlist' },
    });
    await service.deliverNotices();
    const [added] = service.noticesTo(user.person.email, `Trusted publishing policy added: ${repository.owner}/${repository.name}, release.yml`);
    expect(added.plainText).toContain(
      `can now get API keys with the scopes package:pushversion, package:unlist for the packages of ${user.username} matching Contoso.*, Fabrikam.Lib, each key for 15 minutes.`,
    );
  });

  it('lets a member of an organization, admin or collaborator, add one for it; the trail records it', async () => {
    const admin = await service.confirmedUser();
    const collaborator = await service.confirmedUser();
    const name = await organizationWith(admin, collaborator);
    const repository = newRepository();
    const policy = await service.addTrustedPublisher(collaborator, repository, { owner: name });
    expect(policy).toMatchObject({ owner: name, createdBy: collaborator.username, status: 'pending' });
    const trail = (await service.organizationAudit(name, admin)).body.events;
    expect(trail[0]).toMatchObject({
      action: 'trusted_publisher_added',
      actor: { username: collaborator.username },
      details: { policyId: policy.id, owner: name, repository: `${repository.owner}/${repository.name}` },
    });
    expect((await service.addTrustedPublisher(admin, repository, { owner: name })).owner).toBe(name);
  });

  it('refuses an owner the caller does not belong to, exists or not, or one support locked: 403 owner_not_allowed', async () => {
    const admin = await service.confirmedUser();
    const outsider = await service.confirmedUser();
    const name = await organizationWith(admin);
    const repository = newRepository();
    for (const owner of [name, admin.username, uniqueName('nobody')]) {
      const response = await service.requestTrustedPublisher(outsider, repository, { owner });
      expect(`${owner}: ${outcome(response)}`).toBe(`${owner}: 403 owner_not_allowed`);
      expect(response.body.detail).toBe(`A trusted publishing policy can be owned by you or by an organization you belong to, not by '${owner}'.`);
    }
    const siteAdmin = await service.confirmedUser(undefined, SITE_ADMIN);
    expect((await service.lockAccount(siteAdmin, name)).status).toBe(200);
    expect(outcome(await service.requestTrustedPublisher(admin, repository, { owner: name }))).toBe('403 owner_not_allowed');
    expect(await service.trustedPublishersOf(admin)).toEqual([]);
  });

  it.each([
    [{ repositoryOwner: '-octo' }, 'repositoryOwner'],
    [{ repositoryOwner: 'octo-' }, 'repositoryOwner'],
    [{ repositoryOwner: 'o'.repeat(40) }, 'repositoryOwner'],
    [{ repositoryOwner: 'octo/org' }, 'repositoryOwner'],
    [{ repositoryOwner: '' }, 'repositoryOwner'],
    [{ repository: 'octo/repo' }, 'repository'],
    [{ repository: 'https://github.com/octo/repo' }, 'repository'],
    [{ repository: '..' }, 'repository'],
    [{ repository: 'r'.repeat(101) }, 'repository'],
    [{ repository: 'my repo' }, 'repository'],
    [{ workflowFile: '.github/workflows/release.yml' }, 'workflowFile'],
    [{ workflowFile: 'release' }, 'workflowFile'],
    [{ workflowFile: 'release.json' }, 'workflowFile'],
    [{ workflowFile: 'release@v1.yml' }, 'workflowFile'],
    [{ workflowFile: `${'w'.repeat(252)}.yml` }, 'workflowFile'],
    [{ environment: '' }, 'environment'],
    [{ environment: '   ' }, 'environment'],
    [{ environment: 'e'.repeat(256) }, 'environment'],
    [{ environment: 'prod\nuction' }, 'environment'],
    [{ environment: 5 }, 'environment'],
    [{ owner: 'not a name' }, 'owner'],
    [{ owner: undefined }, 'owner'],
    [{ workflowFile: undefined }, 'workflowFile'],
    [{ scopes: [] }, 'scopes'],
    [{ scopes: ['package:delete'] }, 'scopes.0'],
    [{ scopes: 'package:push' }, 'scopes'],
    [{ scopes: null }, 'scopes'],
    [{ packageGlobs: [] }, 'packageGlobs'],
    [{ packageGlobs: [''] }, 'packageGlobs.0'],
    [{ packageGlobs: ['Contoso.?'] }, 'packageGlobs.0'],
    [{ packageGlobs: 'Contoso.*' }, 'packageGlobs'],
    // What an API key has and a policy does not.
    [{ expiresInDays: 30 }, 'expiresInDays'],
    [{ provider: 'bitbucket' }, 'provider'],
    [{ provider: 'GitHub' }, 'provider'],
    [{ provider: null }, 'provider'],
    // Another provider's criteria are unknown fields of a GitHub policy.
    [{ namespace: 'contoso' }, 'namespace'],
    [{ tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' }, 'tenantId'],
  ])('refuses %j, naming the field, and adds nothing', async (overrides, field) => {
    const user = await service.confirmedUser();
    const response = await service.requestTrustedPublisher(user, newRepository(), overrides as never);
    expect(outcome(response)).toBe('400 invalid_request');
    expect(response.body.detail).toContain(`'${field}'`);
    expect(await service.trustedPublishersOf(user)).toEqual([]);
  });

  it('needs a full session', async () => {
    const user = await service.confirmedUser();
    const repository = newRepository();
    const body = { owner: user.username, repositoryOwner: repository.owner, repository: repository.name, workflowFile: 'release.yml' };
    expect(outcome(await service.call('POST', '/api/me/trusted-publishers', { body }))).toBe('401 unauthorized');
    const recovery = await service.recoverySession(user);
    expect(outcome(await service.call('POST', '/api/me/trusted-publishers', { token: recovery, body }))).toBe('403 microsoft_account_required');
    expect(outcome(await service.call('GET', '/api/me/trusted-publishers', { token: recovery }))).toBe('403 microsoft_account_required');
  });

  it('stops at 50 policies an account made: 409 trusted_publisher_limit', async () => {
    const user = await service.confirmedUser();
    const repository = newRepository();
    for (let batch = 0; batch < 5; batch += 1) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => service.addTrustedPublisher(user, repository, { workflowFile: `release-${batch}-${i}.yml` })));
    }
    const refused = await service.requestTrustedPublisher(user, repository, { workflowFile: 'one-more.yml' });
    expect(outcome(refused)).toBe('409 trusted_publisher_limit');
    expect(await service.trustedPublishersOf(user)).toHaveLength(50);
    // Removing one makes room again.
    const [first] = await service.trustedPublishersOf(user);
    expect((await service.removeTrustedPublisher(user, first.id)).status).toBe(204);
    expect((await service.requestTrustedPublisher(user, repository, { workflowFile: 'one-more.yml' })).status).toBe(201);
  });
});

describe('the limit of 50, under concurrency', () => {
  it('holds for 60 creations at once on two instances: 50 made, the rest 409 trusted_publisher_limit; a removal lets exactly one more in', async () => {
    const user = await service.confirmedUser();
    const repository = newRepository();
    const body = (workflowFile: string) => ({ owner: user.username, repositoryOwner: repository.owner, repository: repository.name, workflowFile });
    const second = await service.startSecondInstance();
    try {
      const answers = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          (i % 2 === 0 ? service : second).call('POST', '/api/me/trusted-publishers', { token: user.sessionToken, body: body(`release-${i}.yml`) }),
        ),
      );
      expect(answers.map(outcome).sort()).toEqual([...Array<string>(50).fill('201'), ...Array<string>(10).fill('409 trusted_publisher_limit')]);
      const made = answers.filter((answer) => answer.status === 201).map((answer) => answer.body.id);
      const listed = await service.trustedPublishersOf(user);
      expect(listed.map((p: { id: string }) => p.id).sort()).toEqual([...made].sort());

      expect((await service.removeTrustedPublisher(user, made[0])).status).toBe(204);
      const more = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 ? service : second).call('POST', '/api/me/trusted-publishers', { token: user.sessionToken, body: body(`again-${i}.yml`) }),
        ),
      );
      expect(more.map(outcome).sort()).toEqual(['201', ...Array<string>(5).fill('409 trusted_publisher_limit')]);
      expect(await service.trustedPublishersOf(user)).toHaveLength(50);
    } finally {
      await second.stop();
    }
  });

  it('a creation cut short between its two writes neither counts nor holds a slot, and goes once an hour old', async () => {
    const user = await service.confirmedUser();
    const repository = newRepository();
    for (let batch = 0; batch < 5; batch += 1) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => service.addTrustedPublisher(user, repository, { workflowFile: `release-${batch}-${i}.yml` })));
    }
    const [first, second] = await service.trustedPublishersOf(user);
    expect((await service.removeTrustedPublisher(user, first.id)).status).toBe(204);
    // The one free slot is the removed policy's: taking it over, after the policy itself is written, fails.
    service.cosmos.failNext(/^PUT .*\/colls\/trustedPublishers\/docs\/slot/, 500);
    expect((await service.requestTrustedPublisher(user, repository, { workflowFile: 'cut-short.yml' })).status).toBe(500);
    service.cosmos.clearFaults();
    const cutShort = { query: 'SELECT c.id FROM c WHERE c.criteria.workflowFile = @file', parameters: [{ name: '@file', value: 'cut-short.yml' }] };
    expect((await container('trustedPublishers').items.query(cutShort).fetchAll()).resources).toHaveLength(1);
    const listed = await service.trustedPublishersOf(user);
    expect(listed).toHaveLength(49);
    expect(listed.map((p: { workflowFile: string }) => p.workflowFile)).not.toContain('cut-short.yml');
    expect((await service.exchangeToken(user.username, service.workflowToken(repository, { workflowFile: 'cut-short.yml' }))).status).toBe(401);
    // Its slot is still free, and the limit still 50.
    expect((await service.requestTrustedPublisher(user, repository, { workflowFile: 'after.yml' })).status).toBe(201);
    expect(outcome(await service.requestTrustedPublisher(user, repository, { workflowFile: 'one-more.yml' }))).toBe('409 trusted_publisher_limit');

    // An hour on, the next policy made clears it away.
    expect((await service.removeTrustedPublisher(user, second.id)).status).toBe(204);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 2 * 60 * 60 * 1000));
    const later = { username: user.username, sessionToken: await service.signIn(user.person) };
    expect((await service.requestTrustedPublisher(later, repository, { workflowFile: 'later.yml' })).status).toBe(201);
    expect((await container('trustedPublishers').items.query(cutShort).fetchAll()).resources).toEqual([]);
  });
});

describe('policies stored before slots held the limit', () => {
  it('keep counting, listing and making keys, take the last places, and are never tidied away', async () => {
    const user = await service.confirmedUser();
    const { id } = (await service.call('GET', '/api/me', { token: user.sessionToken })).body;
    const repository = newRepository();
    for (let i = 0; i < 48; i += 1) await storePolicyAsFirstStored({ ...user, id }, repository, { workflowFile: `old-${i}.yml` });
    expect(await service.trustedPublishersOf(user)).toHaveLength(48);

    const made = await Promise.all(Array.from({ length: 5 }, (_, i) => service.requestTrustedPublisher(user, repository, { workflowFile: `new-${i}.yml` })));
    expect(made.map(outcome).sort()).toEqual(['201', '201', '409 trusted_publisher_limit', '409 trusted_publisher_limit', '409 trusted_publisher_limit']);

    // Two hours on, a creation (once an old one is removed) tidies only what a cut-short creation left: the old ones stay.
    const old = (await service.trustedPublishersOf(user)).find((p: { workflowFile: string }) => p.workflowFile === 'old-0.yml');
    expect((await service.removeTrustedPublisher(user, old.id)).status).toBe(204);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 2 * 60 * 60 * 1000));
    const later = { username: user.username, sessionToken: await service.signIn(user.person) };
    expect((await service.requestTrustedPublisher(later, repository, { workflowFile: 'later.yml' })).status).toBe(201);
    expect(outcome(await service.requestTrustedPublisher(later, repository, { workflowFile: 'one-more.yml' }))).toBe('409 trusted_publisher_limit');
    const listed = (await service.trustedPublishersOf(later)).map((p: { workflowFile: string }) => p.workflowFile);
    expect(listed).toHaveLength(50);
    expect(listed).toEqual(expect.arrayContaining(['old-1.yml', 'old-47.yml', 'later.yml']));
    jest.restoreAllMocks();

    // An old policy still makes keys for the workflow it names.
    expect((await service.exchangeToken(user.username, service.workflowToken(repository, { workflowFile: 'old-1.yml' }))).status).toBe(200);
  });
});

describe('policies stored before providers', () => {
  it('are GitHub policies: listed, matched, pinned (and then stored in today\'s form), described and removed as such', async () => {
    const user = await service.confirmedUser();
    const { id: userId } = (await service.call('GET', '/api/me', { token: user.sessionToken })).body;
    const [pendingRepository, pinnedRepository] = [newRepository(), newRepository()];
    const pending = await storePolicyAsFirstStored({ ...user, id: userId }, pendingRepository, { environment: 'release' });
    const pinned = await storePolicyAsFirstStored({ ...user, id: userId }, pinnedRepository, {
      environment: 'release',
      repositoryOwnerId: pinnedRepository.ownerId,
      repositoryId: pinnedRepository.id,
      lapsesAt: null,
      pinnedAt: clock.now().toISOString(),
      lastUsedAt: clock.now().toISOString(),
    });
    const criteriaOf = (repository: GitHubRepository) => ({ repositoryOwner: repository.owner, repository: repository.name, workflowFile: 'release.yml', environment: 'release' });
    expect(await service.trustedPublishersOf(user)).toEqual([
      expect.objectContaining({
        id: pending,
        provider: 'github',
        criteria: criteriaOf(pendingRepository),
        ...criteriaOf(pendingRepository),
        // Before scopes, a policy's keys pushed any package.
        packageGlobs: ['*'],
        scopes: ['package:push'],
        status: 'pending',
        pinned: null,
      }),
      expect.objectContaining({
        id: pinned,
        provider: 'github',
        criteria: criteriaOf(pinnedRepository),
        status: 'active',
        lapsesAt: null,
        pinned: { repositoryOwnerId: pinnedRepository.ownerId, repositoryId: pinnedRepository.id, pinnedAt: expect.any(String) },
      }),
    ]);

    // The pinned one takes its repository's runs, and not those of one made again under its name.
    expect((await service.exchangeToken(user.username, service.workflowToken(pinnedRepository, { environment: 'release' }))).status).toBe(200);
    const again = service.github.recreate(`${pinnedRepository.owner}/${pinnedRepository.name}`);
    expect((await service.exchangeToken(user.username, service.workflowToken(again, { environment: 'release' }))).status).toBe(401);
    // The pending one: the environment it names, then pinned by its first full match.
    expect((await service.exchangeToken(user.username, service.workflowToken(pendingRepository, { environment: 'staging' }))).status).toBe(401);
    expect((await service.exchangeToken(user.username, service.workflowToken(pendingRepository, { environment: 'release' }))).status).toBe(200);
    const [nowPinned] = await service.trustedPublishersOf(user);
    expect(nowPinned).toMatchObject({ id: pending, status: 'active', pinned: { repositoryId: pendingRepository.id, repositoryOwnerId: pendingRepository.ownerId } });
    const { resource: stored } = await container('trustedPublishers').item(pending, userId).read();
    expect(stored).toMatchObject({ provider: 'github', criteria: criteriaOf(pendingRepository), pinned: { repositoryId: pendingRepository.id, repositoryOwnerId: pendingRepository.ownerId } });
    expect(Object.keys(stored)).not.toContain('repositoryId');
    expect((await service.exchangeToken(user.username, service.workflowToken(pendingRepository, { environment: 'release' }))).status).toBe(200);

    expect((await service.removeTrustedPublisher(user, pinned)).status).toBe(204);
    await service.deliverNotices();
    const [removed] = service.noticesTo(user.person.email, `Trusted publishing policy removed: ${pinnedRepository.owner}/${pinnedRepository.name}, release.yml`);
    expect(removed.plainText).toContain(`Runs of the workflow release.yml of the GitHub repository ${pinnedRepository.owner}/${pinnedRepository.name} (in the deployment environment 'release') get no more API keys`);
    const [first] = service.noticesTo(user.person.email, `Trusted publishing policy first used: ${pendingRepository.owner}/${pendingRepository.name}, release.yml`);
    expect(first.plainText).toContain(`pinned to that repository (GitHub repository id ${pendingRepository.id}, owner id ${pendingRepository.ownerId})`);
    expect((await service.securityLog(user))[0]).toMatchObject({ action: 'trusted_publisher_removed', details: { policyId: pinned, provider: 'github', workflowFile: 'release.yml' } });
  });
});

describe('the list', () => {
  it("shows an organization's admins the policies its members made for it, and nobody else's", async () => {
    const admin = await service.confirmedUser();
    const collaborator = await service.confirmedUser();
    const other = await service.confirmedUser();
    const name = await organizationWith(admin, collaborator);
    await service.inviteAndAccept(name, admin, other);
    const forOrganization = await service.addTrustedPublisher(collaborator, newRepository(), { owner: name });
    const ownPolicy = await service.addTrustedPublisher(collaborator, newRepository());
    const adminsOwn = await service.addTrustedPublisher(admin, newRepository());

    expect((await service.trustedPublishersOf(collaborator)).map((p: { id: string }) => p.id)).toEqual([forOrganization.id, ownPolicy.id]);
    expect((await service.trustedPublishersOf(admin)).map((p: { id: string; createdBy: string }) => [p.id, p.createdBy])).toEqual([
      [adminsOwn.id, admin.username],
      [forOrganization.id, collaborator.username],
    ]);
    // Another collaborator sees none of it; nor does an account outside.
    expect(await service.trustedPublishersOf(other)).toEqual([]);
    expect(await service.trustedPublishersOf(await service.confirmedUser())).toEqual([]);
  });

  it("says a policy is lapsed once 7 days pass unused; an organization's policy stays the organization's once its maker left", async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const name = await organizationWith(admin, member);
    const forOrganization = await service.addTrustedPublisher(member, newRepository(), { owner: name });
    const own = await service.addTrustedPublisher(member, newRepository());

    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 7 * DAY + 60_000));
    const later = { sessionToken: await service.signIn(member.person) };
    expect((await service.trustedPublishersOf(later)).map((p: { status: string }) => p.status)).toEqual(['lapsed', 'lapsed']);
    jest.restoreAllMocks();

    await service.removeMember(name, member, member);
    // Its maker gone, the organization's policy is no longer the maker's to see; it still works for the organization.
    const listed = await service.trustedPublishersOf(member);
    expect(listed.map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([[own.id, 'pending']]);
    expect((await service.trustedPublishersOf(admin)).map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([[forOrganization.id, 'pending']]);
  });
});

describe('removing a policy', () => {
  it('by its creator: 204, gone from the list, recorded; again: 404', async () => {
    const user = await service.confirmedUser();
    const policy = await service.addTrustedPublisher(user, newRepository());
    expect((await service.removeTrustedPublisher(user, policy.id)).status).toBe(204);
    expect(await service.trustedPublishersOf(user)).toEqual([]);
    expect((await service.securityLog(user))[0]).toMatchObject({ action: 'trusted_publisher_removed', details: { policyId: policy.id } });
    expect(outcome(await service.removeTrustedPublisher(user, policy.id))).toBe('404 not_found');
  });

  it("by an admin of the owning organization: the creator's log and the trail say who", async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const name = await organizationWith(admin, member);
    const policy = await service.addTrustedPublisher(member, newRepository(), { owner: name });
    expect((await service.removeTrustedPublisher(admin, policy.id)).status).toBe(204);
    expect(await service.trustedPublishersOf(member)).toEqual([]);
    expect((await service.securityLog(admin))[0]).toMatchObject({ action: 'trusted_publisher_removed', details: { policyId: policy.id } });
    const creatorsLog = (await service.call('GET', '/api/me/audit', { token: member.sessionToken })).body.events;
    expect(creatorsLog[0]).toMatchObject({ action: 'trusted_publisher_removed', clientAddress: 'unknown', details: { policyId: policy.id, by: admin.username } });
    expect((await service.organizationAudit(name, member)).body.events[0]).toMatchObject({
      action: 'trusted_publisher_removed',
      actor: { username: admin.username },
      details: { policyId: policy.id },
    });
  });

  it("answers 404 to anyone else: another member, an outsider, an admin of another organization, an id nobody has", async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const collaborator = await service.confirmedUser();
    const otherAdmin = await service.confirmedUser();
    const name = await organizationWith(admin, member);
    await service.inviteAndAccept(name, admin, collaborator);
    await organizationWith(otherAdmin);
    const forOrganization = await service.addTrustedPublisher(member, newRepository(), { owner: name });
    const own = await service.addTrustedPublisher(member, newRepository());

    for (const [who, id] of [
      [collaborator, forOrganization.id],
      [otherAdmin, forOrganization.id],
      [await service.confirmedUser(), forOrganization.id],
      // An admin of the organization may remove the organization's policies, not a member's own.
      [admin, own.id],
      [member, '0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0'],
    ] as const) {
      const response = await service.removeTrustedPublisher(who, id);
      expect(outcome(response)).toBe('404 not_found');
      expect(response.body.detail).toBe('There is no trusted publishing policy with that id that you can see.');
    }
    expect((await service.trustedPublishersOf(member)).map((p: { id: string }) => p.id)).toEqual([forOrganization.id, own.id]);
    expect(outcome(await service.removeTrustedPublisher(member, 'not-an-id'))).toBe('400 invalid_request');
    expect(outcome(await service.call('DELETE', `/api/me/trusted-publishers/${own.id}`))).toBe('401 unauthorized');
  });

  it('ten removals at once: one 204, the rest 404, and one record', async () => {
    const user = await service.confirmedUser();
    const policy = await service.addTrustedPublisher(user, newRepository());
    const answers = await Promise.all(Array.from({ length: 10 }, () => service.removeTrustedPublisher(user, policy.id)));
    expect(answers.map(outcome).sort()).toEqual(['204', ...Array<string>(9).fill('404 not_found')]);
    expect((await service.securityLog(user)).filter((e) => e.action === 'trusted_publisher_removed')).toHaveLength(1);
  });
});

describe('deletion', () => {
  it("removes the policies the account made for itself; those it made for an organization stay the organization's", async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const name = await organizationWith(admin, member);
    const forOrganization = await service.addTrustedPublisher(member, newRepository(), { owner: name });
    await service.addTrustedPublisher(member, newRepository());
    const { id: memberId } = (await service.call('GET', '/api/me', { token: member.sessionToken })).body;
    expect((await service.call('DELETE', '/api/me', { token: member.sessionToken, body: { confirmUsername: member.username } })).status).toBe(202);
    jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + 25 * 60 * 60 * 1000));
    await service.host.runTimer('processAccountDeletions');
    jest.restoreAllMocks();
    const { resources } = await container('trustedPublishers')
      .items.query({ query: 'SELECT c.id, c.creatorId FROM c WHERE c.creatorName = @name', parameters: [{ name: '@name', value: member.username }] })
      .fetchAll();
    // The organization's policy alone, in the organization's partition: its pointer went with the maker's.
    expect(resources.map((r) => r.id)).toEqual([forOrganization.id]);
    expect(resources[0].creatorId).not.toBe(memberId);
    expect((await service.trustedPublishersOf(admin)).map((p: { id: string; createdBy: string; status: string }) => [p.id, p.createdBy, p.status])).toEqual([
      [forOrganization.id, member.username, 'pending'],
    ]);
  });

  it('of an organization removes the policies it owns, its former members\' too, and no other', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const name = await organizationWith(admin, member);
    await service.addTrustedPublisher(admin, newRepository(), { owner: name });
    await service.addTrustedPublisher(member, newRepository(), { owner: name });
    const own = await service.addTrustedPublisher(member, newRepository());
    await service.removeMember(name, admin, member);
    expect((await service.call('DELETE', `/api/organizations/${name}`, { token: admin.sessionToken })).status).toBe(204);
    expect(await service.trustedPublishersOf(admin)).toEqual([]);
    expect((await service.trustedPublishersOf(member)).map((p: { id: string }) => p.id)).toEqual([own.id]);
  });
});
