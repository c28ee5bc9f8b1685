import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService } from './support/service';
import type { CreatedOrganization, Member } from './support/organizations';

/**
 * An invitation is only as good as its sender (the contract's Packages section): once the account that sent it
 * is no longer an owner (removed, deleted, or no longer an admin of the owning organization it sent it for), it
 * is withdrawn and its token is dead, whatever order the changes land in. `GET /api/packages/{id}` shows the
 * invitations that still stand.
 */
const service = useTestService();

const DAY_MS = 24 * 60 * 60 * 1000;
const newId = (stem = 'Sender') => `${stem}${randomBytes(4).toString('hex')}.Lib`;
const users = (count: number) => Promise.all(Array.from({ length: count }, () => service.confirmedUser()));
const pendingOwnersOf = async (id: string) => (await service.getPackage(id)).body.pendingOwners;
const pendingNames = async (id: string) => (await pendingOwnersOf(id)).map((p: { username: string }) => p.username);
const invite = (id: string, by: Member, username: string) =>
  service.call('POST', `/api/packages/${encodeURIComponent(id)}/owners`, { token: by.sessionToken, body: { username } });
const packagePath = (id: string) => `/colls/packages/docs/${id.toLowerCase().replace(/\./g, '\\.')}$`;
const withdrawnNotices = (user: Member, id: string) => service.noticesTo(user.person.email, `Invitation to own ${id} withdrawn`);

async function ownedPackage(owner: Member): Promise<string> {
  const id = newId();
  await service.pushOk(await service.createKey(owner), id, '1.0.0', 201);
  return id;
}

async function addOwner(id: string, by: Member, user: Member): Promise<void> {
  const token = await service.inviteOwner(id, by, user.username, user.person.email);
  expect(outcome(await service.acceptOwnership(id, user, token))).toBe('200');
}

/** An organization with two admins, owning a package its first admin pushed with an organization key. */
async function organizationPackage(): Promise<{ organization: CreatedOrganization; stays: Member; goes: Member; id: string }> {
  const [stays, goes] = await users(2);
  const organization = await service.createOrganization(stays);
  await service.inviteAndAccept(organization.name, stays, goes, 'admin');
  const id = newId('Org');
  await service.pushOk(await service.createKey(stays, { owner: organization.name }), id, '1.0.0', 201);
  return { organization, stays, goes, id };
}

/** The invitation is dead: neither accepted nor declined, and its invitee cannot push. */
async function expectDead(id: string, invitee: Member, token: string): Promise<void> {
  expect(outcome(await service.acceptOwnership(id, invitee, token))).toBe('400 invalid_token');
  expect(outcome(await service.rejectOwnership(id, invitee, token))).toBe('400 invalid_token');
  expect(outcome(await service.push(await service.createKey(invitee), id, '9.0.0'))).toBe('403 not_an_owner');
  expect((await service.getPackage(id)).body.owners).not.toContain(invitee.username);
  expect((await service.myPackages(invitee)).invitations.received).toEqual([]);
}

describe('GET /api/packages/{id}', () => {
  it('shows the invitations waiting, who sent each and when; not those answered, withdrawn or expired', async () => {
    const [owner, accepting, declining, withdrawn, expiring] = await users(5);
    const id = await ownedPackage(owner);
    const before = Date.now();
    const tokens = await Promise.all([accepting, declining].map((u) => service.inviteOwner(id, owner, u.username, u.person.email)));
    await service.inviteOwner(id, owner, withdrawn.username, withdrawn.person.email);
    const after = Date.now();

    const shown = await pendingOwnersOf(id);
    expect(shown.map((p: { username: string; invitedBy: string }) => [p.username, p.invitedBy]).sort()).toEqual(
      [accepting, declining, withdrawn].map((u) => [u.username, owner.username]).sort(),
    );
    for (const { invitedAt } of shown) expect(Date.parse(invitedAt)).toBeGreaterThanOrEqual(before - 1000);
    for (const { invitedAt } of shown) expect(Date.parse(invitedAt)).toBeLessThanOrEqual(after + 1000);

    expect(outcome(await service.acceptOwnership(id, accepting, tokens[0]))).toBe('200');
    expect(outcome(await service.rejectOwnership(id, declining, tokens[1]))).toBe('204');
    expect(outcome(await service.withdrawOwnerInvitation(id, owner, withdrawn.username))).toBe('204');
    expect(await pendingOwnersOf(id)).toEqual([]);

    await service.inviteOwner(id, owner, expiring.username, expiring.person.email);
    expect(await pendingNames(id)).toEqual([expiring.username]);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 8 * DAY_MS));
    expect(await pendingOwnersOf(id)).toEqual([]);
  });

  it('names the admin who sent one for an organization; costs point reads of the package and that organization', async () => {
    const { stays, id } = await organizationPackage();
    const invitee = await service.confirmedUser();
    await service.inviteOwner(id, stays, invitee.username, invitee.person.email);

    service.cosmos.reset();
    const view = (await service.getPackage(id)).body;
    expect(view.pendingOwners).toEqual([{ username: invitee.username, invitedBy: stays.username, invitedAt: expect.any(String) }]);
    const requests = service.cosmos.documentRequests();
    const reads = requests.filter((line) => line.startsWith('GET '));
    expect(reads.filter((line) => line.includes('/colls/packages/'))).toHaveLength(1);
    expect(reads.filter((line) => line.includes('/colls/accounts/'))).toHaveLength(1);
    expect(reads).toHaveLength(2);
    // Beside them, the versions' first page and their count: two queries within the package's versions (the SDK asks
    // for each query's plan first).
    expect(service.cosmos.queries().map((line) => line.replace(/^POST \/dbs\/[^/]+/, ''))).toEqual(Array(4).fill('/colls/packageVersions/docs'));
    expect(requests).toHaveLength(6);
  });
});

describe('an owner removed', () => {
  it('takes its invitations with it: its second account can neither accept nor push, the owners no longer see it, its place is free', async () => {
    const [owner, removed, secondAccount, ...others] = await users(6);
    const id = await ownedPackage(owner);
    await addOwner(id, owner, removed);
    const token = await service.inviteOwner(id, removed, secondAccount.username, secondAccount.person.email);
    for (const other of others.slice(0, 2)) expect(outcome(await invite(id, owner, other.username))).toBe('202');
    expect(await pendingNames(id)).toEqual([secondAccount.username, others[0].username, others[1].username]);
    expect(outcome(await invite(id, owner, others[2].username))).toBe('409 owner_limit');

    expect(outcome(await service.removeOwner(id, owner, removed.username))).toBe('204');

    await expectDead(id, secondAccount, token);
    expect(await pendingNames(id)).toEqual([others[0].username, others[1].username]);
    expect((await service.myPackages(owner)).invitations.sent.map((i: { username: string }) => i.username).sort()).toEqual(
      [others[0].username, others[1].username].sort(),
    );
    expect(outcome(await invite(id, owner, others[2].username))).toBe('202');
    expect((await service.getPackage(id)).body.owners).toEqual([owner.username]);
    // The account it went to is told, once; the owner's own invitations stand.
    await service.deliverNotices();
    const [notice, ...more] = withdrawnNotices(secondAccount, id);
    expect(more).toEqual([]);
    expect(notice.plainText).toContain(`The invitation ${removed.username} sent for ${secondAccount.username}`);
    expect(notice.plainText).toContain(`${removed.username} no longer manages the package`);
    expect(withdrawnNotices(others[0], id)).toEqual([]);
  });

  it('while an accept of its invitation is being written: the accept decides again on the package it writes', async () => {
    const [owner, removed, secondAccount] = await users(3);
    const id = await ownedPackage(owner);
    await addOwner(id, owner, removed);
    const token = await service.inviteOwner(id, removed, secondAccount.username, secondAccount.person.email);

    // The accept has found the invitation standing and is about to write the package when the sender goes.
    const held = service.cosmos.holdNext(new RegExp(`^PUT .*${packagePath(id)}`));
    const accepting = service.acceptOwnership(id, secondAccount, token);
    await held.reached;
    expect(outcome(await service.removeOwner(id, owner, removed.username))).toBe('204');
    held.release();

    expect(outcome(await accepting)).toBe('400 invalid_token');
    expect((await service.getPackage(id)).body).toMatchObject({ owners: [owner.username], pendingOwners: [] });
    expect((await service.myPackages(secondAccount)).packages).toEqual([]);
  });
});

describe('an organization admin who is no longer one', () => {
  const ways: Array<[string, (organization: string, stays: Member, goes: Member) => Promise<unknown>]> = [
    ['leaves', (organization, _stays, goes) => service.removeMember(organization, goes, goes)],
    ['is removed', (organization, stays, goes) => service.removeMember(organization, stays, goes)],
    [
      'is made a collaborator',
      async (organization, stays, goes) => {
        const path = `/api/organizations/${organization}/members/${goes.username}`;
        expect((await service.call('PUT', path, { token: stays.sessionToken, body: { role: 'collaborator' } })).status).toBe(204);
      },
    ],
  ];

  it.each(ways)('%s: the invitations it sent for the organization die; another admin’s, and its own as an owner, stand', async (_way, change) => {
    const { organization, stays, goes, id } = await organizationPackage();
    const [accomplice, friend, ownInvitee] = await users(3);
    const sentByGoes = await service.inviteOwner(id, goes, accomplice.username, accomplice.person.email);
    const sentByStays = await service.inviteOwner(id, stays, friend.username, friend.person.email);
    const own = await ownedPackage(goes);
    const sentForItself = await service.inviteOwner(own, goes, ownInvitee.username, ownInvitee.person.email);

    await change(organization.name, stays, goes);

    await expectDead(id, accomplice, sentByGoes);
    expect(await pendingOwnersOf(id)).toEqual([{ username: friend.username, invitedBy: stays.username, invitedAt: expect.any(String) }]);
    expect((await service.myPackages(stays)).invitations.sent.map((i: { username: string }) => i.username)).toEqual([friend.username]);
    await service.deliverNotices();
    expect(withdrawnNotices(accomplice, id)[0].plainText).toContain(`${goes.username} no longer manages the package`);
    expect(outcome(await service.acceptOwnership(id, friend, sentByStays))).toBe('200');
    expect(outcome(await service.acceptOwnership(own, ownInvitee, sentForItself))).toBe('200');
  });

  it('counts at once, before its invitations are withdrawn: the accept and the package view already treat them as dead', async () => {
    const { organization, stays, goes, id } = await organizationPackage();
    const accomplice = await service.confirmedUser();
    const token = await service.inviteOwner(id, goes, accomplice.username, accomplice.person.email);

    // The membership is gone from the organization; the withdrawal has not looked for the invitations yet.
    const held = service.cosmos.holdNext(/^POST .*\/colls\/ownerInvitations\/docs$/);
    const removal = service.removeMember(organization.name, stays, goes);
    await held.reached;
    expect(outcome(await service.acceptOwnership(id, accomplice, token))).toBe('400 invalid_token');
    expect(await pendingOwnersOf(id)).toEqual([]);
    held.release();
    await removal;

    await expectDead(id, accomplice, token);
  });

  it('removed while an accept of its invitation is being written: the accept loses', async () => {
    const { organization, stays, goes, id } = await organizationPackage();
    const accomplice = await service.confirmedUser();
    const token = await service.inviteOwner(id, goes, accomplice.username, accomplice.person.email);

    const held = service.cosmos.holdNext(new RegExp(`^PUT .*${packagePath(id)}`));
    const accepting = service.acceptOwnership(id, accomplice, token);
    await held.reached;
    await service.removeMember(organization.name, stays, goes);
    held.release();

    expect(outcome(await accepting)).toBe('400 invalid_token');
    expect((await service.getPackage(id)).body).toMatchObject({ owners: [organization.name], pendingOwners: [] });
  });
});

describe('a sender whose account is deleted', () => {
  it('takes the invitations it sent as an owner and as an organization’s admin with it; their invitees are told', async () => {
    const { stays, goes: leaving, id: orgPackage } = await organizationPackage();
    const [partner, forOrganization, forItself] = await users(3);
    const shared = await ownedPackage(partner);
    await addOwner(shared, partner, leaving);
    const orgToken = await service.inviteOwner(orgPackage, leaving, forOrganization.username, forOrganization.person.email);
    const ownToken = await service.inviteOwner(shared, leaving, forItself.username, forItself.person.email);

    expect((await service.call('DELETE', '/api/me', { token: leaving.sessionToken, body: { confirmUsername: leaving.username } })).status).toBe(202);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 25 * 60 * 60 * 1000));
    await service.host.runTimer('processAccountDeletions');
    await service.deliverNotices();
    jest.restoreAllMocks();

    await expectDead(orgPackage, forOrganization, orgToken);
    await expectDead(shared, forItself, ownToken);
    expect(await pendingOwnersOf(orgPackage)).toEqual([]);
    expect(await pendingOwnersOf(shared)).toEqual([]);
    expect((await service.myPackages(stays)).invitations.sent).toEqual([]);
    expect(withdrawnNotices(forOrganization, orgPackage)).toHaveLength(1);
    expect(withdrawnNotices(forItself, shared)).toHaveLength(1);
  });
});

describe('an invitation stored before invitations said who sent them', () => {
  it('counts as withdrawn: nobody can tell whether its sender still manages the package; it takes no place', async () => {
    const [owner, invitee, ...others] = await users(5);
    const id = await ownedPackage(owner);
    const token = await service.inviteOwner(id, owner, invitee.username, invitee.person.email);
    // As such an invitation was stored: without invitedAt, invitedBy and invitedFor.
    const item = container('packages').item(id.toLowerCase(), id.toLowerCase());
    const { resource: stored } = await item.read();
    const pendingOwners = stored.pendingOwners.map(({ accountId, username, tokenId, expiresAt }: Record<string, string>) => ({ accountId, username, tokenId, expiresAt }));
    await item.replace({ ...stored, pendingOwners });

    await expectDead(id, invitee, token);
    expect(await pendingOwnersOf(id)).toEqual([]);
    for (const other of others) expect(outcome(await invite(id, owner, other.username))).toBe('202');
  });
});
