import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { PACKAGE_EMAIL_LIMITS } from '../lib/packages/rateLimits';
import { useTestService } from './support/service';
import type { Member } from './support/organizations';
import { ownerInvitationSubject } from './support/packages';

/** Owner invitations declined, withdrawn and limited, and "my packages" with the invitations sent and received. */
const service = useTestService();

const DAY_MS = 24 * 60 * 60 * 1000;
const newId = (stem = 'Own') => `${stem}${randomBytes(4).toString('hex')}.Lib`;
const outcome = (response: { status: number; body?: { code?: string } }) => `${response.status} ${response.body?.code ?? ''}`.trim();
const ownersOf = async (id: string) => (await service.getPackage(id)).body.owners;
const invite = (id: string, by: Member, username: string) =>
  service.call('POST', `/api/packages/${encodeURIComponent(id)}/owners`, { token: by.sessionToken, body: { username } });
const invitationEmails = (user: Member, id: string) => service.emailsTo(user.person.email).filter((e) => e.subject === ownerInvitationSubject(id));

async function ownedPackage(owner: Member, stem?: string): Promise<string> {
  const id = newId(stem);
  await service.pushOk(await service.createKey(owner), id, '1.0.0', 201);
  return id;
}

/** Invites `user` to own `id` and accepts as them. */
async function addOwner(id: string, by: Member, user: Member): Promise<void> {
  const token = await service.inviteOwner(id, by, user.username, user.person.email);
  expect(outcome(await service.acceptOwnership(id, user, token))).toBe('200');
}

const users = (count: number) => Promise.all(Array.from({ length: count }, () => service.confirmedUser()));

describe('declining an invitation to own a package', () => {
  it('by the invitee with its token: 204, and the token no longer works', async () => {
    const owner = await service.confirmedUser();
    const invitee = await service.confirmedUser();
    const id = await ownedPackage(owner);
    const token = await service.inviteOwner(id, owner, invitee.username, invitee.person.email);

    const declined = await service.rejectOwnership(id, invitee, token);
    expect(declined.status).toBe(204);
    expect(declined.text).toBe('');
    expect(outcome(await service.acceptOwnership(id, invitee, token))).toBe('400 invalid_token');
    expect(outcome(await service.rejectOwnership(id, invitee, token))).toBe('400 invalid_token');
    expect(await ownersOf(id)).toEqual([owner.username]);
    expect((await service.myPackages(owner)).invitations.sent).toEqual([]);
    expect((await service.myPackages(invitee)).invitations.received).toEqual([]);
    // It can be invited again, and accept then.
    await addOwner(id, owner, invitee);
    expect(await ownersOf(id)).toEqual([owner.username, invitee.username]);
  });

  it('by nobody else: a stranger, an owner, a collaborator of an invited organization get invalid_token', async () => {
    const owner = await service.confirmedUser();
    const [stranger, orgAdmin, collaborator] = await users(3);
    const organization = await service.confirmedOrganization(orgAdmin);
    await service.inviteAndAccept(organization.name, orgAdmin, collaborator);
    const id = await ownedPackage(owner);
    const token = await service.inviteOwner(id, owner, organization.name, organization.emailAddress);

    for (const who of [stranger, owner, collaborator]) expect(outcome(await service.rejectOwnership(id, who, token))).toBe('400 invalid_token');
    expect(outcome(await service.rejectOwnership(newId(), orgAdmin, token))).toBe('400 invalid_token');
    expect(outcome(await service.rejectOwnership(id, orgAdmin, 'A'.repeat(43)))).toBe('400 invalid_token');
    const recovery = await service.recoverySession(stranger);
    expect(outcome(await service.rejectOwnership(id, { sessionToken: recovery }, token))).toBe('403 microsoft_account_required');
    // The invitation is intact for the organization's admin.
    expect(outcome(await service.rejectOwnership(id, orgAdmin, token))).toBe('204');
  });

  it('is recorded for the invitee and in the trail of the organization that owns the package', async () => {
    const admin = await service.confirmedUser();
    const invitee = await service.confirmedUser();
    const organization = await service.createOrganization(admin);
    const id = newId('Org');
    await service.pushOk(await service.createKey(admin, { owner: organization.name }), id, '1.0.0', 201);
    const token = await service.inviteOwner(id, admin, invitee.username, invitee.person.email);
    expect(outcome(await service.rejectOwnership(id, invitee, token))).toBe('204');

    const own = (await service.call('GET', '/api/me/audit', { token: invitee.sessionToken })).body.events[0];
    expect(own).toMatchObject({ action: 'package_owner_invitation_rejected', details: { package: id, owner: invitee.username } });
    const trail = (await service.organizationAudit(organization.name, admin)).body.events;
    expect(trail.slice(0, 2).map((e: { action: string; actor: { username: string } }) => [e.action, e.actor.username])).toEqual([
      ['package_owner_invitation_rejected', invitee.username],
      ['package_owner_invited', admin.username],
    ]);
  });
});

describe('withdrawing an invitation', () => {
  it('by an owner: 204, and the invitee’s token no longer works', async () => {
    const owner = await service.confirmedUser();
    const invitee = await service.confirmedUser();
    const id = await ownedPackage(owner);
    const token = await service.inviteOwner(id, owner, invitee.username, invitee.person.email);

    const withdrawn = await service.withdrawOwnerInvitation(id, owner, invitee.username.toUpperCase());
    expect(withdrawn.status).toBe(204);
    expect(outcome(await service.acceptOwnership(id, invitee, token))).toBe('400 invalid_token');
    expect(outcome(await service.rejectOwnership(id, invitee, token))).toBe('400 invalid_token');
    expect(outcome(await service.withdrawOwnerInvitation(id, owner, invitee.username))).toBe('404 not_found');
    expect((await service.myPackages(invitee)).invitations.received).toEqual([]);
    expect(await ownersOf(id)).toEqual([owner.username]);
    expect((await service.call('GET', '/api/me/audit', { token: owner.sessionToken })).body.events[0]).toMatchObject({
      action: 'package_owner_invitation_withdrawn',
      details: { package: id, owner: invitee.username },
    });
  });

  it('by an admin of an owning organization; not by its collaborators, strangers, the invitee or a recovery session', async () => {
    const [admin, collaborator, stranger, invitee] = await users(4);
    const organization = await service.createOrganization(admin);
    await service.inviteAndAccept(organization.name, admin, collaborator);
    const id = newId('Org');
    await service.pushOk(await service.createKey(admin, { owner: organization.name }), id, '1.0.0', 201);
    const token = await service.inviteOwner(id, admin, invitee.username, invitee.person.email);

    for (const who of [collaborator, stranger, invitee]) {
      expect(outcome(await service.withdrawOwnerInvitation(id, who, invitee.username))).toBe('403 not_an_owner');
    }
    expect(outcome(await service.withdrawOwnerInvitation(newId(), admin, invitee.username))).toBe('404 not_found');
    expect(outcome(await service.withdrawOwnerInvitation(id, admin, stranger.username))).toBe('404 not_found');
    const withoutSession = await service.call('DELETE', `/api/packages/${id}/owners/invitations/${invitee.username}`);
    expect(withoutSession.status).toBe(401);
    const recovery = await service.recoverySession(collaborator);
    expect(outcome(await service.withdrawOwnerInvitation(id, { sessionToken: recovery }, invitee.username))).toBe('403 microsoft_account_required');

    expect(outcome(await service.withdrawOwnerInvitation(id, admin, invitee.username))).toBe('204');
    expect(outcome(await service.acceptOwnership(id, invitee, token))).toBe('400 invalid_token');
  });
});

describe('only an address its invitee confirmed is invited', () => {
  /** What a refused invitation must leave: no invitation waiting, none listed, none recorded, no email even once the outbox runs. */
  async function nothingSent(id: string, owner: Member, invitee: Pick<Member, 'sessionToken'>, address: string): Promise<void> {
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 2 * 60 * 1000));
    await service.host.runTimer('deliverPendingEmails');
    jest.restoreAllMocks();
    expect(service.emailsTo(address).filter((e) => e.subject === ownerInvitationSubject(id))).toEqual([]);
    expect((await service.getPackage(id)).body.pendingOwners).toEqual([]);
    expect((await service.myPackages(owner)).invitations.sent).toEqual([]);
    expect((await service.myPackages(invitee)).invitations.received).toEqual([]);
    const ownLog = (await service.call('GET', '/api/me/audit', { token: owner.sessionToken })).body.events;
    expect(ownLog.map((e: { action: string }) => e.action)).not.toContain('package_owner_invited');
  }

  it('an individual account that has not confirmed its address: 400 email_unconfirmed, nothing sent or stored; once it confirms, it is', async () => {
    const owner = await service.confirmedUser();
    const invitee = await service.unconfirmedUser();
    const id = await ownedPackage(owner);

    const refused = await invite(id, owner, invitee.username);
    expect(outcome(refused)).toBe('400 email_unconfirmed');
    expect(refused.body.detail).toContain(`'${invitee.username}' has not confirmed their email address`);
    await nothingSent(id, owner, invitee, invitee.person.email);

    await service.confirmRegistrationEmail(invitee);
    await addOwner(id, owner, invitee);
    expect(await ownersOf(id)).toEqual([owner.username, invitee.username]);
  });

  it('an organization whose address was never confirmed: 400 email_unconfirmed, nothing sent or stored; once its admins confirm it, it is', async () => {
    const [owner, orgAdmin] = await users(2);
    const organization = await service.createOrganization(orgAdmin);
    const id = await ownedPackage(owner);

    const refused = await invite(id, owner, organization.name);
    expect(outcome(refused)).toBe('400 email_unconfirmed');
    expect(refused.body.detail).toContain(`The organization '${organization.name}' has not confirmed its email address`);
    expect(refused.body.detail).toContain('Its admins confirm it');
    await nothingSent(id, owner, orgAdmin, organization.emailAddress);

    await service.confirmOrganizationEmail(organization);
    const token = await service.inviteOwner(id, owner, organization.name, organization.emailAddress);
    expect(outcome(await service.acceptOwnership(id, orgAdmin, token))).toBe('200');
    expect(await ownersOf(id)).toEqual([owner.username, organization.name]);
  });

  it('a refused invitation counts against neither the inviter’s limit nor the invitee’s', async () => {
    const { perCaller, perRecipient } = PACKAGE_EMAIL_LIMITS.ownerInvitation;
    const owner = await service.confirmedUser();
    const invitee = await service.unconfirmedUser();
    const id = await ownedPackage(owner);
    for (let i = 0; i < Math.max(perCaller.max, perRecipient.max) + 1; i++) {
      expect(outcome(await invite(id, owner, invitee.username))).toBe('400 email_unconfirmed');
    }
    await service.confirmRegistrationEmail(invitee);
    expect(outcome(await invite(id, owner, invitee.username))).toBe('202');
  });
});

describe('limits', () => {
  it('at most 3 invitations wait at once (409 owner_limit, and no email); inviting one again replaces it', async () => {
    const owner = await service.confirmedUser();
    const invitees = await users(5);
    const id = await ownedPackage(owner);
    for (const invitee of invitees.slice(0, 3)) expect(outcome(await invite(id, owner, invitee.username))).toBe('202');

    const fourth = await invite(id, owner, invitees[3].username);
    expect(outcome(fourth)).toBe('409 owner_limit');
    expect(fourth.body.detail).toContain('3');
    expect(outcome(await invite(id, owner, invitees[0].username))).toBe('202');

    // Withdrawn or expired invitations make room again.
    expect(outcome(await service.withdrawOwnerInvitation(id, owner, invitees[1].username))).toBe('204');
    expect(outcome(await invite(id, owner, invitees[3].username))).toBe('202');
    expect(outcome(await invite(id, owner, invitees[4].username))).toBe('409 owner_limit');
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 8 * DAY_MS));
    const later = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(owner.person) } });
    expect(outcome(await invite(id, { ...owner, sessionToken: later.body.sessionToken }, invitees[4].username))).toBe('202');
    jest.restoreAllMocks();

    await service.host.runTimer('deliverPendingEmails');
    expect(invitationEmails(invitees[3], id)).toHaveLength(1);
    expect(invitationEmails(invitees[0], id)).toHaveLength(2);
  });

  it('six invitations at once: exactly three wait, and only their invitees get an email, even after the outbox runs', async () => {
    const owner = await service.confirmedUser();
    const invitees = await users(6);
    const id = await ownedPackage(owner);
    const answers = await Promise.all(invitees.map((invitee) => invite(id, owner, invitee.username)));
    expect(answers.map(outcome).sort()).toEqual(['202', '202', '202', '409 owner_limit', '409 owner_limit', '409 owner_limit']);

    // The outbox would send a waiting email two minutes on; the refused ones must not be among them.
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 2 * 60 * 1000));
    await service.host.runTimer('deliverPendingEmails');
    jest.restoreAllMocks();
    const emailed = invitees.filter((invitee) => invitationEmails(invitee, id).length > 0);
    expect(emailed.map((i) => i.username).sort()).toEqual(invitees.filter((_, i) => answers[i].status === 202).map((i) => i.username).sort());
    expect((await service.myPackages(owner)).invitations.sent).toHaveLength(3);
  });

  it('at most 15 owners: a 16th can be neither invited nor accepted', async () => {
    const owner = await service.confirmedUser();
    const id = await ownedPackage(owner);
    const others = await users(15);
    for (const other of others.slice(0, 14)) await addOwner(id, owner, other);
    expect(await ownersOf(id)).toHaveLength(15);
    const refused = await invite(id, owner, others[14].username);
    expect(outcome(refused)).toBe('409 owner_limit');
    expect(refused.body.detail).toContain('15');
    // An owner leaves: there is room for one again.
    expect((await service.removeOwner(id, owner, others[0].username)).status).toBe(204);
    await addOwner(id, owner, others[14]);
    expect(await ownersOf(id)).toHaveLength(15);
  }, 60_000);

  it('two accepts racing for the 15th place: one gets it; the other’s invitation waits for a free place', async () => {
    const owner = await service.confirmedUser();
    const id = await ownedPackage(owner);
    for (const other of await users(13)) await addOwner(id, owner, other);
    const [first, second] = await users(2);
    const tokens = [
      await service.inviteOwner(id, owner, first.username, first.person.email),
      await service.inviteOwner(id, owner, second.username, second.person.email),
    ];
    const answers = await Promise.all([service.acceptOwnership(id, first, tokens[0]), service.acceptOwnership(id, second, tokens[1])]);
    expect(answers.map(outcome).sort()).toEqual(['200', '409 owner_limit']);
    const owners = await ownersOf(id);
    expect(owners).toHaveLength(15);
    const [winner, loser] = answers[0].status === 200 ? [first, second] : [second, first];
    expect(owners).toContain(winner.username);
    expect(owners).not.toContain(loser.username);
    // The loser owns nothing, not even in its list; its invitation still waits.
    expect((await service.myPackages(loser)).packages).toEqual([]);
    expect((await service.myPackages(loser)).invitations.received.map((i: { package: string }) => i.package)).toEqual([id]);
    expect((await service.removeOwner(id, owner, winner.username)).status).toBe(204);
    const loserToken = tokens[answers[0].status === 200 ? 1 : 0];
    expect(outcome(await service.acceptOwnership(id, loser, loserToken))).toBe('200');
    expect((await service.myPackages(loser)).packages).toEqual([{ id, owner: loser.username, listed: true }]);
  }, 60_000);
});

describe('an account deleted', () => {
  it('takes its invitations with it: those it sent no longer work, those to it are gone from the package', async () => {
    const [leaving, partner, invitee, other] = await users(4);
    const id = await ownedPackage(partner);
    await addOwner(id, partner, leaving);
    const sentByLeaving = await service.inviteOwner(id, leaving, invitee.username, invitee.person.email);
    const theirs = await ownedPackage(other);
    await service.inviteOwner(theirs, other, leaving.username, leaving.person.email);

    expect((await service.call('DELETE', '/api/me', { token: leaving.sessionToken, body: { confirmUsername: leaving.username } })).status).toBe(202);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 25 * 60 * 60 * 1000));
    await service.host.runTimer('processAccountDeletions');
    jest.restoreAllMocks();

    expect(outcome(await service.acceptOwnership(id, invitee, sentByLeaving))).toBe('400 invalid_token');
    expect((await service.myPackages(invitee)).invitations.received).toEqual([]);
    expect((await service.myPackages(partner)).invitations.sent).toEqual([]);
    expect((await service.myPackages(other)).invitations.sent).toEqual([]);
    // The package it was invited to can invite three others again.
    for (const someone of await users(3)) expect(outcome(await invite(theirs, other, someone.username))).toBe('202');
    expect(await ownersOf(id)).toEqual([partner.username]);
  });
});

describe('my packages', () => {
  it('lists what the caller owns directly and through its organizations, with the owning name', async () => {
    const [user, partner, orgAdmin, stranger] = await users(4);
    const organization = await service.confirmedOrganization(orgAdmin);
    await service.inviteAndAccept(organization.name, orgAdmin, user);
    const mine = await ownedPackage(user, 'Mine');
    const shared = await ownedPackage(partner, 'Shared');
    await addOwner(shared, partner, user);
    const orgPackage = newId('OrgOwned');
    await service.pushOk(await service.createKey(orgAdmin, { owner: organization.name }), orgPackage, '1.0.0', 201);
    const unlistKey = await service.createKey(user, { scopes: ['package:unlist'] });
    expect(outcome(await service.setListed(mine, '1.0.0', false, { key: unlistKey }))).toBe('204');
    // Owned by the user and by its organization at once: one entry for each owning name.
    const both = await ownedPackage(user, 'Both');
    const token = await service.inviteOwner(both, user, organization.name, organization.emailAddress);
    expect(outcome(await service.acceptOwnership(both, orgAdmin, token))).toBe('200');

    const listing = await service.myPackages(user);
    const expected = [
      { id: both, owner: organization.name, listed: true },
      { id: both, owner: user.username, listed: true },
      { id: mine, owner: user.username, listed: false },
      { id: orgPackage, owner: organization.name, listed: true },
      { id: shared, owner: user.username, listed: true },
    ].sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase()) || a.owner.toLowerCase().localeCompare(b.owner.toLowerCase()));
    expect(listing).toEqual({ packages: expected, invitations: { received: [], sent: [] } });
    expect((await service.myPackages(stranger)).packages).toEqual([]);

    // Leaving the organization takes its packages off the list at once.
    await service.removeMember(organization.name, user, user);
    expect((await service.myPackages(user)).packages.map((p: { owner: string }) => p.owner)).not.toContain(organization.name);
  });

  it('lists invitations received (its own, and its organizations’ where it is an admin) and sent', async () => {
    const [user, owner, orgAdmin, collaborator] = await users(4);
    const organization = await service.confirmedOrganization(orgAdmin);
    await service.inviteAndAccept(organization.name, orgAdmin, collaborator);
    await service.inviteAndAccept(organization.name, orgAdmin, user, 'admin');
    const theirs = await ownedPackage(owner, 'Theirs');
    const forOrg = await ownedPackage(owner, 'ForOrg');
    await service.inviteOwner(theirs, owner, user.username, user.person.email);
    await service.inviteOwner(forOrg, owner, organization.name, organization.emailAddress);
    const mine = await ownedPackage(user, 'Mine');
    await service.inviteOwner(mine, user, collaborator.username, collaborator.person.email);

    const listing = await service.myPackages(user);
    expect(listing.invitations.received).toEqual(
      expect.arrayContaining([
        { package: theirs, username: user.username, owner: owner.username, invitedBy: owner.username, invitedAt: expect.any(String), expiresAt: expect.any(String) },
        { package: forOrg, username: organization.name, owner: owner.username, invitedBy: owner.username, invitedAt: expect.any(String), expiresAt: expect.any(String) },
      ]),
    );
    expect(listing.invitations.received).toHaveLength(2);
    expect(listing.invitations.sent).toEqual([
      { package: mine, username: collaborator.username, owner: user.username, invitedBy: user.username, invitedAt: expect.any(String), expiresAt: expect.any(String) },
    ]);
    // The owner sees what it sent; a collaborator of the organization does not see the organization's invitations.
    expect((await service.myPackages(owner)).invitations.sent.map((i: { package: string }) => i.package).sort()).toEqual([forOrg, theirs].sort());
    expect((await service.myPackages(collaborator)).invitations.received.map((i: { package: string }) => i.package)).toEqual([mine]);
  });

  it('lists an organization’s invitations sent for it to each of its admins', async () => {
    const [admin, otherAdmin, invitee] = await users(3);
    const organization = await service.createOrganization(admin);
    await service.inviteAndAccept(organization.name, admin, otherAdmin, 'admin');
    const id = newId('Org');
    await service.pushOk(await service.createKey(admin, { owner: organization.name }), id, '1.0.0', 201);
    await service.inviteOwner(id, admin, invitee.username, invitee.person.email);
    for (const who of [admin, otherAdmin]) {
      expect((await service.myPackages(who)).invitations.sent).toEqual([
        { package: id, username: invitee.username, owner: organization.name, invitedBy: admin.username, invitedAt: expect.any(String), expiresAt: expect.any(String) },
      ]);
    }
  });

  it('drops invitations once answered, withdrawn or expired', async () => {
    const [owner, accepting, declining, withdrawn, expiring] = await users(5);
    const id = await ownedPackage(owner);
    const acceptToken = await service.inviteOwner(id, owner, accepting.username, accepting.person.email);
    const declineToken = await service.inviteOwner(id, owner, declining.username, declining.person.email);
    await service.inviteOwner(id, owner, withdrawn.username, withdrawn.person.email);
    expect((await service.myPackages(owner)).invitations.sent).toHaveLength(3);
    expect(outcome(await service.acceptOwnership(id, accepting, acceptToken))).toBe('200');
    expect(outcome(await service.rejectOwnership(id, declining, declineToken))).toBe('204');
    expect(outcome(await service.withdrawOwnerInvitation(id, owner, withdrawn.username))).toBe('204');
    expect((await service.myPackages(owner)).invitations.sent).toEqual([]);
    for (const who of [accepting, declining, withdrawn]) expect((await service.myPackages(who)).invitations.received).toEqual([]);

    await service.inviteOwner(id, owner, expiring.username, expiring.person.email);
    expect((await service.myPackages(expiring)).invitations.received).toHaveLength(1);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 8 * DAY_MS));
    const later = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(expiring.person) } });
    expect((await service.myPackages({ sessionToken: later.body.sessionToken })).invitations.received).toEqual([]);
  });

  it('costs single-partition queries and point reads only; needs a full session', async () => {
    const [user, orgAdmin] = await users(2);
    const organization = await service.createOrganization(orgAdmin);
    await service.inviteAndAccept(organization.name, orgAdmin, user, 'admin');
    await ownedPackage(user);
    service.cosmos.reset();
    await service.myPackages(user);
    // One query of each partition, ownerships and invitations of the user and of its organization, and one within
    // the versions of each package owned, whether any is listed (the SDK asks for each query's plan first, so each
    // is two requests).
    const queries = service.cosmos.queries().map((line) => line.replace(/^POST \/dbs\/[^/]+/, ''));
    expect(queries.filter((q) => q === '/colls/ownerships/docs')).toHaveLength(2 * 2);
    expect(queries.filter((q) => q === '/colls/ownerInvitations/docs')).toHaveLength(2 * 2);
    expect(queries.filter((q) => q === '/colls/packageVersions/docs')).toHaveLength(1 * 2);
    expect(queries).toHaveLength(10);
    const others = service.cosmos.documentRequests().filter((line) => !service.cosmos.queries().includes(line));
    expect(others.every((line) => line.startsWith('GET '))).toBe(true);

    expect((await service.call('GET', '/api/me/packages')).status).toBe(401);
    const recovery = await service.recoverySession(user);
    expect(outcome(await service.call('GET', '/api/me/packages', { token: recovery }))).toBe('403 microsoft_account_required');
  });
});
