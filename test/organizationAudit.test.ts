import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { useTestService } from './support/service';
import type { Member } from './support/organizations';
import { newPerson, uniqueName } from './support/people';
import { tokenIn, waitFor } from './support/waitFor';

/** An organization's audit trail: what its members did for it, and what was done to its packages, prefixes and membership. */
const SITE_ADMIN = uniqueName('siteadmin');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });

const newId = (stem = 'Trail') => `${stem}${randomBytes(4).toString('hex')}.Lib`;
const outcome = (response: { status: number; body?: { code?: string } }) => `${response.status} ${response.body?.code ?? ''}`.trim();

interface TrailEntry {
  at: string;
  action: string;
  actor: { username: string } | null;
  apiKey: { id: string; description: string } | null;
  details: Record<string, string>;
}

/**
 * Each step of a test's story a second after the last by the service's clock, so "newest first" has one
 * right answer (events in one millisecond would tie).
 */
let now = Date.now();
function nextSecond(): void {
  now = Math.max(now, Date.now()) + 1000;
  jest.spyOn(clock, 'now').mockReturnValue(new Date(now));
}

async function trailOf(organization: string, by: Member, query = ''): Promise<TrailEntry[]> {
  const response = await service.organizationAudit(organization, by, query);
  if (response.status !== 200) throw new Error(`reading the trail of ${organization} failed: ${response.status} ${response.text}`);
  return response.body.events;
}

/** The trail as `[action, actor, details]`, newest first. */
const story = (entries: TrailEntry[]) => entries.map((e) => [e.action, e.actor?.username ?? null, e.details]);

let siteAdmin: Member | undefined;
const theSiteAdmin = async () => (siteAdmin ??= await service.confirmedUser(newPerson(), SITE_ADMIN));

describe('the organization’s audit trail', () => {
  it('names the member and the key of every push, unlist and relist done for the organization, newest first', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, member);
    const memberKey = await service.createKey(member, { owner: name, scopes: ['package:push', 'package:unlist'], description: 'CI of the member' });
    const id = newId();

    nextSecond();
    await service.pushOk(memberKey, id, '1.0.0', 201);
    nextSecond();
    await service.pushOk(memberKey, id, '1.1.0', 200);
    nextSecond();
    expect(outcome(await service.setListed(id, '1.0.0', false, { key: memberKey }))).toBe('204');
    nextSecond();
    expect(outcome(await service.setListed(id, '1.0.0', true, admin))).toBe('204');
    // What a member does with its own keys for its own packages is not the organization's.
    nextSecond();
    await service.pushOk(await service.createKey(member), newId('Personal'), '1.0.0', 201);

    const trail = await trailOf(name, member);
    const key = { id: memberKey.id, description: 'CI of the member' };
    expect(trail.slice(0, 4).map(({ action, actor, apiKey, details }) => ({ action, actor, apiKey, details }))).toEqual([
      { action: 'package_relisted', actor: { username: admin.username }, apiKey: null, details: { package: id, version: '1.0.0' } },
      { action: 'package_unlisted', actor: { username: member.username }, apiKey: key, details: { package: id, version: '1.0.0' } },
      { action: 'package_pushed', actor: { username: member.username }, apiKey: key, details: { package: id, version: '1.1.0' } },
      { action: 'package_pushed', actor: { username: member.username }, apiKey: key, details: { package: id, version: '1.0.0' } },
    ]);
    for (const entry of trail) {
      expect(Object.keys(entry).sort()).toEqual(['action', 'actor', 'apiKey', 'at', 'details']);
      expect(entry.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const times = trail.map((e) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    // No client addresses, ids of accounts or storage fields.
    expect(JSON.stringify(trail)).not.toMatch(/127\.0\.0\.1|clientAddress|accountId|_etag|"trail"/);
  });

  it('records its membership changes: created, invited, joined, role changed, invitation declined and cancelled, removed, left', async () => {
    const [admin, member, leaver, decliner, cancelled] = await Promise.all(Array.from({ length: 5 }, () => service.confirmedUser()));
    nextSecond();
    const { name } = await service.createOrganization(admin);
    nextSecond();
    const token = await service.invite(name, admin, member, 'collaborator');
    nextSecond();
    expect((await service.acceptInvitation(name, member, token)).status).toBe(200);
    nextSecond();
    expect((await service.call('PUT', `/api/organizations/${name}/members/${member.username}`, { token: admin.sessionToken, body: { role: 'admin' } })).status).toBe(204);
    nextSecond();
    const leaverToken = await service.invite(name, member, leaver);
    nextSecond();
    expect((await service.acceptInvitation(name, leaver, leaverToken)).status).toBe(200);
    nextSecond();
    await service.removeMember(name, leaver, leaver);
    nextSecond();
    const declined = await service.invite(name, admin, decliner);
    nextSecond();
    expect((await service.call('POST', `/api/organizations/${name}/members/reject`, { token: decliner.sessionToken, body: { token: declined } })).status).toBeLessThan(300);
    nextSecond();
    await service.invite(name, admin, cancelled);
    nextSecond();
    expect((await service.call('DELETE', `/api/organizations/${name}/invitations/${cancelled.username}`, { token: admin.sessionToken })).status).toBe(204);
    nextSecond();
    await service.removeMember(name, admin, member);

    expect(story(await trailOf(name, admin))).toEqual([
      ['member_removed', admin.username, { member: member.username }],
      ['invitation_cancelled', admin.username, { member: cancelled.username }],
      ['member_invited', admin.username, { member: cancelled.username, role: 'collaborator' }],
      ['invitation_rejected', decliner.username, { member: decliner.username }],
      ['member_invited', admin.username, { member: decliner.username, role: 'collaborator' }],
      ['member_left', leaver.username, { member: leaver.username }],
      ['member_joined', leaver.username, { member: leaver.username, role: 'collaborator' }],
      ['member_invited', member.username, { member: leaver.username, role: 'collaborator' }],
      ['member_role_changed', admin.username, { member: member.username, role: 'admin' }],
      ['member_joined', member.username, { member: member.username, role: 'collaborator' }],
      ['member_invited', admin.username, { member: member.username, role: 'collaborator' }],
      ['organization_created', admin.username, { member: admin.username, role: 'admin' }],
    ]);
  });

  it('records changes of its packages’ owners, by whoever makes them', async () => {
    const [admin, partner, invitee] = await Promise.all(Array.from({ length: 3 }, () => service.confirmedUser()));
    const organization = await service.confirmedOrganization(admin);
    const id = newId();
    await service.pushOk(await service.createKey(partner), id, '1.0.0', 201);
    nextSecond();
    const token = await service.inviteOwner(id, partner, organization.name, organization.emailAddress);
    nextSecond();
    expect(outcome(await service.acceptOwnership(id, admin, token))).toBe('200');
    // The partner, not a member, changes the owners of a package the organization owns: the trail shows it.
    nextSecond();
    await service.inviteOwner(id, partner, invitee.username, invitee.person.email);
    nextSecond();
    expect(outcome(await service.withdrawOwnerInvitation(id, partner, invitee.username))).toBe('204');
    nextSecond();
    expect((await service.removeOwner(id, admin, partner.username)).status).toBe(204);

    const owners = (await trailOf(organization.name, admin)).filter((e) => e.action.startsWith('package_owner'));
    expect(story(owners)).toEqual([
      ['package_owner_removed', admin.username, { package: id, owner: partner.username }],
      ['package_owner_invitation_withdrawn', partner.username, { package: id, owner: invitee.username }],
      ['package_owner_invited', partner.username, { package: id, owner: invitee.username }],
      ['package_owner_added', admin.username, { package: id, owner: organization.name }],
      ['package_owner_invited', partner.username, { package: id, owner: organization.name }],
    ]);
  });

  it('records its prefixes reserved and released by a site admin, as the site admin’s own log does', async () => {
    const admin = await service.confirmedUser();
    const support = await theSiteAdmin();
    const { name } = await service.createOrganization(admin);
    const prefix = `Contoso${randomBytes(3).toString('hex')}.`;
    nextSecond();
    expect((await service.reservePrefix(support, prefix, [name])).status).toBe(201);
    nextSecond();
    const released = await service.releasePrefix(support, prefix);
    expect(released.status).toBe(204);

    expect(story((await trailOf(name, admin)).slice(0, 2))).toEqual([
      ['prefix_released', SITE_ADMIN, { prefix, siteAdmin: SITE_ADMIN }],
      ['prefix_reserved', SITE_ADMIN, { prefix, owners: name, siteAdmin: SITE_ADMIN }],
    ]);
    const own = (await service.call('GET', '/api/me/audit', { token: support.sessionToken })).body.events;
    expect(own.slice(0, 2).map((e: { action: string; details: Record<string, string> }) => [e.action, e.details])).toEqual([
      ['prefix_released', { prefix }],
      ['prefix_reserved', { prefix, owners: name }],
    ]);
  });

  it('records the keys made for it, by whom, and their edits and revocation', async () => {
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    nextSecond();
    const key = await service.createKey(admin, { owner: name, description: 'release pipeline' });
    nextSecond();
    expect((await service.editKey(admin, key.id, { description: 'release pipeline (main)' })).status).toBe(200);
    nextSecond();
    expect((await service.call('DELETE', `/api/me/api-keys/${key.id}`, { token: admin.sessionToken })).status).toBe(204);
    const keys = (await trailOf(name, admin)).filter((e) => e.action.startsWith('api_key'));
    expect(keys.map(({ action, actor, apiKey }) => [action, actor?.username, apiKey])).toEqual([
      ['api_key_revoked', admin.username, { id: key.id, description: 'release pipeline (main)' }],
      ['api_key_edited', admin.username, { id: key.id, description: 'release pipeline (main)' }],
      ['api_key_created', admin.username, { id: key.id, description: 'release pipeline' }],
    ]);
  });

  it('keeps what a member did after it leaves, and after its account is deleted', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, member);
    const id = newId();
    nextSecond();
    await service.pushOk(await service.createKey(member, { owner: name }), id, '1.0.0', 201);
    nextSecond();
    await service.removeMember(name, member, member);
    expect((await service.call('DELETE', '/api/me', { token: member.sessionToken, body: { confirmUsername: member.username } })).status).toBe(202);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 25 * 60 * 60 * 1000));
    await service.host.runTimer('processAccountDeletions');
    jest.restoreAllMocks();

    const trail = await trailOf(name, admin);
    expect(trail.find((e) => e.action === 'package_pushed')).toMatchObject({ actor: { username: member.username }, details: { package: id, version: '1.0.0' } });
    expect(trail.find((e) => e.action === 'member_left')).toMatchObject({ actor: { username: member.username } });
  });

  it('records an account deleted while a member, and the collaborators it leaves made admins', async () => {
    const admin = await service.confirmedUser();
    const collaborator = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, collaborator);
    expect((await service.call('DELETE', '/api/me', { token: admin.sessionToken, body: { confirmUsername: admin.username } })).status).toBe(202);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 25 * 60 * 60 * 1000));
    await service.host.runTimer('processAccountDeletions');
    // Run again: nothing is recorded twice.
    await service.host.runTimer('processAccountDeletions');
    jest.restoreAllMocks();
    const trail = await trailOf(name, collaborator);
    expect(story(trail.filter((e) => e.details.reason === 'account_deleted'))).toEqual(
      expect.arrayContaining([
        ['member_left', admin.username, { member: admin.username, reason: 'account_deleted' }],
        ['member_role_changed', admin.username, { member: collaborator.username, role: 'admin', reason: 'account_deleted' }],
      ]),
    );
    expect(trail.filter((e) => e.details.reason === 'account_deleted')).toHaveLength(2);
  });

  it('of an account turned into an organization shows none of the account’s own security log', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    await service.pushOk(await service.createKey(account), newId('Before'), '1.0.0', 201);
    const seen = service.emailCount(admin.person.email);
    expect((await service.call('POST', '/api/me/transform', { token: account.sessionToken, body: { adminUsername: admin.username } })).status).toBe(202);
    const email = await service.nextEmailTo(admin.person.email, /administer/, seen);
    expect((await service.call('POST', '/api/organizations/transform/accept', { token: admin.sessionToken, body: { token: tokenIn(email.links[0]) } })).status).toBeLessThan(300);

    const trail = await trailOf(account.username, admin);
    const actions = trail.map((e) => e.action);
    expect(actions).toContain('transform_accepted');
    // Its packages' history carries over; its sign-ins and email changes stay its own.
    expect(actions).toContain('package_pushed');
    expect(actions).not.toEqual(expect.arrayContaining(['signed_in']));
    expect(actions).not.toEqual(expect.arrayContaining(['account_registered']));
    expect(JSON.stringify(trail)).not.toMatch(/127\.0\.0\.1/);
  });
});

describe('who may read the trail', () => {
  it('members, collaborators too; an outsider, a former member and a name nobody has get the same 404', async () => {
    const [admin, collaborator, outsider, former] = await Promise.all(Array.from({ length: 4 }, () => service.confirmedUser()));
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, collaborator);
    await service.inviteAndAccept(name, admin, former);
    expect((await service.organizationAudit(name, collaborator)).status).toBe(200);
    expect((await service.organizationAudit(name, former)).status).toBe(200);
    await service.removeMember(name, admin, former);

    const notFound = (await service.organizationAudit(uniqueName('nobody'), outsider)).body;
    for (const [who, response] of [
      ['outsider', await service.organizationAudit(name, outsider)],
      ['former member', await service.organizationAudit(name, former)],
      ['an individual account’s name', await service.organizationAudit(admin.username, outsider)],
    ] as const) {
      expect(`${who}: ${outcome(response)}`).toBe(`${who}: 404 not_found`);
      expect(response.body.detail.replace(/'[^']*'/, "''")).toBe(notFound.detail.replace(/'[^']*'/, "''"));
    }
    expect((await service.call('GET', `/api/organizations/${name}/audit`)).status).toBe(401);
    const recovery = await service.recoverySession(collaborator);
    expect(outcome(await service.call('GET', `/api/organizations/${name}/audit`, { token: recovery }))).toBe('403 microsoft_account_required');
  });

  it('pages with pageSize and continuationToken through every entry once; a token works for its own trail only', async () => {
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const other = await service.createOrganization(admin);
    const key = await service.createKey(admin, { owner: name });
    const id = newId();
    await service.pushOk(key, id, '1.0.0', 201);
    for (let i = 1; i <= 6; i += 1) {
      nextSecond();
      await service.pushOk(key, id, `1.0.${i}`, 200);
    }
    const everything = await trailOf(name, admin, '?pageSize=100');
    const seen: TrailEntry[] = [];
    let continuationToken: string | null = null;
    let pages = 0;
    do {
      const query: string = `?pageSize=3${continuationToken ? `&continuationToken=${encodeURIComponent(continuationToken)}` : ''}`;
      const response = await service.organizationAudit(name, admin, query);
      expect(response.status).toBe(200);
      expect(response.body.events.length).toBeLessThanOrEqual(3);
      seen.push(...response.body.events);
      continuationToken = response.body.continuationToken;
      pages += 1;
    } while (continuationToken);
    expect(seen).toEqual(everything);
    expect(pages).toBeGreaterThanOrEqual(3);

    const first = await service.organizationAudit(name, admin, '?pageSize=2');
    const token = encodeURIComponent(first.body.continuationToken);
    const elsewhere = await service.organizationAudit(other.name, admin, `?pageSize=2&continuationToken=${token}`);
    expect(outcome(elsewhere)).toBe('400 invalid_request');
    expect(elsewhere.body.detail).toContain("'continuationToken'");
    const ownLog = await service.call('GET', `/api/me/audit?pageSize=2&continuationToken=${token}`, { token: admin.sessionToken });
    expect(outcome(ownLog)).toBe('400 invalid_request');
    for (const query of ['?pageSize=0', '?pageSize=101', '?pageSize=x', '?continuationToken=forged', '?other=1']) {
      const response = await service.organizationAudit(name, admin, query);
      expect(`${query}: ${outcome(response)}`).toBe(`${query}: 400 invalid_request`);
    }
  });
});

describe('a push for an account’s own package', () => {
  it('is recorded in its own security log with the key and the client address', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner, { description: 'laptop' });
    const id = newId('Own');
    await service.pushOk(key, id, '1.0.0', 201);
    const [event] = (await service.call('GET', '/api/me/audit', { token: owner.sessionToken })).body.events;
    expect(event).toEqual({
      at: expect.any(String),
      action: 'package_pushed',
      clientAddress: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/),
      details: { package: id, version: '1.0.0', keyId: key.id, keyDescription: 'laptop' },
    });
  });

  it('refused is not recorded anywhere', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = newId('Own');
    await service.pushOk(key, id, '1.0.0', 201);
    const stranger = await service.confirmedUser();
    expect(outcome(await service.push(await service.createKey(stranger), id, '2.0.0'))).toBe('403 not_an_owner');
    expect(outcome(await service.push(key, id, '1.0.0'))).toBe('409 package_version_exists');
    const pushes = async (user: Member) =>
      (await service.call('GET', '/api/me/audit', { token: user.sessionToken })).body.events.filter((e: { action: string }) => e.action === 'package_pushed');
    expect(await pushes(owner)).toHaveLength(1);
    expect(await pushes(stranger)).toHaveLength(0);
  });

  it('that wrote its record first but lost the version’s write leaves the winner’s record, not its own', async () => {
    const owner = await service.confirmedUser();
    const [first, second] = [await service.createKey(owner, { description: 'first' }), await service.createKey(owner, { description: 'second' })];
    const id = newId('Race');
    await service.pushOk(first, id, '1.0.0', 201);
    // The first push has written its record and read the package; its version's write waits.
    const held = service.cosmos.holdNext(/^POST .*\/colls\/packageVersions\/docs$/);
    service.cosmos.reset();
    const losing = service.push(first, id, '2.0.0');
    await held.reached;
    await waitFor(() => service.cosmos.documentRequests().some((line) => /^POST .*\/colls\/audit\/docs$/.test(line)), { what: 'the first record' });
    // The second finds the record there, and wins the version.
    expect(outcome(await service.push(second, id, '2.0'))).toBe('200');
    held.release();
    expect(outcome(await losing)).toBe('409 package_version_exists');
    const records = (await service.call('GET', '/api/me/audit', { token: owner.sessionToken })).body.events.filter(
      (e: { action: string; details: Record<string, string> }) => e.action === 'package_pushed' && e.details.version === '2.0.0',
    );
    expect(records.map((e: { details: Record<string, string> }) => e.details.keyDescription)).toEqual(['second']);
  });

  it('that loses a race for its version takes back its record; the winner’s stays', async () => {
    const owner = await service.confirmedUser();
    const [first, second] = [await service.createKey(owner, { description: 'first' }), await service.createKey(owner, { description: 'second' })];
    for (let round = 0; round < 4; round += 1) {
      const id = newId('Race');
      await service.pushOk(first, id, '1.0.0', 201);
      const answers = await Promise.all([service.push(first, id, '2.0.0'), service.push(second, id, '2.0')]);
      expect(answers.map(outcome).sort()).toEqual(['200', '409 package_version_exists']);
      const winner = answers[0].status === 200 ? 'first' : 'second';
      const records = (await service.call('GET', '/api/me/audit?pageSize=100', { token: owner.sessionToken })).body.events.filter(
        (e: { action: string; details: Record<string, string> }) => e.action === 'package_pushed' && e.details.package === id && e.details.version === '2.0.0',
      );
      expect(records.map((e: { details: Record<string, string> }) => e.details.keyDescription)).toEqual([winner]);
    }
  });
});
