import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { useTestService } from './support/service';
import type { Member } from './support/organizations';
import { uniqueName } from './support/people';
import { waitFor } from './support/waitFor';

let siteAdmin: Member;
const SITE_ADMIN = uniqueName('siteadmin');

const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN, ACCOUNT_DELETION_GRACE_PERIOD_HOURS: '24' } });

beforeAll(async () => {
  siteAdmin = await service.confirmedUser(undefined, SITE_ADMIN);
});

const HOUR = 60 * 60 * 1000;

function hoursLater(hours: number): void {
  jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + hours * HOUR));
}

const requestDeletion = (user: Member, confirmUsername = user.username) =>
  service.call('DELETE', '/api/me', { token: user.sessionToken, body: { confirmUsername } });

async function runDeletionTimer(): Promise<void> {
  await service.host.runTimer('processAccountDeletions');
}

const me = (user: Member) => service.call('GET', '/api/me', { token: user.sessionToken });

describe('asking for deletion', () => {
  it('needs the username typed back, then schedules it after the grace period', async () => {
    const user = await service.confirmedUser();
    const mismatch = await requestDeletion(user, user.username.toUpperCase());
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.code).toBe('confirmation_mismatch');

    const requested = await requestDeletion(user);
    expect(requested.status).toBe(202);
    const { requestedAt, scheduledFor } = requested.body.deletion;
    expect(Date.parse(scheduledFor) - Date.parse(requestedAt)).toBe(24 * HOUR);
    expect((await me(user)).body.deletion).toEqual({ requestedAt, scheduledFor });

    // Asking again keeps the first schedule; the account works as before meanwhile.
    expect((await requestDeletion(user)).body.deletion).toEqual({ requestedAt, scheduledFor });
    expect((await service.call('GET', '/api/me/api-keys', { token: user.sessionToken })).status).toBe(200);
  });

  it('can be cancelled before it is processed, and then nothing happens', async () => {
    const user = await service.confirmedUser();
    await requestDeletion(user);
    expect((await service.call('DELETE', '/api/me/deletion', { token: user.sessionToken })).status).toBe(204);
    expect((await me(user)).body.deletion).toBeNull();

    hoursLater(25);
    await runDeletionTimer();
    const signIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(user.person) } });
    expect(signIn.body.status).toBe('signed_in');
  });

  it('is not processed before the grace period has passed', async () => {
    const user = await service.confirmedUser();
    await requestDeletion(user);
    hoursLater(23);
    await runDeletionTimer();
    jest.restoreAllMocks();
    expect((await me(user)).status).toBe(200);
  });
});

describe('the deletion preview', () => {
  it('names the packages the account alone owns and the organizations it alone administers', async () => {
    const user = await service.confirmedUser();
    const partner = await service.confirmedUser();
    const key = await service.createKey(user);
    const alone = uniqueName('Alone.Lib');
    const shared = uniqueName('Shared.Lib');
    await service.pushOk(key, alone);
    await service.pushOk(key, shared);
    const token = await service.inviteOwner(shared, user, partner.username, partner.person.email);
    expect((await service.acceptOwnership(shared, partner, token)).status).toBe(200);

    const soleAdmin = await service.createOrganization(user);
    const coAdministered = await service.createOrganization(user);
    await service.inviteAndAccept(coAdministered.name, user, partner, 'admin');

    const preview = await service.call('GET', '/api/me/deletion-preview', { token: user.sessionToken });
    expect(preview.status).toBe(200);
    expect(preview.body).toEqual({ solelyOwnedPackages: [alone], organizationsSolelyAdministered: [soleAdmin.name] });
  });
});

describe('processing a deletion', () => {
  /** An account with something of every kind the FAQ lists, and the people around it. */
  async function accountWithEverything() {
    const user = await service.confirmedUser();
    const partner = await service.confirmedUser();
    const collaborator = await service.confirmedUser();
    const key = await service.createKey(user, { scopes: ['package:push', 'package:pushversion'] });
    const alone = uniqueName('Alone.Pkg');
    const shared = uniqueName('Shared.Pkg');
    await service.pushOk(key, alone);
    await service.pushOk(key, shared);
    const sharing = await service.inviteOwner(shared, user, partner.username, partner.person.email);
    expect((await service.acceptOwnership(shared, partner, sharing)).status).toBe(200);

    const prefix = `${uniqueName('Pre').replace(/-/g, '')}.`;
    expect((await service.reservePrefix(siteAdmin, prefix, [user.username, partner.username])).status).toBe(201);

    const solo = await service.createOrganization(user);
    const withCollaborator = await service.createOrganization(user);
    await service.inviteAndAccept(withCollaborator.name, user, collaborator, 'collaborator');
    const withOtherAdmin = await service.createOrganization(partner);
    await service.inviteAndAccept(withOtherAdmin.name, partner, user, 'admin');
    // Pending: an invitation to the account, one to co-own a package, and a transform that names it as the admin.
    const invitingOrg = await service.createOrganization(partner);
    await service.invite(invitingOrg.name, partner, user);
    const offered = uniqueName('Offered.Pkg');
    await service.pushOk(await service.createKey(partner), offered);
    await service.inviteOwner(offered, partner, user.username, user.person.email);
    const transforming = await service.confirmedUser();
    expect(
      (await service.call('POST', '/api/me/transform', { token: transforming.sessionToken, body: { adminUsername: user.username } })).status,
    ).toBe(202);
    return { user, partner, collaborator, key, alone, shared, offered, prefix, solo, withCollaborator, withOtherAdmin, invitingOrg, transforming };
  }

  it('does everything the FAQ lists, and the account is gone for good', async () => {
    const world = await accountWithEverything();
    const { user, partner, collaborator } = world;
    expect((await requestDeletion(user)).status).toBe(202);
    hoursLater(25);
    await runDeletionTimer();
    jest.restoreAllMocks();

    // Sessions and keys end; nothing signs in to it.
    expect((await me(user)).status).toBe(401);
    expect((await service.push(world.key, world.shared, '9.0.0')).body.code).toBe('invalid_api_key');
    const signIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(user.person) } });
    expect(signIn.body).toEqual({ status: 'registration_required', emailAddress: user.person.email });
    // Its keys' expiry entries go with them: the expiry timer has nothing left to warn it of.
    const { resources: expiries } = await container('apiKeyExpiries')
      .items.query({ query: 'SELECT * FROM c WHERE c.keyId = @id', parameters: [{ name: '@id', value: world.key.id }] })
      .fetchAll();
    expect(expiries).toEqual([]);

    // Packages: the one it owned alone is unlisted with no owner; the shared one keeps its other owner.
    expect((await service.getPackage(world.alone)).body).toMatchObject({ owners: [], listed: false });
    expect((await service.getPackage(world.shared)).body).toMatchObject({ owners: [partner.username], listed: true });

    // Prefix reservations no longer name it.
    const prefixes = (await service.call('GET', '/api/site-admin/prefixes', { token: siteAdmin.sessionToken })).body;
    expect(prefixes.find((p: { prefix: string }) => p.prefix === world.prefix).owners).toEqual([partner.username]);

    // Organizations: the one it alone belonged to is deleted, its name still reserved; a lone collaborator
    // became admin; the other admin's organization simply lost a member.
    expect((await service.createOrganization(partner, world.solo.name).catch((e: Error) => e.message))).toMatch(/409/);
    expect((await service.call('GET', `/api/organizations/${world.withCollaborator.name}`, { token: collaborator.sessionToken })).body.members).toEqual([
      { username: collaborator.username, role: 'admin' },
    ]);
    expect((await service.call('GET', `/api/organizations/${world.withOtherAdmin.name}`, { token: partner.sessionToken })).body.members).toEqual([
      { username: partner.username, role: 'admin' },
    ]);

    // Pending requests are gone.
    expect((await service.call('GET', `/api/organizations/${world.invitingOrg.name}`, { token: partner.sessionToken })).body.pendingInvitations).toEqual([]);
    const requesterId = (await me(world.transforming)).body.id;
    const { resource: requester } = await container('accounts').item(requesterId, requesterId).read();
    expect(requester.pendingTransform).toBeNull();
    const offeredId = world.offered.toLowerCase();
    expect((await container('packages').item(offeredId, offeredId).read()).resource.pendingOwners).toEqual([]);

    // The username stays reserved in every casing; the Microsoft account and address are free again.
    const again = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(user.person), username: user.username.toUpperCase() } });
    expect(again.body.code).toBe('username_unavailable');
    const fresh = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(user.person), username: uniqueName('reborn') } });
    expect(fresh.status).toBe(201);
    expect(fresh.body.account.emailAddress).toBe(user.person.email);

    // A confirmation went to the address before it was dropped; personal data is gone, one audit record stays.
    await waitFor(() => service.emailsTo(user.person.email).some((e) => e.subject === 'Your account has been deleted'));
    const accountId = await accountIdOf(user.username);
    const { resources: audit } = await container('audit')
      .items.query({ query: 'SELECT * FROM c WHERE c.accountId = @id', parameters: [{ name: '@id', value: accountId }] }, { partitionKey: accountId })
      .fetchAll();
    expect(audit.map((e: { action: string; clientAddress: string }) => [e.action, e.clientAddress])).toEqual([['account_deleted', 'system']]);
    const { resources: tokens } = await container('tokens')
      .items.query({ query: 'SELECT * FROM c WHERE c.accountId = @id OR c.subjectId = @id', parameters: [{ name: '@id', value: accountId }] })
      .fetchAll();
    expect(tokens).toEqual([]);
    const { resource: tombstone } = await container('accounts').item(accountId, accountId).read();
    expect(tombstone).toMatchObject({ username: user.username, emailAddress: '', microsoftAccount: null, organizations: [], deletedAt: expect.any(String) });
  });
});

async function accountIdOf(username: string): Promise<string> {
  const { resource } = await container('claims').item(`username:${username.toLowerCase()}`, `username:${username.toLowerCase()}`).read();
  return resource.accountId;
}
