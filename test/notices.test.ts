import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService } from './support/service';
import type { CreatedOrganization, Member } from './support/organizations';
import { newPerson, uniqueName } from './support/people';

/**
 * The account is told of every change to its security and its packages (the contract's Email section): each
 * notice once, to the right people, saying what happened, when, by whom, and what to do if it was not them;
 * the preferences stop exactly what they should.
 */
const SITE_ADMIN = uniqueName('siteadmin');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });

/** The site admin, registered by the first test that needs it. */
let siteAdminRegistered: Promise<Member> | undefined;
const siteAdmin = () => (siteAdminRegistered ??= service.confirmedUser(newPerson(), SITE_ADMIN));

const newId = (stem = 'Notice') => `${stem}${randomBytes(4).toString('hex')}.Lib`;
const users = (count: number) => Promise.all(Array.from({ length: count }, () => service.confirmedUser()));
const WHEN = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/;

/** The notices to `member` with this subject. */
const to = (member: Pick<Member, 'person'> | { emailAddress: string }, subject: string | RegExp) =>
  service.noticesTo('person' in member ? member.person.email : member.emailAddress, subject);

async function ownedPackage(owner: Member, id = newId()): Promise<string> {
  await service.pushOk(await service.createKey(owner, { description: 'setup key' }), id, '1.0.0', 201);
  return id;
}

async function addOwner(id: string, by: Member, owner: Member | CreatedOrganization, acceptedBy: Member = owner as Member): Promise<void> {
  const [username, address] = 'person' in owner ? [owner.username, owner.person.email] : [owner.name, owner.emailAddress];
  const token = await service.inviteOwner(id, by, username, address);
  expect(outcome(await service.acceptOwnership(id, acceptedBy, token))).toBe('200');
}

/** `member` asks to be deleted; a day later the deletion timer processes it, and the notices go out. */
async function deletedByTheTimer(member: Member): Promise<void> {
  expect((await service.call('DELETE', '/api/me', { token: member.sessionToken, body: { confirmUsername: member.username } })).status).toBe(202);
  jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 25 * 60 * 60 * 1000));
  await service.host.runTimer('processAccountDeletions');
  await service.host.runTimer('processAccountDeletions');
  await service.deliverNotices();
  jest.restoreAllMocks();
}

/** An organization with `admins` (the first made it) and `collaborators`, its address confirmed (so that it may be invited to own packages). */
async function organizationOf(admins: Member[], collaborators: Member[] = []): Promise<CreatedOrganization> {
  const organization = await service.confirmedOrganization(admins[0]);
  for (const admin of admins.slice(1)) await service.inviteAndAccept(organization.name, admins[0], admin, 'admin');
  for (const collaborator of collaborators) await service.inviteAndAccept(organization.name, admins[0], collaborator, 'collaborator');
  return organization;
}

describe('security notices about the account itself', () => {
  it('tell the holder of an API key it was created, regenerated, changed and revoked: once each, straight away', async () => {
    const user = await service.confirmedUser();
    const key = await service.createKey(user, { description: 'CI for <Contoso> & co', packageGlobs: ['Contoso.*'], expiresInDays: 90 });

    const [created] = to(user, "API key 'CI for <Contoso> & co' created");
    expect(created.plainText).toContain(`The API key 'CI for <Contoso> & co' (id ${key.id}, pushing for ${user.username}) was created for your account at`);
    expect(created.plainText).toMatch(WHEN);
    expect(created.plainText).toContain('from the address 127.0.0.1');
    expect(created.plainText).toContain('package:push for packages matching Contoso.*');
    expect(created.plainText).toContain('If you did not create it, revoke it at once on the API keys page (https://gallery.example/account/api-keys)');
    // What the person typed is text in the HTML part, never markup.
    expect(created.html).toContain('CI for &#60;Contoso&#62; &#38; co');
    expect(created.html).not.toContain('<Contoso>');

    expect(outcome(await service.call('POST', `/api/me/api-keys/${key.id}/regenerate`, { token: user.sessionToken }))).toBe('200');
    expect(to(user, "API key 'CI for <Contoso> & co' regenerated")).toHaveLength(1);
    expect(to(user, /regenerated/)[0].plainText).toContain('Its old secret no longer works');

    expect(outcome(await service.editKey(user, key.id, { description: 'Release pipeline', packageGlobs: ['Contoso.Core'] }))).toBe('200');
    const [edited] = to(user, "API key 'Release pipeline' changed");
    expect(edited.plainText).toContain("its description is now 'Release pipeline', and it now covers packages matching Contoso.Core");

    expect(outcome(await service.call('DELETE', `/api/me/api-keys/${key.id}`, { token: user.sessionToken }))).toBe('204');
    const [revoked] = to(user, "API key 'Release pipeline' revoked");
    expect(revoked.plainText).toContain('It no longer works for anyone.');
    expect(revoked.plainText).toContain('If you did not revoke it, someone else can sign in to your account');

    // Nothing more arrives later: each went once, by the request.
    await service.deliverNotices();
    expect(to(user, /^API key /).map((email) => email.subject)).toEqual([
      "API key 'CI for <Contoso> & co' created",
      "API key 'CI for <Contoso> & co' regenerated",
      "API key 'Release pipeline' changed",
      "API key 'Release pipeline' revoked",
    ]);
  });

  it('tell nobody of a key change that was refused', async () => {
    const [user, stranger] = await users(2);
    const organization = await service.createOrganization(stranger);
    expect(outcome(await service.requestKey(user, { owner: organization.name }))).toBe('403 owner_not_allowed');
    const key = await service.createKey(user, { description: 'mine' });
    expect(outcome(await service.call('DELETE', `/api/me/api-keys/${key.id}`, { token: stranger.sessionToken }))).toBe('404 not_found');
    await service.deliverNotices();
    expect(to(user, /^API key /).map((email) => email.subject)).toEqual(["API key 'mine' created"]);
    expect(to(stranger, /^API key /)).toEqual([]);
  });

  it('tell of a new Microsoft account, and of a password set by the recovery flow', async () => {
    const user = await service.confirmedUser();
    const replacement = newPerson({ name: 'Ada Work' });
    const linked = await service.call('PUT', '/api/me/microsoft-account', { token: user.sessionToken, body: { idToken: service.idTokenFor(replacement) } });
    expect(linked.status).toBe(200);
    const [notice] = to(user, 'A Microsoft account was linked to your account');
    expect(notice.plainText).toContain(`The Microsoft account Ada Work <${replacement.email}> was linked to your package gallery account at`);
    expect(notice.plainText).toContain('The Microsoft account linked before no longer signs in.');
    expect(notice.plainText).toContain('If this was not you, someone else now signs in to your account: contact support at once');

    // Lost it: a password by email, then a Microsoft account linked with the recovery session.
    const recovery = await service.recoverySession({ person: user.person, username: user.username });
    const [password] = to(user, 'A password was set for your account');
    expect(password.plainText).toMatch(WHEN);
    expect(password.plainText).toContain('Every session was ended.');
    const again = newPerson();
    expect((await service.call('PUT', '/api/me/microsoft-account', { token: recovery, body: { idToken: service.idTokenFor(again) } })).status).toBe(200);
    const notices = to(user, 'A Microsoft account was linked to your account');
    expect(notices).toHaveLength(2);
    expect(notices[1].plainText).toContain('Your password was removed');
  });

  it('tell the old address once the address changed, besides the notice that it was being changed', async () => {
    const user = await service.confirmedUser();
    const oldAddress = user.person.email;
    const newAddress = newPerson().email;
    await service.changeEmailAddress(user, newAddress);

    expect(service.noticesTo(oldAddress, 'Your email address is being changed')).toHaveLength(1);
    const [changed] = service.noticesTo(oldAddress, 'Your email address was changed');
    expect(changed.plainText).toContain(`was changed from ${oldAddress} to ${newAddress} at`);
    expect(changed.plainText).toContain('If this was not you, contact support at once');
    expect(service.noticesTo(newAddress, 'Your email address was changed')).toEqual([]);

    await service.deliverNotices();
    expect(service.noticesTo(oldAddress, /Your email address/)).toHaveLength(2);
  });

  it('go even when every other email is turned off', async () => {
    const user = await service.confirmedUser();
    expect(outcome(await service.setNotifications(user, { emailAllowed: false, notifyPackagePushed: false }))).toBe('200');
    const key = await service.createKey(user, { description: 'still told' });
    expect(outcome(await service.call('DELETE', `/api/me/api-keys/${key.id}`, { token: user.sessionToken }))).toBe('204');
    expect(to(user, /^API key 'still told'/).map((email) => email.subject)).toEqual(["API key 'still told' created", "API key 'still told' revoked"]);
  });

  it('tell a key’s holder once when support revokes it as leaked: support’s email, and no second notice', async () => {
    const admin = await siteAdmin();
    const user = await service.confirmedUser();
    const key = await service.createKey(user, { description: 'leaky' });
    expect(outcome(await service.revokeLeakedKey(admin, key.key))).toBe('200');
    expect(outcome(await service.revokeLeakedKey(admin, key.key))).toBe('200');
    await service.deliverNotices();
    expect(to(user, /revoked/).map((email) => email.subject)).toEqual(["API key 'leaky' revoked: it was exposed"]);
  });
});

describe('an address nobody confirmed', () => {
  /** Every email the address got, by subject, in the order they came. */
  const subjectsTo = (address: string) => service.emailsTo(address).map((email) => email.subject);
  const DAY_MS = 24 * 60 * 60 * 1000;

  it('gets only its confirmation link: nothing of its keys, pushes or owners, while a confirmed co-owner is told', async () => {
    const user = await service.unconfirmedUser();
    const coOwner = await service.confirmedUser();
    const key = await service.createKey(user, { description: 'unconfirmed' });
    const id = await ownedPackage(user);
    await addOwner(id, user, coOwner);
    await service.pushOk(key, id, '1.1.0', 200);
    expect(outcome(await service.editKey(user, key.id, { description: 'still unconfirmed' }))).toBe('200');
    expect(outcome(await service.call('POST', `/api/me/api-keys/${key.id}/regenerate`, { token: user.sessionToken }))).toBe('200');
    expect(outcome(await service.call('DELETE', `/api/me/api-keys/${key.id}`, { token: user.sessionToken }))).toBe('204');
    await service.deliverNotices();
    expect(outcome(await service.removeOwner(id, user, coOwner.username))).toBe('204');
    await service.deliverNotices();

    expect(subjectsTo(user.person.email)).toEqual(['Confirm your email address']);
    // The same changes reach the co-owner, whose address is confirmed.
    expect(to(coOwner, `${coOwner.username} is now an owner of ${id}`)).toHaveLength(1);
    expect(to(coOwner, `Package pushed: ${id} 1.1.0`)).toHaveLength(1);
    expect(to(coOwner, `${coOwner.username} is no longer an owner of ${id}`)).toHaveLength(1);
  });

  it('gets no expiry warning, no word from support of a leaked key, and no word of the account deleted', async () => {
    const admin = await siteAdmin();
    const user = await service.unconfirmedUser();
    const leaked = await service.createKey(user, { description: 'leaked' });
    expect(outcome(await service.revokeLeakedKey(admin, leaked.key))).toBe('200');
    await service.createKey(user, { description: 'expiring', expiresInDays: 2 });
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 1.5 * DAY_MS));
    await service.host.runTimer('notifyExpiringApiKeys');
    jest.restoreAllMocks();
    await deletedByTheTimer(user);

    expect(subjectsTo(user.person.email)).toEqual(['Confirm your email address']);
  });

  it('is told of nothing when the account moves to another address, which gets the notices once its link confirmed it', async () => {
    const user = await service.unconfirmedUser();
    const newAddress = newPerson().email;
    await service.changeEmailAddress(user, newAddress);
    await service.deliverNotices();
    expect(subjectsTo(user.person.email)).toEqual(['Confirm your email address']);

    await service.createKey(user, { description: 'at the new address' });
    expect(service.noticesTo(newAddress, "API key 'at the new address' created")).toHaveLength(1);
  });

  it('gets the notices once the account confirmed it, a notice to many queued before too', async () => {
    const user = await service.unconfirmedUser();
    const coOwner = await service.confirmedUser();
    const id = await ownedPackage(user);
    await service.createKey(user, { description: 'before' });
    // Queued while the address was unconfirmed, delivered after: whom it reaches is decided on delivery.
    await addOwner(id, user, coOwner);
    await service.confirmRegistrationEmail(user);
    await service.createKey(user, { description: 'after' });
    await service.deliverNotices();

    expect(to(user, /^API key /).map((email) => email.subject)).toEqual(["API key 'after' created"]);
    expect(to(user, `${coOwner.username} is now an owner of ${id}`)).toHaveLength(1);
  });
});

describe('notices about organizations', () => {
  it('tell the member and the admins that a member joined, was given another role, and was removed: once each', async () => {
    const [admin, otherAdmin, collaborator, member] = await users(4);
    const organization = await organizationOf([admin, otherAdmin], [collaborator]);
    await service.deliverNotices();
    const seen = (who: Member) => to(who, new RegExp(organization.name)).length;
    const before = new Map([admin, otherAdmin, collaborator, member].map((who) => [who.username, seen(who)]));

    await service.inviteAndAccept(organization.name, admin, member);
    expect(to(member, `${member.username} joined the organization ${organization.name}`)).toEqual([]);
    await service.deliverNotices();
    for (const who of [member, admin, otherAdmin]) {
      const [joined] = to(who, `${member.username} joined the organization ${organization.name}`);
      expect(joined.plainText).toContain(`joined it as a collaborator at`);
    }
    expect(to(collaborator, `${member.username} joined the organization ${organization.name}`)).toEqual([]);

    const role = await service.call('PUT', `/api/organizations/${organization.name}/members/${member.username}`, { token: admin.sessionToken, body: { role: 'admin' } });
    expect(role.status).toBe(204);
    await service.deliverNotices();
    for (const who of [member, admin, otherAdmin]) {
      const [promoted] = to(who, `${member.username} is now an admin of ${organization.name}`);
      expect(promoted.plainText).toContain(`${admin.username} made ${member.username} an admin of the organization ${organization.name} at`);
    }

    await service.removeMember(organization.name, otherAdmin, member);
    // Delivered by two instances' timers at once, then once more: nobody gets a second copy.
    await service.deliverNoticesOnTwoInstances();
    await service.deliverNotices();
    for (const who of [member, admin, otherAdmin]) {
      const [removed] = to(who, `${member.username} is no longer a member of ${organization.name}`);
      expect(removed.plainText).toContain(`${otherAdmin.username} removed ${member.username} from the organization ${organization.name} at`);
    }
    // Joined, given another role, removed (and the member's invitation before): once each.
    expect([member, admin, otherAdmin].map((who) => seen(who) - before.get(who.username)!)).toEqual([4, 3, 3]);
    expect(seen(collaborator)).toBe(before.get(collaborator.username));
  });

  it('tell a member who leaves that its keys for the organization stopped, straight away, and the rest by the timer', async () => {
    const [admin, member] = await users(2);
    const organization = await organizationOf([admin], [member]);
    const key = await service.createKey(member, { owner: organization.name, description: 'org CI' });
    await service.removeMember(organization.name, member, member);

    const [revoked] = to(member, "API key 'org CI' revoked");
    expect(revoked.plainText).toContain(`because you are no longer a member of ${organization.name}, which it pushed for`);
    expect(revoked.plainText).toContain(`(id ${key.id}, pushing for ${organization.name})`);
    await service.deliverNotices();
    for (const who of [member, admin]) {
      expect(to(who, `${member.username} is no longer a member of ${organization.name}`)[0].plainText).toContain(`${member.username} left the organization`);
    }
    expect(to(member, "API key 'org CI' revoked")).toHaveLength(1);
  });

  it('tell the holders of an organization’s keys that they were revoked with it', async () => {
    const admin = await service.confirmedUser();
    const organization = await service.createOrganization(admin);
    await service.createKey(admin, { owner: organization.name, description: 'for the org' });
    expect((await service.call('DELETE', `/api/organizations/${organization.name}`, { token: admin.sessionToken })).status).toBe(204);
    await service.deliverNotices();
    const [revoked] = to(admin, "API key 'for the org' revoked");
    expect(revoked.plainText).toContain(`because the organization ${organization.name} it pushed for was deleted`);
    await service.deliverNotices();
    expect(to(admin, "API key 'for the org' revoked")).toHaveLength(1);
  });

  it('tell the account that asked when its transform is accepted (always) or declined (unless it turned emails off)', async () => {
    const [account, admin, declining] = await users(3);
    const ask = async (who: Member) => {
      const seen = service.emailCount(who.person.email);
      expect((await service.call('POST', '/api/me/transform', { token: account.sessionToken, body: { adminUsername: who.username } })).status).toBe(202);
      const email = await service.nextEmailTo(who.person.email, `${account.username} asks you to administer it as an organization`, seen);
      return new URL(email.links[0]).searchParams.get('token')!;
    };
    expect(outcome(await service.call('POST', '/api/organizations/transform/reject', { token: declining.sessionToken, body: { token: await ask(declining) } }))).toBe('204');
    const [declined] = to(account, `${declining.username} declined to administer ${account.username}`);
    expect(declined.plainText).toContain('The account stays as it is.');

    expect(outcome(await service.setNotifications(account, { emailAllowed: false }))).toBe('200');
    const secondAsk = await ask(declining);
    expect(outcome(await service.call('POST', '/api/organizations/transform/reject', { token: declining.sessionToken, body: { token: secondAsk } }))).toBe('204');
    await service.deliverNotices();
    expect(to(account, `${declining.username} declined to administer ${account.username}`)).toHaveLength(1);

    const token = await ask(admin);
    expect(outcome(await service.call('POST', '/api/organizations/transform/accept', { token: admin.sessionToken, body: { token } }))).toBe('200');
    const [accepted] = to(account, `${account.username} is now an organization`);
    expect(accepted.plainText).toContain(`${admin.username} accepted to administer ${account.username}, which became an organization at`);
    expect(accepted.plainText).toContain('If you did not ask for this, contact support at once.');
    // Accepting again finishes nothing more and tells nobody again.
    expect(outcome(await service.call('POST', '/api/organizations/transform/accept', { token: admin.sessionToken, body: { token } }))).toBe('400 invalid_token');
    await service.deliverNotices();
    expect(to(account, `${account.username} is now an organization`)).toHaveLength(1);
  });
});

describe('notices about trusted publishing', () => {
  const repositoryOf = () => service.github.repository(`${uniqueName('octo')}/${uniqueName('repo')}`);
  const subject = (repository: { owner: string; name: string }, what: string) => `Trusted publishing policy ${what}: ${repository.owner}/${repository.name}, release.yml`;

  it('tell its maker, whatever its preferences, that a policy was added, first used and removed: once each, by the timer', async () => {
    const maker = await service.confirmedUser();
    expect(outcome(await service.setNotifications(maker, { emailAllowed: false }))).toBe('200');
    const repository = repositoryOf();
    const policy = await service.addTrustedPublisher(maker, repository, { environment: 'release' });
    expect(to(maker, subject(repository, 'added'))).toEqual([]);
    await service.deliverNotices();
    const [added] = to(maker, subject(repository, 'added'));
    expect(added.plainText).toContain(`${maker.username} added a trusted publishing policy (id ${policy.id}) at`);
    expect(added.plainText).toMatch(WHEN);
    expect(added.plainText).toContain('from the address 127.0.0.1');
    expect(added.plainText).toContain(`runs of the workflow release.yml of the GitHub repository ${repository.owner}/${repository.name} (in the deployment environment 'release') can now get API keys that push any package of ${maker.username}`);
    expect(added.plainText).toContain('If you did not add it, remove the policy at once in your account settings (https://gallery.example/account). If this was not you, someone else can sign in to your account');
    expect(added.plainText).toContain('This is a notice about the security of your package gallery account: these are always sent.');
    expect(added.html).toContain('<p>');

    // The run that pins it is told of; the runs after it, and several at once, are not.
    const runs = await Promise.all(Array.from({ length: 3 }, () => service.exchangeToken(maker.username, service.workflowToken(repository, { environment: 'release' }))));
    expect(runs.map((run) => run.status)).toEqual([200, 200, 200]);
    await service.trustedPublishingKey(maker.username, service.workflowToken(repository, { environment: 'release' }));
    await service.deliverNotices();
    const [pinned] = to(maker, subject(repository, 'first used'));
    expect(pinned.plainText).toContain(`The trusted publishing policy (id ${policy.id}, made by ${maker.username}) was used for the first time at`);
    expect(pinned.plainText).toContain(`pinned to that repository (GitHub repository id ${repository.id}, owner id ${repository.ownerId})`);
    expect(pinned.plainText).toContain('If you did not expect that workflow to publish now, remove the policy at once in your account settings');

    expect((await service.removeTrustedPublisher(maker, policy.id)).status).toBe(204);
    expect(outcome(await service.removeTrustedPublisher(maker, policy.id))).toBe('404 not_found');
    await service.deliverNotices();
    const [removed] = to(maker, subject(repository, 'removed'));
    expect(removed.plainText).toContain(`${maker.username} removed the trusted publishing policy (id ${policy.id}) at`);
    expect(removed.plainText).toContain('from the address 127.0.0.1');
    expect(removed.plainText).toContain('If you did not remove it, someone else can sign in to your account');

    await service.deliverNotices();
    expect(to(maker, /^Trusted publishing policy /).map((email) => email.subject)).toEqual([
      subject(repository, 'added'),
      subject(repository, 'first used'),
      subject(repository, 'removed'),
    ]);
  });

  it("tell an organization's admins of its policies, whatever their preferences, the maker once, and nobody where from", async () => {
    const [admin, otherAdmin, quietAdmin, maker, collaborator] = await users(5);
    const organization = await organizationOf([admin, otherAdmin, quietAdmin, maker], [collaborator]);
    expect(outcome(await service.setNotifications(quietAdmin, { emailAllowed: false }))).toBe('200');
    const repository = repositoryOf();
    const policy = await service.addTrustedPublisher(maker, repository, { owner: organization.name });
    await service.deliverNoticesOnTwoInstances();
    await service.deliverNotices();
    const added = subject(repository, 'added');
    // Standing rights to publish are never silent: an admin who turned notices off is told too.
    expect([admin, otherAdmin, quietAdmin, maker, collaborator].map((who) => to(who, added).length)).toEqual([1, 1, 1, 1, 0]);
    expect(to(maker, added)[0].plainText).toContain('from the address 127.0.0.1');
    const [told] = to(admin, added);
    expect(told.plainText).toContain(`${maker.username} added a trusted publishing policy (id ${policy.id}) at`);
    expect(told.plainText).toContain(`can now get API keys that push any package of ${organization.name}`);
    expect(told.plainText).not.toContain('127.0.0.1');
    expect(told.plainText).toContain(`You get this as an admin of ${organization.name}.`);
    expect(told.plainText).toContain('This is a notice about the security of your package gallery account: these are always sent.');

    await service.trustedPublishingKey(maker.username, service.workflowToken(repository));
    await service.deliverNotices();
    expect([admin, otherAdmin, quietAdmin, maker, collaborator].map((who) => to(who, subject(repository, 'first used')).length)).toEqual([1, 1, 1, 1, 0]);

    expect((await service.removeTrustedPublisher(otherAdmin, policy.id)).status).toBe(204);
    await service.deliverNotices();
    const removed = subject(repository, 'removed');
    expect([admin, otherAdmin, quietAdmin, maker, collaborator].map((who) => to(who, removed).length)).toEqual([1, 1, 1, 1, 0]);
    const [toMaker] = to(maker, removed);
    expect(toMaker.plainText).toContain(`${otherAdmin.username} removed the trusted publishing policy (id ${policy.id}, made by ${maker.username}) at`);
    expect(toMaker.plainText).not.toContain('127.0.0.1');
    expect(toMaker.plainText).toContain(`If you did not expect this, ask ${otherAdmin.username}, or contact support.`);
  });

  it('tell nobody of a policy refused at the limit, nor of a removal that found it gone', async () => {
    const maker = await service.confirmedUser();
    const repository = repositoryOf();
    for (let batch = 0; batch < 5; batch += 1) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => service.addTrustedPublisher(maker, repository, { workflowFile: `w-${batch}-${i}.yml` })));
    }
    expect(outcome(await service.requestTrustedPublisher(maker, repository))).toBe('409 trusted_publisher_limit');
    const [first] = await service.trustedPublishersOf(maker);
    const removals = await Promise.all(Array.from({ length: 5 }, () => service.removeTrustedPublisher(maker, first.id)));
    expect(removals.map(outcome).sort()).toEqual(['204', ...Array<string>(4).fill('404 not_found')]);
    await service.deliverNotices();
    expect(to(maker, subject(repository, 'added'))).toEqual([]);
    expect(to(maker, /^Trusted publishing policy added/)).toHaveLength(50);
    expect(to(maker, /^Trusted publishing policy removed/)).toHaveLength(1);
  });
});

describe('notices about packages', () => {
  it('tell every owner (an organization: its admins) that an owner was added or removed', async () => {
    const [owner, newOwner, orgAdmin, orgCollaborator] = await users(4);
    const organization = await organizationOf([orgAdmin], [orgCollaborator]);
    const id = await ownedPackage(owner);
    await addOwner(id, owner, organization, orgAdmin);
    await service.deliverNotices();
    for (const who of [owner, orgAdmin]) {
      expect(to(who, `${organization.name} is now an owner of ${id}`)[0].plainText).toContain(`accepted the invitation ${owner.username} sent and became an owner of the package ${id} at`);
    }
    // The organization's own address and its collaborators are not told: its admins are.
    expect(to(organization, `${organization.name} is now an owner of ${id}`)).toHaveLength(0);
    expect(to(orgCollaborator, new RegExp(id))).toHaveLength(0);

    await addOwner(id, orgAdmin, newOwner);
    expect(outcome(await service.removeOwner(id, orgAdmin, owner.username))).toBe('204');
    await service.deliverNotices();
    for (const who of [owner, orgAdmin, newOwner]) {
      expect(to(who, `${newOwner.username} is now an owner of ${id}`)).toHaveLength(1);
      const [removed] = to(who, `${owner.username} is no longer an owner of ${id}`);
      expect(removed.plainText).toContain(`${orgAdmin.username} removed ${owner.username} from the owners of the package ${id} at`);
    }
  });

  it('tell nobody of an owner change that was refused', async () => {
    const [owner, other] = await users(2);
    const id = await ownedPackage(owner);
    expect(outcome(await service.removeOwner(id, owner, owner.username))).toBe('409 last_owner');
    expect(outcome(await service.removeOwner(id, other, owner.username))).toBe('403 not_an_owner');
    await service.deliverNotices();
    expect(to(owner, `${owner.username} is no longer an owner of ${id}`)).toEqual([]);
  });

  it('tell whoever sent an invitation that it was declined, and the account invited that it was withdrawn', async () => {
    const [owner, decliner, invitee] = await users(3);
    const id = await ownedPackage(owner);
    const token = await service.inviteOwner(id, owner, decliner.username, decliner.person.email);
    expect(outcome(await service.rejectOwnership(id, decliner, token))).toBe('204');
    await service.inviteOwner(id, owner, invitee.username, invitee.person.email);
    expect(outcome(await service.withdrawOwnerInvitation(id, owner, invitee.username))).toBe('204');
    await service.deliverNotices();

    expect(to(owner, `${decliner.username} declined to own ${id}`)[0].plainText).toContain(`${decliner.username} declined the invitation to become an owner of the package ${id}, at`);
    expect(to(decliner, `${decliner.username} declined to own ${id}`)).toEqual([]);
    expect(to(invitee, `Invitation to own ${id} withdrawn`)[0].plainText).toContain(`${owner.username} withdrew the invitation for ${invitee.username}`);
    expect(to(owner, `Invitation to own ${id} withdrawn`)).toEqual([]);
  });

  it('tell the owners left, and the admins of an organization it belonged to, when an account is deleted', async () => {
    const [leaving, coOwner, orgAdmin] = await users(3);
    const organization = await organizationOf([orgAdmin], [leaving]);
    const id = await ownedPackage(leaving);
    await addOwner(id, leaving, coOwner);
    await deletedByTheTimer(leaving);

    expect(to(coOwner, `${leaving.username} is no longer an owner of ${id}`)[0].plainText).toContain('its account was deleted at');
    expect(to(orgAdmin, `${leaving.username} is no longer a member of ${organization.name}`)[0].plainText).toContain('its account was deleted at');
    expect(to(leaving, new RegExp(`${leaving.username} is no longer`))).toEqual([]);
  });
});

describe('push notices', () => {
  it('tell every owner who wants them, an organization’s admins each by their own preference, once, without a request more on the push', async () => {
    const [owner, orgAdmin, quietAdmin, orgCollaborator] = await users(4);
    const organization = await organizationOf([orgAdmin, quietAdmin], [orgCollaborator]);
    expect(outcome(await service.setNotifications(quietAdmin, { notifyPackagePushed: false }))).toBe('200');
    const key = await service.createKey(owner, { description: 'release key' });
    const id = newId('Pushed');
    await service.pushOk(key, id);
    await service.deliverNotices();
    await addOwner(id, owner, organization, orgAdmin);

    service.cosmos.reset();
    expect(outcome(await service.push(key, id, '2.0.0-Beta.1'))).toBe('200');
    // The push check's budget holds: the key, the package, the package write with its record beside it.
    expect(service.cosmos.documentRequests()).toHaveLength(4);
    expect(service.cosmos.documentRequests().filter((line) => line.includes('/colls/outbox/'))).toEqual([]);

    const subject = `Package pushed: ${id} 2.0.0-Beta.1`;
    expect(to(owner, subject)).toEqual([]);
    await service.deliverNotices();
    const [notice] = to(owner, subject);
    expect(notice.plainText).toContain(`The package ${id} 2.0.0-Beta.1 was pushed at`);
    expect(notice.plainText).toContain(`with the API key 'release key' (id ${key.id}) of ${owner.username}.`);
    expect(notice.plainText).toContain('If this push was not intended, unlist the version, have the key revoked, and contact support');
    expect(notice.plainText).toContain('To stop emails about pushes, turn off push notices in your account settings: https://gallery.example/account');
    expect(to(orgAdmin, subject)).toHaveLength(1);
    expect(to(quietAdmin, subject)).toEqual([]);
    expect(to(orgCollaborator, subject)).toEqual([]);
    expect(to(organization, subject)).toEqual([]);

    // Delivered again, by two instances at once: nothing goes twice. The first push, before the organization
    // owned the package, went to its one owner then.
    await service.deliverNoticesOnTwoInstances();
    expect(to(owner, subject)).toHaveLength(1);
    expect(to(orgAdmin, subject)).toHaveLength(1);
    expect(to(owner, `Package pushed: ${id} 1.0.0`)).toHaveLength(1);
    expect(to(orgAdmin, `Package pushed: ${id} 1.0.0`)).toEqual([]);
  });

  it('name the member and the key of an organization’s push, and tell nobody of a push refused', async () => {
    const [admin, member] = await users(2);
    const organization = await organizationOf([admin], [member]);
    const key = await service.createKey(member, { owner: organization.name, description: 'member <CI>' });
    const id = newId('OrgPush');
    await service.pushOk(key, id);
    expect(outcome(await service.push(key, id, '1.0'))).toBe('409 package_version_exists');
    await service.deliverNotices();
    const notices = to(admin, new RegExp(`^Package pushed: ${id}`));
    expect(notices.map((email) => email.subject)).toEqual([`Package pushed: ${id} 1.0.0`]);
    expect(notices[0].plainText).toContain(`with the API key 'member <CI>' (id ${key.id}) of ${member.username}.`);
    expect(notices[0].html).toContain('member &#60;CI&#62;');
    expect(to(member, new RegExp(`^Package pushed: ${id}`))).toEqual([]);
  });

  it('are sent for a push whose version write was retried, once, and not for one that never landed', async () => {
    const owner = await service.confirmedUser();
    const key = await service.createKey(owner);
    const id = newId('Retried');
    await service.pushOk(key, id);
    // The version's write fails after the record of the push went out: the record is taken back.
    service.cosmos.failNext(/^POST .*\/colls\/packageVersions\/docs$/, 500, 30);
    expect((await service.push(key, id, '1.1.0')).status).toBe(500);
    service.cosmos.clearFaults();
    await service.deliverNotices();
    expect(to(owner, `Package pushed: ${id} 1.1.0`)).toEqual([]);
    await service.pushOk(key, id, '1.1.0', 200);
    await service.deliverNotices();
    expect(to(owner, `Package pushed: ${id} 1.1.0`)).toHaveLength(1);
  });
});

describe('preferences', () => {
  const me = (user: Member) => service.call('GET', '/api/me', { token: user.sessionToken });

  it('are shown in the account, true until turned off, each on its own', async () => {
    const user = await service.confirmedUser();
    expect((await me(user)).body.notifications).toEqual({ emailAllowed: true, notifyPackagePushed: true });

    const off = await service.setNotifications(user, { emailAllowed: false });
    expect(off.status).toBe(200);
    expect(off.body.notifications).toEqual({ emailAllowed: false, notifyPackagePushed: true });
    expect((await me(user)).body.notifications).toEqual({ emailAllowed: false, notifyPackagePushed: true });
    expect((await service.setNotifications(user, { notifyPackagePushed: false })).body.notifications).toEqual({ emailAllowed: false, notifyPackagePushed: false });
    expect((await service.setNotifications(user, {})).body.notifications).toEqual({ emailAllowed: false, notifyPackagePushed: false });
    expect((await service.setNotifications(user, { emailAllowed: true })).body.notifications).toEqual({ emailAllowed: true, notifyPackagePushed: false });

    const log = await service.securityLog(user);
    expect(log.filter((e) => e.action === 'notification_settings_changed').map((e) => e.details)).toEqual([
      { emailAllowed: 'true' },
      { notifyPackagePushed: 'false' },
      { emailAllowed: 'false' },
    ]);

    // Reading the account stays one point read.
    service.cosmos.reset();
    expect((await me(user)).status).toBe(200);
    expect(service.cosmos.documentRequests()).toHaveLength(1);
  });

  it('hold both of two changes made at the same moment', async () => {
    const user = await service.confirmedUser();
    const answers = await Promise.all([service.setNotifications(user, { emailAllowed: false }), service.setNotifications(user, { notifyPackagePushed: false })]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect((await me(user)).body.notifications).toEqual({ emailAllowed: false, notifyPackagePushed: false });
  });

  it('refuse bad input naming the field, a username, other sessions and strangers', async () => {
    const user = await service.confirmedUser();
    for (const [body, field] of [
      [{ notifications: { emailAllowed: 'no' } }, 'notifications.emailAllowed'],
      [{ notifications: { notifyPackagePushed: null } }, 'notifications.notifyPackagePushed'],
      [{ notifications: { contactable: true } }, 'notifications.contactable'],
      [{ notifications: true }, 'notifications'],
      [{ notification: {} }, 'notification'],
    ] as const) {
      const response = await service.call('PATCH', '/api/me', { token: user.sessionToken, body });
      expect(outcome(response)).toBe('400 invalid_request');
      expect(response.body.detail).toContain(`'${field}'`);
    }
    const renamed = await service.call('PATCH', '/api/me', { token: user.sessionToken, body: { username: 'other', notifications: { emailAllowed: false } } });
    expect(outcome(renamed)).toBe('400 username_immutable');
    expect((await me(user)).body.notifications).toEqual({ emailAllowed: true, notifyPackagePushed: true });

    expect(outcome(await service.call('PATCH', '/api/me', { body: { notifications: { emailAllowed: false } } }))).toBe('401 unauthorized');
    const recovery = await service.recoverySession(user);
    expect(outcome(await service.call('PATCH', '/api/me', { token: recovery, body: { notifications: { emailAllowed: false } } }))).toBe('403 microsoft_account_required');
  });

  it('stop exactly what they say: emailAllowed the notices about others’ changes, notifyPackagePushed the push notices', async () => {
    const [owner, quiet, pushOnly, coOwner] = await users(4);
    const id = await ownedPackage(owner);
    // `quiet` wants push notices only; `pushOnly` wants every notice but push notices.
    expect(outcome(await service.setNotifications(quiet, { emailAllowed: false }))).toBe('200');
    expect(outcome(await service.setNotifications(pushOnly, { notifyPackagePushed: false }))).toBe('200');
    for (const who of [quiet, pushOnly]) await addOwner(id, owner, who);
    await addOwner(id, owner, coOwner);
    const key = await service.createKey(owner);
    await service.pushOk(key, id, '2.0.0', 200);
    await service.deliverNotices();

    const added = `${coOwner.username} is now an owner of ${id}`;
    const pushed = `Package pushed: ${id} 2.0.0`;
    expect([to(quiet, added).length, to(quiet, pushed).length]).toEqual([0, 1]);
    expect([to(pushOnly, added).length, to(pushOnly, pushed).length]).toEqual([1, 0]);
    expect([to(owner, added).length, to(owner, pushed).length]).toEqual([1, 1]);
    expect(to(quiet, added)).toEqual([]);
    // What each must answer, and its own security, still reaches `quiet`.
    const other = await ownedPackage(coOwner);
    await service.inviteOwner(other, coOwner, quiet.username, quiet.person.email);
    await service.createKey(quiet, { description: 'quiet key' });
    expect(to(quiet, "API key 'quiet key' created")).toHaveLength(1);
    expect(to(pushOnly, added)[0].plainText).toContain('To stop emails like this one, turn off email notices in your account settings: https://gallery.example/account');
  });
});

describe('a notice to many', () => {
  it('costs the request one write, whoever it goes to, and reaches each of them by the timer', async () => {
    const owners = await users(6);
    const [first] = owners;
    const id = await ownedPackage(first);
    for (const other of owners.slice(1)) await addOwner(id, first, other);
    await service.deliverNotices();

    service.cosmos.reset();
    expect(outcome(await service.removeOwner(id, first, owners[5].username))).toBe('204');
    const writes = service.cosmos.documentRequests().filter((line) => /^POST .*\/colls\/outbox\/docs$/.test(line) && !service.cosmos.queries().includes(line));
    expect(writes).toHaveLength(1);
    const subject = `${owners[5].username} is no longer an owner of ${id}`;
    expect(owners.flatMap((who) => to(who, subject))).toEqual([]);

    await service.deliverNotices();
    for (const who of owners) expect(to(who, subject)).toHaveLength(1);
  });

  it('is withdrawn, and never sent, when its change fails', async () => {
    const [owner, other] = await users(2);
    const id = await ownedPackage(owner);
    await addOwner(id, owner, other);
    // The write of the change fails for good after the notice was queued: the request withdraws it.
    service.cosmos.failNext(new RegExp(`^PUT .*/colls/packages/docs/${id.toLowerCase()}$`), 500, 30);
    expect((await service.removeOwner(id, owner, other.username)).status).toBe(500);
    service.cosmos.clearFaults();
    await service.deliverNotices();
    expect(to(other, `${other.username} is no longer an owner of ${id}`)).toEqual([]);
    const { resources } = await container('outbox')
      .items.query({ query: 'SELECT c.status FROM c WHERE c.content.subject = @subject', parameters: [{ name: '@subject', value: `${other.username} is no longer an owner of ${id}` }] })
      .fetchAll();
    expect(resources).toEqual([{ status: 'abandoned' }]);
  });
});
