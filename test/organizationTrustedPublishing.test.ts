import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService, type ApiResponse } from './support/service';
import { uniqueName } from './support/people';
import type { Member } from './support/organizations';
import { noMatch, refusal, storePolicyAsFirstStored } from './support/trustedPublishing';
import type { GitHubRepository } from './standins/githubActions';

/**
 * Trusted publishing for an organization whose CI must not depend on one person (NuGet/NuGetGallery#10581,
 * NuGet/login#1): `POST /api/v2/token` with `username` an organization uses the organization's policies, whoever
 * made them, and makes a key the organization holds itself, so publishing goes on when the person who set it up
 * leaves. The maker's own name keeps working as on NuGet.org while it is a member. Policies stored before
 * organizations held their own work as they did, and in both forms once moved; the organization holds 50;
 * lapses are told once; the organization's lock, deletion and the budgets hold.
 */
const SITE_ADMIN = uniqueName('orgtp-admin');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });
let registeredSiteAdmin: Promise<Member> | undefined;
const siteAdmin = () => (registeredSiteAdmin ??= service.confirmedUser(undefined, SITE_ADMIN));

const DAY = 24 * 60 * 60 * 1000;
const newRepository = (): GitHubRepository => service.github.repository(`${uniqueName('octo')}/${uniqueName('repo')}`);
const keysOf = async (member: Member) => (await service.call('GET', '/api/me/api-keys', { token: member.sessionToken })).body;
const keyIdOf = (secret: string) => secret.split('.')[1];
const keyDocument = async (secret: string) => (await container('apiKeys').item(keyIdOf(secret), keyIdOf(secret)).read()).resource;
const listed = async (member: Pick<Member, 'sessionToken'>) =>
  (await service.trustedPublishersOf(member)).map((p: { id: string; createdBy: string; status: string }) => [p.id, p.createdBy, p.status]);
const runTimer = (name: string) => service.host.runTimer(name);

/** The id of the account or organization holding a name, as its claim says. */
async function accountIdOf(username: string): Promise<string> {
  const id = `username:${username.toLowerCase()}`;
  return (await container('claims').item(id, id).read()).resource.accountId;
}

/** Everything a partition of `trustedPublishers` holds, by id. */
async function partition(accountId: string): Promise<Array<{ id: string; [field: string]: unknown }>> {
  const { resources } = await container('trustedPublishers')
    .items.query({ query: 'SELECT * FROM c WHERE c.creatorId = @p', parameters: [{ name: '@p', value: accountId }] })
    .fetchAll();
  return resources;
}

/** An organization with an admin and a collaborator. */
async function organization() {
  const admin = await service.confirmedUser();
  const collaborator = await service.confirmedUser();
  const { name } = await service.createOrganization(admin);
  await service.inviteAndAccept(name, admin, collaborator);
  return { admin, collaborator, name, id: await accountIdOf(name) };
}

/** Runs the deletion timer for `member`'s own deletion a day after it asked. */
async function deleteAccount(member: Member): Promise<void> {
  expect((await service.call('DELETE', '/api/me', { token: member.sessionToken, body: { confirmUsername: member.username } })).status).toBe(202);
  jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 25 * 60 * 60 * 1000));
  await runTimer('processAccountDeletions');
  jest.restoreAllMocks();
}

describe('a job naming the organization', () => {
  it("uses its policies, whoever made them, oldest first, and gets a key the organization holds itself", async () => {
    const { admin, collaborator, name, id } = await organization();
    const repository = newRepository();
    const older = await service.addTrustedPublisher(collaborator, repository, { owner: name });
    await service.addTrustedPublisher(admin, repository, { owner: name, environment: 'release' });
    const other = newRepository();
    await service.addTrustedPublisher(admin, other, { owner: name });

    const key = await service.trustedPublishingKey(name, service.workflowToken(repository, { environment: 'release', runId: '77' }));
    expect(await keyDocument(key)).toMatchObject({
      creatorAccountId: id,
      creatorName: name,
      holderKind: 'organization',
      ownerAccountId: id,
      trustedPublishing: { policyId: older.id, provider: 'github' },
    });
    expect(await service.trustedPublishingKey(name, service.workflowToken(other))).toMatch(/^gak1\./);
    // No person holds it: it is in nobody's list of keys.
    for (const member of [admin, collaborator]) expect(await keysOf(member)).toEqual([]);

    const packageId = uniqueName('Org.Built');
    await service.pushOk(key, packageId);
    expect((await service.getPackage(packageId)).body.owners).toEqual([name]);
    const keyRecord = { id: keyIdOf(key), description: `Trusted publishing: ${repository.owner}/${repository.name}, release.yml, run 77`, trustedPublishing: true };
    const trail = (await service.organizationAudit(name, collaborator)).body.events;
    expect(trail.find((e: { action: string }) => e.action === 'package_pushed')).toMatchObject({ actor: { username: name }, apiKey: keyRecord });
    expect(trail.filter((e: { action: string }) => e.action === 'trusted_publishing_key_created').at(-1)).toMatchObject({
      actor: { username: name },
      apiKey: keyRecord,
      details: { policyId: older.id, owner: name, runId: '77' },
    });
    // What a member made for itself is not the organization's.
    const own = newRepository();
    await service.addTrustedPublisher(collaborator, own);
    expect(refusal(await service.exchangeToken(name, service.workflowToken(own)))).toBe(noMatch(name));
  });

  it("keeps its keys off the organization's document, and each expired one out of its list, as a person's", async () => {
    const { admin, name, id } = await organization();
    const repository = newRepository();
    await service.addTrustedPublisher(admin, repository, { owner: name });
    const before = JSON.stringify((await container('accounts').item(id, id).read()).resource);
    const start = Date.now();
    for (let build = 0; build < 4; build += 1) {
      jest.spyOn(clock, 'now').mockReturnValue(new Date(start + build * 20 * 60 * 1000));
      await service.trustedPublishingKey(name, service.workflowToken(repository));
    }
    const { resource: document } = await container('accounts').item(id, id).read();
    // The document every organization route reads is the size it was before any build.
    expect(document).not.toHaveProperty('apiKeyIds');
    expect(document).not.toHaveProperty('trustedPublishingKeys');
    expect(JSON.stringify(document).length).toBe(before.length);
    // Its list: the last build's key only, by the query every sweep asks; each expired one goes from the store a day on.
    const { resources: items } = await container('heldApiKeys')
      .items.query({ query: 'SELECT * FROM c WHERE c.holderId = @id', parameters: [{ name: '@id', value: id }] })
      .fetchAll();
    expect(items).toHaveLength(4);
    const now = clock.now().getTime();
    expect(items.filter((item: { expiresAt: string }) => Date.parse(item.expiresAt) > now)).toHaveLength(1);
    // Its 15 minutes, and a day: counted from when it was written, with the key.
    expect(items.map((item: { ttl: number }) => item.ttl)).toEqual(Array(4).fill(15 * 60 + 24 * 60 * 60));
  });
});

describe('its maker leaves', () => {
  it('the organization form goes on, with the keys it made; the maker can no longer name itself for it, and its keys go', async () => {
    const { admin, collaborator, name } = await organization();
    const repository = newRepository();
    const policy = await service.addTrustedPublisher(collaborator, repository, { owner: name });
    const makersKey = await service.trustedPublishingKey(collaborator.username, service.workflowToken(repository));
    const organizationsKey = await service.trustedPublishingKey(name, service.workflowToken(repository));

    await service.removeMember(name, admin, collaborator);
    expect((await service.push(organizationsKey, uniqueName('Still.Org'))).status).toBe(201);
    expect((await service.push(makersKey, uniqueName('Gone.Maker'))).body.code).toBe('invalid_api_key');
    expect((await service.exchangeToken(name, service.workflowToken(repository))).status).toBe(200);
    expect(refusal(await service.exchangeToken(collaborator.username, service.workflowToken(repository)))).toBe(
      `400 The scopes on the generated API key are not valid. Confirm that you still have permissions to operate on behalf of package owner '${name}'.`,
    );
    // The organization's now: gone from the former member's list, and not the former member's to remove.
    expect(await listed(collaborator)).toEqual([]);
    expect(await listed(admin)).toEqual([[policy.id, collaborator.username, 'active']]);
    expect(outcome(await service.removeTrustedPublisher(collaborator, policy.id))).toBe('404 not_found');

    // Back in the organization, its name works again.
    await service.inviteAndAccept(name, admin, collaborator);
    expect((await service.exchangeToken(collaborator.username, service.workflowToken(repository))).status).toBe(200);
  });

  it("its maker's account deleted: the organization keeps the policy", async () => {
    const { admin, collaborator, name } = await organization();
    const repository = newRepository();
    const policy = await service.addTrustedPublisher(collaborator, repository, { owner: name });
    await deleteAccount(collaborator);
    expect((await service.exchangeToken(name, service.workflowToken(repository))).status).toBe(200);
    expect(await listed(admin)).toEqual([[policy.id, collaborator.username, 'active']]);
  });
});

describe('who sees and removes an organization\'s policy', () => {
  it('its maker and the organization\'s admins; removing it frees both places and stops every key it made', async () => {
    const { admin, collaborator, name, id } = await organization();
    const other = await service.confirmedUser();
    await service.inviteAndAccept(name, admin, other);
    const repository = newRepository();
    const policy = await service.addTrustedPublisher(collaborator, repository, { owner: name });
    expect(await listed(collaborator)).toEqual([[policy.id, collaborator.username, 'pending']]);
    expect(await listed(admin)).toEqual([[policy.id, collaborator.username, 'pending']]);
    expect(await listed(other)).toEqual([]);
    expect(outcome(await service.removeTrustedPublisher(other, policy.id))).toBe('404 not_found');

    const makersKey = await service.trustedPublishingKey(collaborator.username, service.workflowToken(repository));
    const organizationsKey = await service.trustedPublishingKey(name, service.workflowToken(repository));
    const collaboratorId = await accountIdOf(collaborator.username);
    expect((await partition(collaboratorId)).map((d) => d.id)).toContain(policy.id);

    expect((await service.removeTrustedPublisher(admin, policy.id)).status).toBe(204);
    for (const key of [makersKey, organizationsKey]) expect((await service.push(key, uniqueName('Removed.Lib'))).body.code).toBe('invalid_api_key');
    expect(await listed(collaborator)).toEqual([]);
    // The pointer in the maker's partition went first, then the policy: only slots are left.
    expect((await partition(collaboratorId)).filter((d) => !d.id.startsWith('slot:'))).toEqual([]);
    expect((await partition(id)).filter((d) => !d.id.startsWith('slot:'))).toEqual([]);
    expect(refusal(await service.exchangeToken(name, service.workflowToken(repository)))).toBe(noMatch(name));
  });
});

/** A policy for an organization as the service stored it before organizations held their own: in its maker's partition, in the maker's slot 0. */
async function storedInMakersPartition(maker: Member, organizationName: string, repository: GitHubRepository, fields: Record<string, unknown> = {}) {
  const [makerId, ownerId] = await Promise.all([accountIdOf(maker.username), accountIdOf(organizationName)]);
  const id = await storePolicyAsFirstStored({ id: makerId, username: maker.username }, repository, {
    ownerId,
    ownerName: organizationName,
    ...fields,
  });
  return { id, makerId, ownerId };
}

/** Today's shape: providers, scopes and a slot, in the maker's partition. */
async function storedWithSlot(maker: Member, organizationName: string, repository: GitHubRepository, pinned: boolean) {
  const ids = pinned ? { repositoryOwnerId: repository.ownerId, repositoryId: repository.id } : null;
  const stored = await storedInMakersPartition(maker, organizationName, repository, {
    repositoryOwner: undefined,
    repository: undefined,
    workflowFile: undefined,
    environment: undefined,
    repositoryOwnerId: undefined,
    repositoryId: undefined,
    provider: 'github',
    criteria: { repositoryOwner: repository.owner, repository: repository.name, workflowFile: 'release.yml', environment: null },
    pinned: ids,
    pinnedAt: pinned ? clock.now().toISOString() : null,
    lapsesAt: pinned ? null : new Date(clock.now().getTime() + 7 * DAY).toISOString(),
    scopes: ['package:push'],
    packageGlobs: ['*'],
    slotted: true,
  });
  await container('trustedPublishers').items.create({ id: 'slot:0', creatorId: stored.makerId, ownerId: stored.ownerId, policyId: stored.id });
  return stored;
}

describe('policies stored before organizations held their own', () => {
  it("today's shape: the creator form as before; the organization form too once the timer moved it, with its id, pin and place", async () => {
    const { admin, collaborator, name } = await organization();
    const repository = newRepository();
    const { id, makerId, ownerId } = await storedWithSlot(collaborator, name, repository, true);

    expect((await service.exchangeToken(collaborator.username, service.workflowToken(repository))).status).toBe(200);
    expect(refusal(await service.exchangeToken(name, service.workflowToken(repository)))).toBe(noMatch(name));
    expect(await listed(admin)).toEqual([[id, collaborator.username, 'active']]);

    await runTimer('moveOrganizationPolicies');
    await runTimer('moveOrganizationPolicies');
    expect((await service.exchangeToken(name, service.workflowToken(repository))).status).toBe(200);
    expect((await service.exchangeToken(collaborator.username, service.workflowToken(repository))).status).toBe(200);
    // Still pinned: a repository made again under the name gets nothing, in either form.
    const again = service.github.recreate(`${repository.owner}/${repository.name}`);
    for (const username of [name, collaborator.username]) expect(refusal(await service.exchangeToken(username, service.workflowToken(again)))).toBe(noMatch(username));
    expect(await listed(admin)).toEqual([[id, collaborator.username, 'active']]);
    expect(await listed(collaborator)).toEqual([[id, collaborator.username, 'active']]);

    // The maker's slot 0 holds the pointer now; the organization's a slot of its own.
    const makers = await partition(makerId);
    expect(makers.find((d) => d.id === id)).toMatchObject({ pointer: true, ownerId });
    expect(makers.find((d) => d.id === 'slot:0')).toMatchObject({ policyId: id });
    expect((await partition(ownerId)).find((d) => d.id === id)).toMatchObject({ makerId, creatorName: collaborator.username, pinned: { repositoryId: repository.id } });
  });

  it('stored before slots and providers: moved too; one whose maker left stays inactive where it is', async () => {
    const { admin, collaborator, name } = await organization();
    const leaver = await service.confirmedUser();
    await service.inviteAndAccept(name, admin, leaver);
    const [repository, leftRepository] = [newRepository(), newRepository()];
    const { id } = await storedInMakersPartition(collaborator, name, repository);
    const left = await storedInMakersPartition(leaver, name, leftRepository);
    await service.removeMember(name, admin, leaver);
    expect(refusal(await service.exchangeToken(name, service.workflowToken(repository)))).toBe(noMatch(name));

    await runTimer('moveOrganizationPolicies');
    expect((await service.exchangeToken(name, service.workflowToken(repository))).status).toBe(200);
    expect((await service.exchangeToken(collaborator.username, service.workflowToken(repository))).status).toBe(200);
    expect(refusal(await service.exchangeToken(name, service.workflowToken(leftRepository)))).toBe(noMatch(name));
    expect(await listed(admin)).toEqual([
      [id, collaborator.username, 'active'],
      [left.id, leaver.username, 'inactive'],
    ]);
    expect((await partition(left.makerId)).map((d) => d.id)).toEqual([left.id]);
    // The pointer takes its place as it was, counting without a slot: the maker has 49 more to make.
    for (let batch = 0; batch < 7; batch += 1) {
      await Promise.all(Array.from({ length: 7 }, (_, i) => service.addTrustedPublisher(collaborator, repository, { workflowFile: `own-${batch}-${i}.yml` })));
    }
    expect(outcome(await service.requestTrustedPublisher(collaborator, repository, { workflowFile: 'one-more.yml' }))).toBe('409 trusted_publisher_limit');
  });

  it('removed while the timer moves it, either way round: gone from both partitions, in neither form, and its place free', async () => {
    for (const held of ['move', 'removal'] as const) {
      const { admin, collaborator, name } = await organization();
      const repository = newRepository();
      const { id, makerId, ownerId } = await storedWithSlot(collaborator, name, repository, false);
      if (held === 'move') {
        // The move has written the organization's copy, and is about to put the pointer in the stored policy's place.
        const pointer = service.cosmos.holdNext(new RegExp(`^PUT .*/colls/trustedPublishers/docs/${id}$`));
        const moving = runTimer('moveOrganizationPolicies');
        await pointer.reached;
        expect((await service.removeTrustedPublisher(admin, id)).status).toBe(204);
        pointer.release();
        await moving;
      } else {
        // The maker's removal has found the stored policy, and the move runs to its end before the removal deletes.
        const deletion = service.cosmos.holdNext(new RegExp(`^DELETE .*/colls/trustedPublishers/docs/${id}$`));
        const removal = service.removeTrustedPublisher(collaborator, id);
        await deletion.reached;
        await runTimer('moveOrganizationPolicies');
        deletion.release();
        expect((await removal).status).toBe(204);
      }
      for (const username of [name, collaborator.username]) expect(refusal(await service.exchangeToken(username, service.workflowToken(repository)))).toBe(noMatch(username));
      for (const account of [makerId, ownerId]) expect((await partition(account)).filter((d) => !d.id.startsWith('slot:'))).toEqual([]);
      expect(await listed(admin)).toEqual([]);
    }
  });

  it("its maker's deletion moves it to the organization first, so the organization keeps it", async () => {
    const { admin, collaborator, name } = await organization();
    const repository = newRepository();
    const { id } = await storedWithSlot(collaborator, name, repository, false);
    await deleteAccount(collaborator);
    expect((await service.exchangeToken(name, service.workflowToken(repository))).status).toBe(200);
    expect(await listed(admin)).toEqual([[id, collaborator.username, 'active']]);
  });
});

describe('the limits', () => {
  it('an organization holds 50: 60 creations at once by three members on two instances make 50, and a removal lets exactly one more in', async () => {
    const { admin, collaborator, name } = await organization();
    const third = await service.confirmedUser();
    await service.inviteAndAccept(name, admin, third);
    const makers = [admin, collaborator, third];
    const repository = newRepository();
    const second = await service.startSecondInstance();
    try {
      const create = (i: number, stem: string) =>
        (i % 2 === 0 ? service : second).call('POST', '/api/me/trusted-publishers', {
          token: makers[i % 3].sessionToken,
          body: { owner: name, repositoryOwner: repository.owner, repository: repository.name, workflowFile: `${stem}-${i}.yml` },
        });
      const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => create(i, 'release')));
      expect(answers.map(outcome).sort()).toEqual([...Array<string>(50).fill('201'), ...Array<string>(10).fill('409 trusted_publisher_limit')]);
      expect(answers.find((a) => a.status === 409)?.body.detail).toBe(
        `'${name}' has 50 trusted publishing policies, as many as an organization may have. Its admins can remove one it no longer uses first.`,
      );
      const made = answers.filter((a) => a.status === 201).map((a) => a.body.id);
      const held = await service.trustedPublishersOf(admin);
      expect(held.map((p: { id: string }) => p.id).sort()).toEqual([...made].sort());
      // A collaborator lists what it made for the organization, no more.
      for (const maker of [collaborator, third]) {
        expect((await service.trustedPublishersOf(maker)).length).toBe(held.filter((p: { createdBy: string }) => p.createdBy === maker.username).length);
      }

      expect((await service.removeTrustedPublisher(admin, made[0])).status).toBe(204);
      const more = await Promise.all(Array.from({ length: 6 }, (_, i) => create(i, 'again')));
      expect(more.map(outcome).sort()).toEqual(['201', ...Array<string>(5).fill('409 trusted_publisher_limit')]);
      expect(await service.trustedPublishersOf(admin)).toHaveLength(50);
    } finally {
      await second.stop();
    }
  });

  it("an organization's policy takes one of its maker's 50 too; a creation whose pointer fails leaves the organization nothing", async () => {
    const { admin, collaborator, name } = await organization();
    const repository = newRepository();
    for (let batch = 0; batch < 5; batch += 1) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => service.addTrustedPublisher(collaborator, repository, { workflowFile: `own-${batch}-${i}.yml` })));
    }
    const refused = await service.requestTrustedPublisher(collaborator, repository, { owner: name, workflowFile: 'for-org.yml' });
    expect(outcome(refused)).toBe('409 trusted_publisher_limit');
    expect(refused.body.detail).toBe('You have made 50 trusted publishing policies, as many as an account may make. Remove one you no longer use first.');

    // The one place left is a freed slot, taken over under its ETag: that write fails once the organization's policy is written.
    const [first] = await service.trustedPublishersOf(collaborator);
    expect((await service.removeTrustedPublisher(collaborator, first.id)).status).toBe(204);
    service.cosmos.failNext(/^PUT .*\/colls\/trustedPublishers\/docs\/slot/, 500);
    expect((await service.requestTrustedPublisher(collaborator, repository, { owner: name, workflowFile: 'for-org.yml' })).status).toBe(500);
    service.cosmos.clearFaults();
    expect(await service.trustedPublishersOf(admin)).toEqual([]);
    expect(refusal(await service.exchangeToken(name, service.workflowToken(repository, { workflowFile: 'for-org.yml' })))).toBe(noMatch(name));
    expect((await service.requestTrustedPublisher(collaborator, repository, { owner: name, workflowFile: 'for-org.yml' })).status).toBe(201);
    expect((await service.exchangeToken(name, service.workflowToken(repository, { workflowFile: 'for-org.yml' }))).status).toBe(200);
  });
});

describe('a policy that lapses unused', () => {
  const lapsed = (repository: GitHubRepository) => `Trusted publishing policy lapsed: ${repository.owner}/${repository.name}, release.yml`;

  it("is told once to its maker and the organization's admins, whatever their preferences; a policy pinned or removed first is not", async () => {
    const { admin, collaborator: maker, name } = await organization();
    const quietAdmin = await service.confirmedUser();
    await service.inviteAndAccept(name, admin, quietAdmin, 'admin');
    expect(outcome(await service.setNotifications(quietAdmin, { emailAllowed: false }))).toBe('200');
    const [unused, pinned, removed, own] = [newRepository(), newRepository(), newRepository(), newRepository()];
    const policy = await service.addTrustedPublisher(maker, unused, { owner: name });
    await service.addTrustedPublisher(maker, pinned, { owner: name });
    const toRemove = await service.addTrustedPublisher(maker, removed, { owner: name });
    await service.addTrustedPublisher(maker, own);
    await service.trustedPublishingKey(name, service.workflowToken(pinned));
    expect((await service.removeTrustedPublisher(admin, toRemove.id)).status).toBe(204);

    // Not yet: the timer tells nobody before the 7 days are out.
    await runTimer('notifyLapsedTrustedPublishers');
    await service.deliverNotices();
    expect(service.noticesTo(maker.person.email, /lapsed/)).toEqual([]);

    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 7 * DAY + 60 * 60 * 1000));
    const second = await service.startSecondInstance();
    try {
      jest.spyOn(second.clock, 'now').mockReturnValue(clock.now());
      await Promise.all([runTimer('notifyLapsedTrustedPublishers'), second.host.runTimer('notifyLapsedTrustedPublishers')]);
      await runTimer('notifyLapsedTrustedPublishers');
    } finally {
      await second.stop();
    }
    await service.deliverNotices();
    await service.deliverNotices();
    expect([maker, admin, quietAdmin].map((who) => service.noticesTo(who.person.email, lapsed(unused)).length)).toEqual([1, 1, 1]);
    expect(service.noticesTo(maker.person.email, lapsed(own))).toHaveLength(1);
    expect(service.noticesTo(admin.person.email, lapsed(own))).toEqual([]);
    for (const repository of [pinned, removed]) {
      for (const who of [maker, admin]) expect(service.noticesTo(who.person.email, lapsed(repository))).toEqual([]);
    }
    const [toAdmin] = service.noticesTo(admin.person.email, lapsed(unused));
    expect(toAdmin.plainText).toContain(`The trusted publishing policy (id ${policy.id}, made by ${maker.username}) lapsed at`);
    expect(toAdmin.plainText).toContain(`no run used it within 7 days of its making, so runs of the workflow release.yml of the GitHub repository ${unused.owner}/${unused.name}`);
    expect(toAdmin.plainText).toContain(`You get this as an admin of ${name}.`);
    expect(toAdmin.plainText).toContain('these are always sent');
    const later = { sessionToken: await service.signIn(admin.person) };
    expect((await service.trustedPublishersOf(later)).find((p: { id: string }) => p.id === policy.id).status).toBe('lapsed');
  });

  it('costs the timer a query for each day it looks at, and the policies lapsing', async () => {
    service.cosmos.reset();
    await runTimer('notifyLapsedTrustedPublishers');
    const requests = service.cosmos.documentRequests();
    expect(requests.every((line) => line.includes('/colls/trustedPublisherLapses/'))).toBe(true);
    expect(requests.length).toBeLessThanOrEqual(16);
  });
});

describe("the organization's own stops", () => {
  it('locked by support: refused, and its keys suspended, until unlocked', async () => {
    const support = await siteAdmin();
    const { admin, name } = await organization();
    const repository = newRepository();
    await service.addTrustedPublisher(admin, repository, { owner: name });
    const key = await service.trustedPublishingKey(name, service.workflowToken(repository));
    expect((await service.lockAccount(support, name)).status).toBe(200);
    expect(refusal(await service.exchangeToken(name, service.workflowToken(repository)))).toBe(`400 The organization '${name}' is locked by support.`);
    expect((await service.push(key, uniqueName('Locked.Org'))).body.detail).toMatch(/suspended/);
    expect((await service.unlockAccount(support, name)).status).toBe(200);
    expect((await service.push(key, uniqueName('Unlocked.Org'))).status).toBe(201);
    expect((await service.exchangeToken(name, service.workflowToken(repository))).status).toBe(200);
  });

  it('deleted: nothing matches, its keys stop, and its policies and their pointers are gone', async () => {
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const repository = newRepository();
    await service.addTrustedPublisher(admin, repository, { owner: name });
    const key = await service.trustedPublishingKey(name, service.workflowToken(repository));
    expect((await service.call('DELETE', `/api/organizations/${name}`, { token: admin.sessionToken })).status).toBe(204);
    expect(refusal(await service.exchangeToken(name, service.workflowToken(repository)))).toBe(noMatch(name));
    expect((await service.push(key, uniqueName('Gone.Org'))).body.code).toBe('invalid_api_key');
    expect(await service.trustedPublishersOf(admin)).toEqual([]);
    expect((await partition(await accountIdOf(admin.username))).filter((d) => !d.id.startsWith('slot:'))).toEqual([]);
  });

  it('a key made while the organization is deleted, or locked, never works', async () => {
    const support = await siteAdmin();
    for (const stop of ['delete', 'lock'] as const) {
      const admin = await service.confirmedUser();
      const { name } = await service.createOrganization(admin);
      const repository = newRepository();
      await service.addTrustedPublisher(admin, repository, { owner: name });
      const held = service.cosmos.holdNext(/^POST .*\/colls\/apiKeys\/docs$/);
      const exchange = service.exchangeToken(name, service.workflowToken(repository));
      await held.reached;
      if (stop === 'delete') expect((await service.call('DELETE', `/api/organizations/${name}`, { token: admin.sessionToken })).status).toBe(204);
      else expect((await service.lockAccount(support, name)).status).toBe(200);
      held.release();
      const answer: ApiResponse = await exchange;
      expect(refusal(answer)).toBe(
        stop === 'delete' ? `400 The owner '${name}' of the matching trust policy no longer exists.` : `400 The organization '${name}' is locked by support.`,
      );
      const { resources: keys } = await container('apiKeys')
        .items.query({ query: 'SELECT * FROM c WHERE c.ownerName = @name', parameters: [{ name: '@name', value: name }] })
        .fetchAll();
      expect(keys.map((k) => [k.revokedAt !== null, k.revokedBecause])).toEqual([[true, stop === 'delete' ? 'owner_deleted' : 'account_locked']]);
    }
  });
});

describe('what an exchange costs', () => {
  it('naming the organization: at most 12 Cosmos DB requests, one query within its partition', async () => {
    const { collaborator, name } = await organization();
    const repository = newRepository();
    await service.addTrustedPublisher(collaborator, repository, { owner: name });
    await service.trustedPublishingKey(name, service.workflowToken(repository));
    service.cosmos.reset();
    await service.trustedPublishingKey(name, service.workflowToken(repository));
    // The rate limit, the name and its organization, its policies (the query and its plan), the spent token, the
    // policy's use, the organization's key list, the key, the look at the organization after it, the trail, the
    // look at the policy after it.
    expect(service.cosmos.documentRequests().length).toBeLessThanOrEqual(12);
    expect(service.cosmos.queries().map((line) => line.replace(/^POST \/dbs\/[^/]+/, ''))).toEqual(Array(2).fill('/colls/trustedPublishers/docs'));
  });

  it("naming its maker: at most 16, one query within the maker's partition and one point read of the policy", async () => {
    const { collaborator, name } = await organization();
    const repository = newRepository();
    await service.addTrustedPublisher(collaborator, repository, { owner: name });
    await service.trustedPublishingKey(collaborator.username, service.workflowToken(repository));
    service.cosmos.reset();
    await service.trustedPublishingKey(collaborator.username, service.workflowToken(repository));
    // As for a policy of its own, plus the policy read through its pointer, the organization (the membership, before
    // and after the key is made) and its trail.
    expect(service.cosmos.documentRequests().length).toBeLessThanOrEqual(16);
    expect(service.cosmos.queries().map((line) => line.replace(/^POST \/dbs\/[^/]+/, ''))).toEqual(Array(2).fill('/colls/trustedPublishers/docs'));
  });
});
