import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { outcome, useTestService, type ApiResponse } from './support/service';
import type { CreatedOrganization, Member } from './support/organizations';
import type { CreatedApiKey } from './support/packages';
import { uniqueName } from './support/people';

/**
 * An organization stops a compromised member or itself, as its admins (or support) need to at once: an admin
 * revokes every key a member holds for it, or freezes it so none of its keys works and trusted publishing gives
 * it none, until it is unfrozen. And the keys it owns that near expiry are announced to every admin, since
 * they outlive whoever made them.
 */
const SITE_ADMIN = uniqueName('brake-support');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });

let registeredSiteAdmin: Promise<Member> | undefined;
/** The site admin who acts for support here, registered once. */
const siteAdmin = () => (registeredSiteAdmin ??= service.confirmedUser(undefined, SITE_ADMIN));

const newId = () => `Brake${randomBytes(4).toString('hex')}.Lib`;
const post = (by: Pick<Member, 'sessionToken'>, path: string, body?: unknown) =>
  service.call('POST', path, body === undefined ? { token: by.sessionToken } : { token: by.sessionToken, body });

const revokeKeys = (by: Member, organization: string, member: Pick<Member, 'username'>) =>
  post(by, `/api/organizations/${organization}/members/${member.username}/revoke-keys`);
const freeze = (by: Member, organization: string, reason = 'A member lost a laptop') => post(by, `/api/organizations/${organization}/freeze`, { reason });
const unfreeze = (by: Member, organization: string, body?: { reason?: string }) => post(by, `/api/organizations/${organization}/unfreeze`, body);
const freezeAsSupport = (by: Member, organization: string, reason = 'Malware published') =>
  post(by, `/api/site-admin/organizations/${organization}/freeze`, { reason });
const unfreezeAsSupport = (by: Member, organization: string, body?: { reason?: string }) => post(by, `/api/site-admin/organizations/${organization}/unfreeze`, body);

const viewOf = (by: Member, organization: string) => service.call('GET', `/api/organizations/${organization}`, { token: by.sessionToken });
const keysOf = async (member: Member) => (await service.call('GET', '/api/me/api-keys', { token: member.sessionToken })).body;

/** The trail of the organization, newest first, as a member reads it. */
async function trailOf(organization: string, by: Member) {
  const response = await service.organizationAudit(organization, by, '?pageSize=100');
  expect(response.status).toBe(200);
  return response.body.events as Array<{ action: string; actor: { username: string } | null; details: Record<string, string> }>;
}

/** An organization with two admins and two collaborators, every address confirmed. */
async function organizationWithMembers() {
  const [admin, otherAdmin, member, bystander] = await Promise.all(Array.from({ length: 4 }, () => service.confirmedUser()));
  const organization = await service.createOrganization(admin);
  await service.inviteAndAccept(organization.name, admin, otherAdmin, 'admin');
  await service.inviteAndAccept(organization.name, admin, member);
  await service.inviteAndAccept(organization.name, admin, bystander);
  return { organization, admin, otherAdmin, member, bystander };
}

/** Pushes a new version of `id` with `key` and answers the outcome: each call a version of its own. */
let versions = 0;
const pushWith = async (key: string | Pick<CreatedApiKey, 'key'>, id: string) => outcome(await service.push(key, id, `1.${(versions += 1)}.0`));

/** A trusted publishing policy `maker` made for `organization`, and a key a run of it got. */
async function trustedPublishingKeyFor(maker: Member, organization: CreatedOrganization) {
  const repository = service.github.repository(`${uniqueName('octo')}/${uniqueName('repo')}`);
  await service.addTrustedPublisher(maker, repository, { owner: organization.name });
  const key = await service.trustedPublishingKey(maker.username, service.workflowToken(repository));
  return { repository, key };
}

/** NuGet's token API's answer as NuGet/login shows it. */
const refusal = (response: ApiResponse) => `${response.status} ${response.body?.error ?? response.text}`;

describe("revoking a member's keys", () => {
  it("stops every key the member holds for the organization at once, trusted publishing's too, and nothing else", async () => {
    const { organization, admin, member } = await organizationWithMembers();
    const id = newId();
    const membersKey = await service.createKey(member, { owner: organization.name, description: 'release pipeline' });
    const membersOwnKey = await service.createKey(member);
    const adminsKey = await service.createKey(admin, { owner: organization.name });
    const { key: workflowKey } = await trustedPublishingKeyFor(member, organization);
    await service.pushOk(membersKey, id);

    expect(outcome(await revokeKeys(admin, organization.name, member))).toBe('204');

    expect(await pushWith(membersKey, id)).toBe('401 invalid_api_key');
    expect(await pushWith(workflowKey, id)).toBe('401 invalid_api_key');
    expect(await pushWith(membersOwnKey, newId())).toBe('201');
    expect(await pushWith(adminsKey, id)).toBe('200');
    // The member stays a member, and may make keys for it again.
    expect((await viewOf(member, organization.name)).status).toBe(200);
    expect((await keysOf(member)).map((key: { id: string }) => key.id)).toEqual([membersOwnKey.id]);

    const record = (await trailOf(organization.name, member)).find((event) => event.action === 'member_keys_revoked')!;
    expect(record).toMatchObject({ action: 'member_keys_revoked', actor: { username: admin.username }, details: { member: member.username, keysRevoked: '2' } });
    expect(record.details.keyIds.split(', ').sort()).toEqual([membersKey.id, workflowKey.split('.')[1]].sort());
  });

  it('tells the member and every admin, once each, whatever their preferences; nobody else', async () => {
    const { organization, admin, otherAdmin, member, bystander } = await organizationWithMembers();
    expect(outcome(await service.setNotifications(otherAdmin, { emailAllowed: false }))).toBe('200');
    expect(outcome(await service.setNotifications(member, { emailAllowed: false }))).toBe('200');
    const key = await service.createKey(member, { owner: organization.name, description: 'nightly' });
    const subject = `The API keys ${member.username} held for ${organization.name} were revoked`;

    expect(outcome(await revokeKeys(admin, organization.name, member))).toBe('204');
    await service.deliverNotices();
    await service.deliverNotices();
    for (const told of [admin, otherAdmin, member]) expect(service.noticesTo(told.person.email, subject)).toHaveLength(1);
    expect(service.noticesTo(bystander.person.email, subject)).toEqual([]);
    // One notice for them all: not the key's own "revoked" notice besides.
    expect(service.noticesTo(member.person.email, "API key 'nightly' revoked")).toEqual([]);
    const [email] = service.noticesTo(member.person.email, subject);
    expect(email.plainText).toContain(`${admin.username} revoked every API key ${member.username} held for the organization ${organization.name} at`);
    expect(email.plainText).toContain(`'nightly' (id ${key.id})`);
    expect(email.plainText).toContain(`This notice goes to every admin of ${organization.name} and to ${member.username}.`);
  });

  it('tells an admin revoking its own keys once; with nothing left to revoke, records it and tells nobody', async () => {
    const { organization, admin, otherAdmin } = await organizationWithMembers();
    await service.createKey(admin, { owner: organization.name });
    const subject = `The API keys ${admin.username} held for ${organization.name} were revoked`;
    expect(outcome(await revokeKeys(admin, organization.name, admin))).toBe('204');
    expect(outcome(await revokeKeys(otherAdmin, organization.name, admin))).toBe('204');
    await service.deliverNotices();
    expect(service.noticesTo(admin.person.email, subject)).toHaveLength(1);
    expect(service.noticesTo(otherAdmin.person.email, subject)).toHaveLength(1);
    const records = (await trailOf(organization.name, admin)).filter((event) => event.action === 'member_keys_revoked');
    expect(records.map((event) => [event.actor?.username, event.details.keysRevoked])).toEqual([
      [otherAdmin.username, '0'],
      [admin.username, '1'],
    ]);
  });

  it('is refused to collaborators, and is a 404 for outsiders, former members and someone who is no member', async () => {
    const { organization, admin, member, bystander } = await organizationWithMembers();
    const outsider = await service.confirmedUser();
    const key = await service.createKey(admin, { owner: organization.name });
    expect(outcome(await revokeKeys(member, organization.name, admin))).toBe('403 admin_required');
    expect(outcome(await revokeKeys(outsider, organization.name, admin))).toBe('404 not_found');
    await service.removeMember(organization.name, admin, bystander);
    expect(outcome(await revokeKeys(bystander, organization.name, admin))).toBe('404 not_found');
    expect(outcome(await revokeKeys(admin, organization.name, outsider))).toBe('404 not_found');
    expect(await pushWith(key, newId())).toBe('201');
  });
});

describe('freezing an organization', () => {
  it('stops every key it owns at once, whoever holds it, until an admin unfreezes it', async () => {
    const { organization, admin, member } = await organizationWithMembers();
    const id = newId();
    const adminsKey = await service.createKey(admin, { owner: organization.name });
    const membersKey = await service.createKey(member, { owner: organization.name });
    const membersOwnKey = await service.createKey(member);
    await service.pushOk(membersKey, id);

    const frozen = await freeze(admin, organization.name, 'Keys leaked from CI');
    expect(outcome(frozen)).toBe('200');
    const freezeView = { at: expect.any(String), by: admin.username, reason: 'Keys leaked from CI' };
    expect(frozen.body).toMatchObject({ name: organization.name, frozen: freezeView, pendingInvitations: [] });
    // Members see it too.
    expect((await viewOf(member, organization.name)).body.frozen).toEqual(freezeView);

    for (const key of [adminsKey, membersKey]) {
      const refused = await service.push(key, id, '9.0.0');
      expect(outcome(refused)).toBe('401 invalid_api_key');
      expect(refused.body.detail).toBe(
        `The API key is suspended: the organization '${organization.name}' it pushes for is frozen. It works again once an admin of '${organization.name}' unfreezes the organization.`,
      );
    }
    // The members' own keys and sessions are not the organization's.
    expect(await pushWith(membersOwnKey, newId())).toBe('201');
    expect(await keysOf(member)).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: membersKey.id, suspended: true }), expect.objectContaining({ id: membersOwnKey.id, suspended: false })]),
    );

    // Frozen again: the first freeze stands, recorded once.
    const again = await freeze(admin, organization.name, 'Another reason');
    expect(outcome(again)).toBe('200');
    expect(again.body.frozen).toEqual(frozen.body.frozen);

    const unfrozen = await unfreeze(admin, organization.name, { reason: 'New CI secrets are in place' });
    expect(outcome(unfrozen)).toBe('200');
    expect(unfrozen.body.frozen).toBeNull();
    expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    expect(await pushWith(adminsKey, id)).toBe('200');
    expect(await pushWith(membersKey, id)).toBe('200');

    const trail = (await trailOf(organization.name, member)).filter((event) => /^organization_(un)?frozen$/.test(event.action));
    expect(trail).toEqual([
      expect.objectContaining({ action: 'organization_unfrozen', actor: { username: admin.username }, details: { reason: 'New CI secrets are in place' } }),
      expect.objectContaining({ action: 'organization_frozen', actor: { username: admin.username }, details: { reason: 'Keys leaked from CI' } }),
    ]);
    expect((await service.securityLog(admin)).map((event) => event.action)).toEqual(expect.arrayContaining(['organization_frozen', 'organization_unfrozen']));
  });

  it('needs a reason of 1 to 500 characters to freeze; unfreezing takes one, an empty object, or no body', async () => {
    const { organization, admin } = await organizationWithMembers();
    for (const body of [undefined, {}, { reason: '' }, { reason: ' ' }, { reason: 'x'.repeat(501) }, { reason: 'ok', until: 'Monday' }]) {
      expect(outcome(await post(admin, `/api/organizations/${organization.name}/freeze`, body))).toBe('400 invalid_request');
    }
    expect((await viewOf(admin, organization.name)).body.frozen).toBeNull();
    for (const body of [undefined, {}, { reason: 'Cleared' }]) {
      expect(outcome(await freeze(admin, organization.name, 'x'.repeat(500)))).toBe('200');
      expect((await unfreeze(admin, organization.name, body)).body.frozen).toBeNull();
    }
  });

  it('refuses new keys for it and new secrets for its keys while it is frozen', async () => {
    const { organization, admin, member } = await organizationWithMembers();
    const key = await service.createKey(member, { owner: organization.name });
    expect(outcome(await freeze(admin, organization.name))).toBe('200');

    const made = await service.requestKey(member, { owner: organization.name });
    expect(outcome(made)).toBe('403 owner_not_allowed');
    expect(made.body.detail).toMatch(/frozen/);
    const regenerated = await post(member, `/api/me/api-keys/${key.id}/regenerate`);
    expect(outcome(regenerated)).toBe('403 owner_not_allowed');
    expect(regenerated.body.detail).toMatch(/^This key is suspended, so it cannot be regenerated: the organization '.*' it pushes for is frozen/);
    expect(await pushWith(key, newId())).toBe('401 invalid_api_key');
    // Keys for its members themselves are theirs to make.
    expect(outcome(await service.requestKey(member))).toBe('201');

    expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    expect(outcome(await service.requestKey(member, { owner: organization.name }))).toBe('201');
    expect(outcome(await post(member, `/api/me/api-keys/${key.id}/regenerate`))).toBe('200');
  });

  it('is refused to collaborators, and is a 404 for outsiders and former members', async () => {
    const { organization, admin, member, bystander } = await organizationWithMembers();
    const outsider = await service.confirmedUser();
    await service.removeMember(organization.name, admin, bystander);
    expect(outcome(await freeze(member, organization.name))).toBe('403 admin_required');
    expect(outcome(await freeze(outsider, organization.name))).toBe('404 not_found');
    expect(outcome(await freeze(bystander, organization.name))).toBe('404 not_found');
    expect(outcome(await freeze(admin, organization.name))).toBe('200');
    expect(outcome(await unfreeze(member, organization.name))).toBe('403 admin_required');
    expect(outcome(await unfreeze(outsider, organization.name))).toBe('404 not_found');
    expect((await viewOf(admin, organization.name)).body.frozen).not.toBeNull();
  });

  it("tells every admin, whatever their preferences, of the freeze and of the unfreeze, once each; collaborators not", async () => {
    const { organization, admin, otherAdmin, member } = await organizationWithMembers();
    expect(outcome(await service.setNotifications(otherAdmin, { emailAllowed: false }))).toBe('200');
    expect(outcome(await freeze(admin, organization.name, 'Suspicious <push>'))).toBe('200');
    expect(outcome(await freeze(admin, organization.name, 'Twice'))).toBe('200');
    expect(outcome(await unfreeze(otherAdmin, organization.name))).toBe('200');
    await service.deliverNotices();
    await service.deliverNotices();
    const frozenSubject = `The organization ${organization.name} is frozen`;
    const unfrozenSubject = `The organization ${organization.name} is no longer frozen`;
    for (const told of [admin, otherAdmin]) {
      expect(service.noticesTo(told.person.email, frozenSubject)).toHaveLength(1);
      expect(service.noticesTo(told.person.email, unfrozenSubject)).toHaveLength(1);
    }
    expect(service.noticesTo(member.person.email, /frozen/)).toEqual([]);
    const [frozen] = service.noticesTo(otherAdmin.person.email, frozenSubject);
    expect(frozen.plainText).toContain(`${admin.username} froze the organization ${organization.name} at`);
    expect(frozen.plainText).toContain('giving the reason: "Suspicious <push>"');
    expect(frozen.html).toContain('Suspicious &#60;push&#62;');
    const [unfrozen] = service.noticesTo(admin.person.email, unfrozenSubject);
    expect(unfrozen.plainText).toContain(`${otherAdmin.username} unfroze the organization ${organization.name} at`);
    expect(unfrozen.plainText).toContain('someone may have taken over an admin\'s account: freeze');
  });

  it("composes with support's lock: a key works again only once neither holds", async () => {
    const support = await siteAdmin();
    const { organization, admin, member } = await organizationWithMembers();
    const id = newId();
    const key = await service.createKey(member, { owner: organization.name });
    await service.pushOk(key, id);

    expect(outcome(await freeze(admin, organization.name))).toBe('200');
    expect(outcome(await service.lockAccount(support, organization.name))).toBe('200');
    expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    const stillLocked = await service.push(key, id, '2.0.0');
    expect(outcome(stillLocked)).toBe('401 invalid_api_key');
    expect(stillLocked.body.detail).toMatch(/locked by support\. Contact support\.$/);
    expect(outcome(await freeze(admin, organization.name))).toBe('200');
    expect(outcome(await service.unlockAccount(support, organization.name))).toBe('200');
    expect((await service.push(key, id, '2.0.0')).body.detail).toMatch(/is frozen/);

    // Its holder's lock and its owner's freeze, the same.
    expect(outcome(await service.lockAccount(support, member.username))).toBe('200');
    expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    expect(await pushWith(key, id)).toBe('401 invalid_api_key');
    expect(outcome(await service.unlockAccount(support, member.username))).toBe('200');
    expect(await pushWith(key, id)).toBe('200');
  });

  it('ends as the organization is when freezes and unfreezes cross', async () => {
    const { organization, admin, otherAdmin } = await organizationWithMembers();
    const keys = await Promise.all([0, 1, 2].map(() => service.createKey(admin, { owner: organization.name })));
    const id = newId();
    await service.pushOk(keys[0], id);
    for (let round = 0; round < 3; round += 1) {
      const answers = await Promise.all([freeze(admin, organization.name), unfreeze(otherAdmin, organization.name), freeze(otherAdmin, organization.name)]);
      expect(answers.map(outcome)).toEqual(['200', '200', '200']);
      const frozen = (await viewOf(admin, organization.name)).body.frozen !== null;
      for (const key of keys) expect(await pushWith(key, id)).toBe(frozen ? '401 invalid_api_key' : '200');
    }
  });
});

describe('a key made while the organization is being frozen', () => {
  const apiKeyCreate = /^POST \/dbs\/[^/]+\/colls\/apiKeys\/docs$/;

  it('never works, and its secret is never handed out', async () => {
    const { organization, admin, member } = await organizationWithMembers();
    const held = service.cosmos.holdNext(apiKeyCreate);
    const creating = service.requestKey(member, { owner: organization.name });
    await held.reached;
    expect(outcome(await freeze(admin, organization.name))).toBe('200');
    held.release();
    const created = await creating;
    expect(outcome(created)).toBe('403 owner_not_allowed');
    expect(created.body.key).toBeUndefined();
    expect(created.body.detail).toMatch(/is frozen/);

    // Not even once the freeze is lifted.
    expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    expect(await keysOf(member)).toEqual([]);
  });

  it('at the same moment as the freeze, never works: every key handed out is stopped', async () => {
    const { organization, admin, member } = await organizationWithMembers();
    const id = newId();
    await service.pushOk(await service.createKey(member, { owner: organization.name }), id);
    for (let round = 0; round < 3; round += 1) {
      const [frozen, ...made] = await Promise.all([
        freeze(admin, organization.name),
        ...Array.from({ length: 4 }, () => service.requestKey(member, { owner: organization.name })),
      ]);
      expect(outcome(frozen)).toBe('200');
      for (const answer of made) {
        expect(['201', '403 owner_not_allowed']).toContain(outcome(answer));
        if (answer.status === 201) expect(await pushWith(answer.body.key, id)).toBe('401 invalid_api_key');
      }
      expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    }
  });
});

describe('a freeze that stops halfway', () => {
  it('is finished by freezing again: the first freeze stands, recorded once, and no key works', async () => {
    const { organization, admin, member } = await organizationWithMembers();
    const id = newId();
    const keys = await Promise.all([0, 1, 2, 3].map(() => service.createKey(member, { owner: organization.name })));
    await service.pushOk(keys[0], id);

    // The store fails the write of the first key's suspension, every time it is tried.
    service.cosmos.failNext(new RegExp(`^PUT /dbs/[^/]+/colls/apiKeys/docs/${keys[1].id}$`), 500, 3);
    const stopped = await freeze(admin, organization.name, 'First report');
    expect(stopped.status).toBeGreaterThanOrEqual(500);
    service.cosmos.clearFaults();
    expect((await viewOf(admin, organization.name)).body.frozen).toMatchObject({ reason: 'First report' });
    expect(await pushWith(keys[1], id)).toBe('200');

    const again = await freeze(admin, organization.name, 'Second report');
    expect(outcome(again)).toBe('200');
    expect(again.body.frozen).toMatchObject({ reason: 'First report' });
    for (const key of keys) expect(await pushWith(key, id)).toBe('401 invalid_api_key');
    const records = (await trailOf(organization.name, admin)).filter((event) => event.action === 'organization_frozen');
    expect(records).toEqual([expect.objectContaining({ details: { reason: 'First report' } })]);
  });
});

/**
 * An exchange for the member's policy of the organization, naming the member or the organization itself, held just
 * before its key is written while an admin freezes the organization: it is refused, and no key is handed out.
 */
async function expectNoKeyAcrossFreeze(naming: 'member' | 'organization'): Promise<void> {
  const { organization, admin, member } = await organizationWithMembers();
  const { repository } = await trustedPublishingKeyFor(member, organization);
  const held = service.cosmos.holdNext(/^POST \/dbs\/[^/]+\/colls\/apiKeys\/docs$/);
  const exchange = service.exchangeToken(naming === 'member' ? member.username : organization.name, service.workflowToken(repository));
  await held.reached;
  expect(outcome(await freeze(admin, organization.name))).toBe('200');
  held.release();
  expect(refusal(await exchange)).toBe(`400 The organization '${organization.name}' is frozen: one of its admins must unfreeze it first.`);
}

describe('trusted publishing for a frozen organization', () => {
  it('is refused at the token exchange, telling the run why, and works again once unfrozen', async () => {
    const { organization, admin, member } = await organizationWithMembers();
    const { repository, key } = await trustedPublishingKeyFor(member, organization);
    expect(outcome(await freeze(admin, organization.name))).toBe('200');

    expect(refusal(await service.exchangeToken(member.username, service.workflowToken(repository)))).toBe(
      `400 The organization '${organization.name}' is frozen: one of its admins must unfreeze it first.`,
    );
    expect(await pushWith(key, newId())).toBe('401 invalid_api_key');
    // A new policy for it is refused meanwhile, as a new key is.
    expect(outcome(await service.requestTrustedPublisher(member, service.github.repository(`${uniqueName('octo')}/${uniqueName('repo')}`), { owner: organization.name }))).toBe(
      '403 owner_not_allowed',
    );

    expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    expect(await pushWith(key, newId())).toBe('201');
    expect((await service.exchangeToken(member.username, service.workflowToken(repository))).status).toBe(200);
  });

  it('gives no key to a run whose exchange crosses the freeze', () => expectNoKeyAcrossFreeze('member'));
});

describe('trusted publishing a frozen organization holds itself', () => {
  it('refuses a job that names the organization, stops the keys it holds itself, and works again once unfrozen', async () => {
    const { organization, admin, member } = await organizationWithMembers();
    const { repository } = await trustedPublishingKeyFor(member, organization);
    const ownKey = await service.trustedPublishingKey(organization.name, service.workflowToken(repository));
    expect(await pushWith(ownKey, newId())).toBe('201');
    expect(outcome(await freeze(admin, organization.name))).toBe('200');

    expect(refusal(await service.exchangeToken(organization.name, service.workflowToken(repository)))).toBe(
      `400 The organization '${organization.name}' is frozen: one of its admins must unfreeze it first.`,
    );
    expect(await pushWith(ownKey, newId())).toBe('401 invalid_api_key');

    expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    expect(await pushWith(ownKey, newId())).toBe('201');
    expect((await service.exchangeToken(organization.name, service.workflowToken(repository))).status).toBe(200);
  });

  it('gives no key the organization would hold to a job whose exchange crosses the freeze', () => expectNoKeyAcrossFreeze('organization'));
});

describe("support's freeze", () => {
  it('freezes and unfreezes an organization as its admins can, recorded in its trail with the site admin', async () => {
    const support = await siteAdmin();
    const { organization, admin, otherAdmin, member } = await organizationWithMembers();
    const key = await service.createKey(member, { owner: organization.name });

    const frozen = await freezeAsSupport(support, organization.name, 'Malware in 2.0.1 (case 4711)');
    expect(outcome(frozen)).toBe('200');
    expect(frozen.body).toMatchObject({ kind: 'organization', username: organization.name, frozen: { by: SITE_ADMIN, reason: 'Malware in 2.0.1 (case 4711)' } });
    expect((await service.lookUpAccount(support, organization.name)).body.frozen).toMatchObject({ by: SITE_ADMIN });
    expect((await viewOf(member, organization.name)).body.frozen).toMatchObject({ by: SITE_ADMIN });
    expect(await pushWith(key, newId())).toBe('401 invalid_api_key');

    await service.deliverNotices();
    for (const told of [admin, otherAdmin]) {
      const [email] = service.noticesTo(told.person.email, `The organization ${organization.name} is frozen`);
      expect(email.plainText).toContain(`Support (${SITE_ADMIN}) froze the organization ${organization.name} at`);
    }

    // One of its admins may lift it, as support may.
    expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    expect(await pushWith(key, newId())).toBe('201');
    expect(outcome(await freezeAsSupport(support, organization.name))).toBe('200');
    const unfrozen = await unfreezeAsSupport(support, organization.name, { reason: 'Cleaned up' });
    expect(outcome(unfrozen)).toBe('200');
    expect(unfrozen.body.frozen).toBeNull();

    const trail = (await trailOf(organization.name, member)).filter((event) => /^organization_(un)?frozen$/.test(event.action));
    expect(trail.map((event) => [event.action, event.actor?.username, event.details])).toEqual([
      ['organization_unfrozen', SITE_ADMIN, { siteAdmin: SITE_ADMIN, reason: 'Cleaned up' }],
      ['organization_frozen', SITE_ADMIN, { siteAdmin: SITE_ADMIN, reason: 'Malware published' }],
      ['organization_unfrozen', admin.username, {}],
      ['organization_frozen', SITE_ADMIN, { siteAdmin: SITE_ADMIN, reason: 'Malware in 2.0.1 (case 4711)' }],
    ]);
    expect(await service.securityLog(support)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'support_action', details: { action: 'organization_frozen', account: organization.name, reason: 'Malware in 2.0.1 (case 4711)' } }),
      ]),
    );
  });

  it('answers 404 for a name nobody holds and for an individual account, and 403 to anyone but a site admin', async () => {
    const support = await siteAdmin();
    const { organization, admin } = await organizationWithMembers();
    expect(outcome(await freezeAsSupport(support, uniqueName('nobody')))).toBe('404 not_found');
    expect(outcome(await freezeAsSupport(support, admin.username))).toBe('404 not_found');
    expect(outcome(await freezeAsSupport(admin, organization.name))).toBe('403 site_admin_required');
    expect(outcome(await unfreezeAsSupport(admin, organization.name))).toBe('403 site_admin_required');
  });
});

describe('what a freeze costs the hot paths', () => {
  /** Document requests, with the database's name left out. */
  const requests = () => service.cosmos.documentRequests().map((line) => line.replace(/^(\w+ )\/dbs\/[^/]+/, '$1'));

  it('leaves GET /api/me one point read for a member of a frozen organization', async () => {
    const { organization, admin, member } = await organizationWithMembers();
    expect(outcome(await freeze(admin, organization.name))).toBe('200');
    service.cosmos.reset();
    expect(outcome(await service.call('GET', '/api/me', { token: member.sessionToken }))).toBe('200');
    expect(requests()).toEqual([expect.stringMatching(/^GET \/colls\/accounts\/docs\/[^/]+$/)]);
  });

  it('leaves the push check one key read for a frozen key, and four requests for a key that works', async () => {
    const { organization, admin, member } = await organizationWithMembers();
    const key = await service.createKey(member, { owner: organization.name });
    const ownKey = await service.createKey(member);
    const id = newId();
    await service.pushOk(key, id);
    await service.pushOk(ownKey, `${id}.Own`);
    expect(outcome(await freeze(admin, organization.name))).toBe('200');

    service.cosmos.reset();
    expect(await pushWith(key, id)).toBe('401 invalid_api_key');
    expect(requests()).toEqual([`GET /colls/apiKeys/docs/${key.id}`]);

    service.cosmos.reset();
    expect(await pushWith(ownKey, `${id}.Own`)).toBe('200');
    expect(requests()).toHaveLength(4);

    expect(outcome(await unfreeze(admin, organization.name))).toBe('200');
    service.cosmos.reset();
    expect(await pushWith(key, id)).toBe('200');
    expect(requests().sort()).toEqual([
      `GET /colls/apiKeys/docs/${key.id}`,
      `GET /colls/packages/docs/${id.toLowerCase()}`,
      'POST /colls/audit/docs',
      'POST /colls/packageVersions/docs',
    ]);
    expect(service.cosmos.queries()).toEqual([]);
  });
});

describe("an organization's API keys near expiry", () => {
  const DAY_MS = 24 * 60 * 60 * 1000;

  it('are announced to their holder and to every admin, 7 days and 1 day before, once each; the holder once', async () => {
    const { organization, admin, otherAdmin, member, bystander } = await organizationWithMembers();
    expect(outcome(await service.setNotifications(otherAdmin, { emailAllowed: false }))).toBe('200');
    const madeAt = clock.now().getTime();
    const description = uniqueName('deploy');
    await service.createKey(member, { owner: organization.name, description, expiresInDays: 30 });
    const adminsDescription = uniqueName('admins');
    await service.createKey(admin, { owner: organization.name, description: adminsDescription, expiresInDays: 30 });

    const forAdmins = (within: string) => `An API key of ${organization.name} expires ${within}`;
    const timerRuns = async (days: number) => {
      jest.spyOn(clock, 'now').mockReturnValue(new Date(madeAt + days * DAY_MS));
      await service.host.runTimer('notifyExpiringApiKeys');
      await service.host.runTimer('notifyExpiringApiKeys');
      await service.deliverNotices();
      await service.deliverNotices();
    };
    await timerRuns(23.5);
    await timerRuns(29.5);

    const subjects = (told: Member) => service.noticesTo(told.person.email, /expires within/).map((email) => email.subject);
    expect(subjects(member).sort()).toEqual([
      `Your API key '${description}' expires within 7 days`,
      `Your API key '${description}' expires within a day`,
    ]);
    // An admin is told of the other key as an admin, of its own as its holder: once each.
    expect(subjects(admin).sort()).toEqual(
      [forAdmins('within 7 days'), forAdmins('within a day'), `Your API key '${adminsDescription}' expires within 7 days`, `Your API key '${adminsDescription}' expires within a day`].sort(),
    );
    expect(subjects(otherAdmin).sort()).toEqual([forAdmins('within 7 days'), forAdmins('within 7 days'), forAdmins('within a day'), forAdmins('within a day')].sort());
    expect(subjects(bystander)).toEqual([]);

    const [notice] = service.noticesTo(otherAdmin.person.email, forAdmins('within a day')).filter((email) => email.plainText.includes(description));
    expect(notice.plainText).toContain(`held by ${member.username}, expires within a day`);
    expect(notice.plainText).toContain(`You get this as an admin of ${organization.name}`);
  });
});
