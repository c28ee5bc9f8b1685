import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { CONTAINERS, type ContainerName } from '../lib/shared/storage/containers';
import { outcome, useTestService } from './support/service';
import type { Member } from './support/organizations';
import { newPerson, uniqueName } from './support/people';
import { tokenIn } from './support/waitFor';

/**
 * What else support does through the admin API: schedule an account's deletion now, release a deleted
 * account's name, and revoke a leaked API key, each recorded and each reaching what a user would notice.
 */
const SITE_ADMIN = uniqueName('support');
/** Site admins who leave: named in SITE_ADMINS in upper case, registered in lower case. */
const FORMER_ADMIN = uniqueName('support-former');
const FORMER_ADMIN_ORGANIZATION = uniqueName('support-org');
const NEVER_REGISTERED_ADMIN = uniqueName('support-future');
const service = useTestService({
  settings: {
    SITE_ADMINS: [SITE_ADMIN, FORMER_ADMIN.toUpperCase(), FORMER_ADMIN_ORGANIZATION.toUpperCase(), NEVER_REGISTERED_ADMIN].join(', '),
    ACCOUNT_DELETION_GRACE_PERIOD_HOURS: '24',
  },
});

let admin: Member;
beforeAll(async () => {
  admin = await service.confirmedUser(undefined, SITE_ADMIN);
});

const newId = () => `Support${randomBytes(4).toString('hex')}.Lib`;
const me = (member: Pick<Member, 'sessionToken'>) => service.call('GET', '/api/me', { token: member.sessionToken });
const runDeletionTimer = () => service.host.runTimer('processAccountDeletions');
const register = (person = newPerson(), username = uniqueName()) =>
  service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(person), username } });

/** The security log of an account nobody can sign in to any more, read from the store. */
async function storedLog(username: string): Promise<Array<{ action: string; details?: Record<string, string> }>> {
  const accountId = (await service.lookUpAccount(admin, username)).body.id;
  const { resources } = await container('audit')
    .items.query({ query: 'SELECT * FROM c WHERE c.accountId = @id', parameters: [{ name: '@id', value: accountId }] }, { partitionKey: accountId })
    .fetchAll();
  return resources;
}

/** A support deletion carried out: asked for, then processed by the timer's next run. */
async function deletedBySupport(username: string): Promise<void> {
  expect(outcome(await service.deleteAsSupport(admin, username))).toBe('202');
  await runDeletionTimer();
  expect((await service.lookUpAccount(admin, username)).body.deletedAt).toEqual(expect.any(String));
}

describe('deleting an account for support', () => {
  it('schedules it due now; the next timer run processes it, and the account cannot cancel it', async () => {
    const user = await service.confirmedUser();
    const key = await service.createKey(user);
    const id = newId();
    await service.pushOk(key, id);

    const scheduled = await service.deleteAsSupport(admin, user.username, { reason: 'Requested by the owner through the support form' });
    expect(outcome(scheduled)).toBe('202');
    const { deletion } = scheduled.body;
    expect(deletion).toEqual({ requestedAt: expect.any(String), scheduledFor: expect.any(String), requestedBy: 'support', status: 'scheduled' });
    expect(Date.parse(deletion.scheduledFor)).toBeLessThanOrEqual(Date.now());

    // Until the timer runs the account works, but cannot call the deletion off.
    expect((await me(user)).body.deletion).toEqual({ requestedAt: deletion.requestedAt, scheduledFor: deletion.scheduledFor });
    const cancel = await service.call('DELETE', '/api/me/deletion', { token: user.sessionToken });
    expect(outcome(cancel)).toBe('409 deletion_in_progress');
    expect(cancel.body.detail).toMatch(/[Ss]upport/);

    await runDeletionTimer();
    expect(outcome(await me(user))).toBe('401 unauthorized');
    expect(outcome(await service.push(key, id, '2.0.0'))).toBe('401 invalid_api_key');
    expect((await service.getPackage(id)).body).toMatchObject({ owners: [], listed: false });
    const signIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(user.person) } });
    expect(signIn.body).toEqual({ status: 'registration_required', emailAddress: user.person.email });

    const email = await service.waitForEmailTo(user.person.email, 'Your account has been deleted by support');
    expect(email.plainText).toContain(user.username);
    expect(email.plainText).toMatch(/contact support/);
    expect(email.html).toContain('deleted by our support team');

    const seen = (await service.lookUpAccount(admin, user.username)).body;
    expect(seen).toMatchObject({ emailAddress: null, deletedAt: expect.any(String), deletion: { requestedBy: 'support', status: 'completed' } });
    // Its erased log keeps the deletion, with the admin and the reason; the admin's own log names the account.
    const erased = await storedLog(user.username);
    expect(erased.filter((event) => event.action !== 'looked_up_by_support')).toEqual([
      expect.objectContaining({
        action: 'account_deleted',
        details: expect.objectContaining({ siteAdmin: SITE_ADMIN, reason: 'Requested by the owner through the support form' }),
      }),
    ]);
    // Support's look-ups since (the one above, and storedLog's own) are recorded on it too.
    expect(erased.filter((event) => event.action === 'looked_up_by_support')).toEqual(
      Array(2).fill(expect.objectContaining({ details: { siteAdmin: SITE_ADMIN } })),
    );
    expect(await service.securityLog(admin)).toContainEqual(
      expect.objectContaining({
        action: 'support_action',
        details: expect.objectContaining({ action: 'deletion_scheduled_by_support', account: user.username, reason: 'Requested by the owner through the support form' }),
      }),
    );
  });

  it('brings forward a deletion the account asked for', async () => {
    const user = await service.confirmedUser();
    const asked = await service.call('DELETE', '/api/me', { token: user.sessionToken, body: { confirmUsername: user.username } });
    expect(outcome(asked)).toBe('202');
    await runDeletionTimer();
    expect(outcome(await me(user))).toBe('200');

    expect(outcome(await service.deleteAsSupport(admin, user.username, {}))).toBe('202');
    await runDeletionTimer();
    expect(outcome(await me(user))).toBe('401 unauthorized');
  });

  describe("racing the account's own request", () => {
    const deletionWrite = /^POST .*\/colls\/deletions\/docs$/;
    const accountWrite = (id: string) => new RegExp(`^PUT .*/colls/accounts/docs/${id}$`);
    const askToBeDeleted = (user: Member) => service.call('DELETE', '/api/me', { token: user.sessionToken, body: { confirmUsername: user.username } });
    const cancel = (user: Member) => service.call('DELETE', '/api/me/deletion', { token: user.sessionToken });

    /** Support's request stands however the two landed: the account sees it, cannot cancel it, and is deleted. */
    async function supportsDeletionStands(user: Member, scheduled: { requestedAt: string; scheduledFor: string }): Promise<void> {
      expect((await service.lookUpAccount(admin, user.username)).body.deletion).toEqual({ ...scheduled, requestedBy: 'support', status: 'scheduled' });
      expect((await me(user)).body.deletion).toEqual(scheduled);
      expect(outcome(await cancel(user))).toBe('409 deletion_in_progress');
      expect(outcome(await askToBeDeleted(user))).toBe('202');
      expect(outcome(await cancel(user))).toBe('409 deletion_in_progress');
      await runDeletionTimer();
      expect(outcome(await me(user))).toBe('401 unauthorized');
    }

    it("keeps support's request when the account's lands after it, and answers the account with it", async () => {
      const user = await service.confirmedUser();
      const held = service.cosmos.holdNext(deletionWrite);
      const asking = askToBeDeleted(user);
      await held.reached;
      const scheduled = await service.deleteAsSupport(admin, user.username, { reason: 'Owner asked by email' });
      expect(outcome(scheduled)).toBe('202');
      held.release();
      const asked = await asking;
      expect(outcome(asked)).toBe('202');
      const { requestedAt, scheduledFor } = scheduled.body.deletion;
      expect(asked.body.deletion).toEqual({ requestedAt, scheduledFor });
      await supportsDeletionStands(user, { requestedAt, scheduledFor });
    });

    it("brings the account's request forward when support's lands after it", async () => {
      const user = await service.confirmedUser();
      const held = service.cosmos.holdNext(deletionWrite);
      const scheduling = service.deleteAsSupport(admin, user.username);
      await held.reached;
      expect(outcome(await askToBeDeleted(user))).toBe('202');
      held.release();
      const scheduled = await scheduling;
      expect(outcome(scheduled)).toBe('202');
      const { requestedAt, scheduledFor } = scheduled.body.deletion;
      expect(Date.parse(scheduledFor)).toBeLessThanOrEqual(Date.now());
      await supportsDeletionStands(user, { requestedAt, scheduledFor });
    });

    it('keeps it when both are sent at once', async () => {
      for (let round = 0; round < 3; round += 1) {
        const user = await service.confirmedUser();
        const [scheduled, asked] = await Promise.all([service.deleteAsSupport(admin, user.username), askToBeDeleted(user)]);
        expect([outcome(scheduled), outcome(asked)]).toEqual(['202', '202']);
        const { requestedAt, scheduledFor } = scheduled.body.deletion;
        await supportsDeletionStands(user, { requestedAt, scheduledFor });
      }
    });

    it("refuses a cancellation that support's request overtakes, and leaves support's in place of one the account cancelled first", async () => {
      // The cancellation read the account's request; support's lands before the cancellation writes.
      const overtaken = await service.confirmedUser();
      expect(outcome(await askToBeDeleted(overtaken))).toBe('202');
      let held = service.cosmos.holdNext(/^PUT .*\/colls\/deletions\/docs\//);
      const cancelling = cancel(overtaken);
      await held.reached;
      const overtaking = await service.deleteAsSupport(admin, overtaken.username);
      held.release();
      expect(outcome(await cancelling)).toBe('409 deletion_in_progress');
      const { requestedAt, scheduledFor } = overtaking.body.deletion;
      await supportsDeletionStands(overtaken, { requestedAt, scheduledFor });

      // The cancellation lands first, and support's request follows before the cancellation has cleared the account.
      const first = await service.confirmedUser();
      const firstId = (await me(first)).body.id;
      expect(outcome(await askToBeDeleted(first))).toBe('202');
      held = service.cosmos.holdNext(accountWrite(firstId));
      const cancellingFirst = cancel(first);
      await held.reached;
      const following = await service.deleteAsSupport(admin, first.username);
      expect(outcome(following)).toBe('202');
      held.release();
      expect(outcome(await cancellingFirst)).toBe('204');
      await supportsDeletionStands(first, { requestedAt: following.body.deletion.requestedAt, scheduledFor: following.body.deletion.scheduledFor });
    });
  });

  it('deletes an organization: its members lose it, its keys stop, its name stays reserved', async () => {
    const owner = await service.confirmedUser();
    const member = await service.confirmedUser();
    const organization = await service.createOrganization(owner);
    // Its address confirmed: only a confirmed address is told of the deletion.
    const confirmation = await service.waitForEmailTo(organization.emailAddress, `Confirm the email address of ${organization.name}`);
    expect(outcome(await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(confirmation.links[0]) } }))).toBe('200');
    await service.inviteAndAccept(organization.name, owner, member);
    const key = await service.createKey(member, { owner: organization.name });
    const id = newId();
    await service.pushOk(key, id);

    await deletedBySupport(organization.name);

    for (const person of [owner, member]) expect(await service.organizationsOf(person)).toEqual([]);
    expect(outcome(await service.call('GET', `/api/organizations/${organization.name}`, { token: owner.sessionToken }))).toBe('404 not_found');
    expect(outcome(await service.push(key, id, '2.0.0'))).toBe('401 invalid_api_key');
    expect((await service.getPackage(id)).body).toMatchObject({ owners: [], listed: false });
    const again = await service.call('POST', '/api/organizations', { token: owner.sessionToken, body: { name: organization.name, emailAddress: newPerson().email } });
    expect(outcome(again)).toBe('409 username_unavailable');
    // Its address was released, and it was told.
    await service.waitForEmailTo(organization.emailAddress, 'Your account has been deleted by support');
  });

  it('answers a deleted account as it is, and an unknown one 404', async () => {
    const user = await service.confirmedUser();
    await deletedBySupport(user.username);
    const emails = service.emailsTo(user.person.email).length;
    const again = await service.deleteAsSupport(admin, user.username);
    expect(outcome(again)).toBe('202');
    expect(again.body.deletion.status).toBe('completed');
    await runDeletionTimer();
    expect(service.emailsTo(user.person.email)).toHaveLength(emails);
    expect(outcome(await service.deleteAsSupport(admin, uniqueName('nobody')))).toBe('404 not_found');
  });
});

describe('releasing a name', () => {
  it("lets a deleted account's name be registered again, in any casing", async () => {
    const user = await service.confirmedUser();
    await deletedBySupport(user.username);
    expect(outcome(await register(newPerson(), user.username))).toBe('409 username_unavailable');

    const released = await service.releaseUsername(admin, user.username.toUpperCase(), { reason: 'Trademark holder asked for it' });
    expect(outcome(released)).toBe('200');
    expect(released.body).toEqual({ username: user.username, releasedAt: expect.any(String) });
    const tombstoneLog = (await container('audit')
      .items.query({ query: 'SELECT * FROM c WHERE c.action = "username_released_by_support" AND c.details.siteAdmin = @admin', parameters: [{ name: '@admin', value: SITE_ADMIN }] })
      .fetchAll()).resources;
    expect(tombstoneLog).toContainEqual(expect.objectContaining({ details: { siteAdmin: SITE_ADMIN, reason: 'Trademark holder asked for it' } }));

    const newcomer = newPerson();
    const registered = await register(newcomer, user.username.toUpperCase());
    expect(outcome(registered)).toBe('201');
    const seen = await service.lookUpAccount(admin, user.username);
    expect(seen.body).toMatchObject({ username: user.username.toUpperCase(), emailAddress: newcomer.email, deletedAt: null });
    // Held again: not released again.
    expect(outcome(await service.releaseUsername(admin, user.username))).toBe('409 username_in_use');
  });

  it('answers 409 username_in_use while an account holds the name, even one about to be deleted, and 404 for a name never taken', async () => {
    const user = await service.confirmedUser();
    const inUse = await service.releaseUsername(admin, user.username);
    expect(outcome(inUse)).toBe('409 username_in_use');
    expect(inUse.body.detail).toContain(user.username);
    await service.call('DELETE', '/api/me', { token: user.sessionToken, body: { confirmUsername: user.username } });
    expect(outcome(await service.releaseUsername(admin, user.username))).toBe('409 username_in_use');
    expect(outcome(await service.releaseUsername(admin, uniqueName('never')))).toBe('404 not_found');
    const organization = await service.createOrganization(user);
    expect(outcome(await service.releaseUsername(admin, organization.name))).toBe('409 username_in_use');
  });

  it('never releases a name in SITE_ADMINS, in any casing: whoever registered it would be a site admin', async () => {
    const former = await service.confirmedUser(undefined, FORMER_ADMIN);
    expect(outcome(await service.lookUpAccount(former, SITE_ADMIN))).toBe('200');
    await deletedBySupport(FORMER_ADMIN);
    // An organization's name is in the same namespace: released, a person could register it.
    const owner = await service.confirmedUser();
    const organization = await service.call('POST', '/api/organizations', {
      token: owner.sessionToken,
      body: { name: FORMER_ADMIN_ORGANIZATION, emailAddress: newPerson().email },
    });
    expect(outcome(organization)).toBe('201');
    await deletedBySupport(FORMER_ADMIN_ORGANIZATION);

    for (const name of [FORMER_ADMIN, FORMER_ADMIN.toUpperCase(), FORMER_ADMIN_ORGANIZATION, NEVER_REGISTERED_ADMIN.toUpperCase()]) {
      const refused = await service.releaseUsername(admin, name, { reason: 'Asked for by a new customer' });
      expect(outcome(refused)).toBe('409 site_admin_name');
      expect(refused.body.detail).toContain(name);
      expect(refused.body.detail).toMatch(/SITE_ADMINS/);
    }
    // Nothing changed: the names stay taken in every casing, nobody new holds them, and nothing was recorded as released.
    for (const name of [FORMER_ADMIN, FORMER_ADMIN_ORGANIZATION]) {
      const newcomer = newPerson();
      expect(outcome(await register(newcomer, name.toUpperCase()))).toBe('409 username_unavailable');
      expect((await service.lookUpAccount(admin, name)).body).toMatchObject({ deletedAt: expect.any(String) });
    }
    expect((await storedLog(FORMER_ADMIN)).map((event) => event.action)).not.toContain('username_released_by_support');
    const documented = (await service.call('GET', '/api/openapi.json')).body.paths['/site-admin/usernames/{username}/release'].post.responses['409'];
    expect(JSON.stringify(documented)).toContain('site_admin_name');
  });

  it('is safe against a registration at the same moment: the name is taken before, or after, never both', async () => {
    const claimOf = (name: string) => new RegExp(`/colls/claims/docs/username(:|%3A)${name.toLowerCase().replace(/[.]/g, '\\.')}$`, 'i');

    // The registration looks while the release is deleting the claim: it finds the name still taken.
    const first = await service.confirmedUser();
    await deletedBySupport(first.username);
    const deleting = service.cosmos.holdNext(new RegExp(`^DELETE .*${claimOf(first.username).source}`, 'i'));
    const releasing = service.releaseUsername(admin, first.username);
    await deleting.reached;
    expect(outcome(await register(newPerson(), first.username))).toBe('409 username_unavailable');
    deleting.release();
    expect(outcome(await releasing)).toBe('200');
    expect(outcome(await register(newPerson(), first.username))).toBe('201');

    // The registration found the claim taken and is reading it when the release frees the name: it takes it.
    const second = await service.confirmedUser();
    await deletedBySupport(second.username);
    const reading = service.cosmos.holdNext(new RegExp(`^GET .*${claimOf(second.username).source}`, 'i'));
    const registering = register(newPerson(), second.username);
    await reading.reached;
    expect(outcome(await service.releaseUsername(admin, second.username))).toBe('200');
    reading.release();
    expect(outcome(await registering)).toBe('201');
    expect(outcome(await service.releaseUsername(admin, second.username))).toBe('409 username_in_use');

    // All at once: at most one registration gets the name, and only after the release freed it.
    for (let round = 0; round < 3; round += 1) {
      const user = await service.confirmedUser();
      await deletedBySupport(user.username);
      const [release, ...registrations] = await Promise.all([
        service.releaseUsername(admin, user.username),
        register(newPerson(), user.username),
        register(newPerson(), user.username.toUpperCase()),
      ]);
      expect(outcome(release)).toBe('200');
      const won = registrations.filter((r) => r.status === 201);
      expect(won.length).toBeLessThanOrEqual(1);
      expect(registrations.filter((r) => r.status !== 201).map(outcome)).toEqual(Array(2 - won.length).fill('409 username_unavailable'));
      // Either the winner holds it, or it is free for the next registration.
      const holder = await service.lookUpAccount(admin, user.username);
      if (won.length === 1) expect(holder.body.deletedAt).toBeNull();
      else expect([outcome(holder), outcome(await register(newPerson(), user.username))]).toEqual(['404 not_found', '201']);
    }
  });
});

describe('revoking a leaked API key', () => {
  const leakedSubject = (description: string) => `API key '${description}' revoked: it was exposed`;

  /** Every document of every container, as stored, in one string. */
  async function everythingStored(): Promise<string> {
    const documents = await Promise.all(
      (Object.keys(CONTAINERS) as ContainerName[]).map(async (name) => (await container(name).items.readAll().fetchAll()).resources),
    );
    return JSON.stringify(documents);
  }

  it('revokes it by its secret and tells its holder once, saying what to do, and keeps the secret nowhere', async () => {
    const user = await service.confirmedUser();
    const description = `CI key ${randomBytes(3).toString('hex')}`;
    const key = await service.createKey(user, { description });
    const id = newId();
    await service.pushOk(key, id);

    const revoked = await service.revokeLeakedKey(admin, key.key, 'Found in a public gist');
    expect(outcome(revoked)).toBe('200');
    expect(revoked.body).toEqual({ id: key.id, description, owner: user.username, holder: user.username, revokedAt: expect.any(String), outcome: 'revoked' });
    expect(outcome(await service.push(key, id, '2.0.0'))).toBe('401 invalid_api_key');
    expect((await service.call('GET', '/api/me/api-keys', { token: user.sessionToken })).body).toEqual([]);

    const email = await service.waitForEmailTo(user.person.email, leakedSubject(description));
    for (const text of [email.plainText, email.html]) {
      expect(text).toContain(description);
      expect(text).toContain(revoked.body.revokedAt);
      expect(text).toMatch(/create a new key/);
    }
    expect(await service.securityLog(user)).toContainEqual(
      expect.objectContaining({ action: 'api_key_revoked_by_support', details: { keyId: key.id, siteAdmin: SITE_ADMIN, reason: 'Found in a public gist' } }),
    );
    expect(await service.securityLog(admin)).toContainEqual(
      expect.objectContaining({ action: 'support_action', details: { keyId: key.id, action: 'api_key_revoked_by_support', account: user.username, reason: 'Found in a public gist' } }),
    );

    // Asked again: answered as it is, and nobody is told twice.
    const again = await service.revokeLeakedKey(admin, key.key);
    expect(again.body).toMatchObject({ outcome: 'already_revoked', revokedAt: revoked.body.revokedAt });
    await service.host.runTimer('deliverPendingEmails');
    expect(service.emailsTo(user.person.email).filter((e) => e.subject === leakedSubject(description))).toHaveLength(1);

    // The secret, or its random part, is in no document, email or log entry.
    const secretPart = key.key.split('.')[2];
    expect(await everythingStored()).not.toContain(secretPart);
    expect(JSON.stringify(service.mailbox.delivered)).not.toContain(secretPart);
  });

  it('of revocations at the same moment, one revokes and one email goes', async () => {
    const user = await service.confirmedUser();
    const description = `Race key ${randomBytes(3).toString('hex')}`;
    const key = await service.createKey(user, { description });
    const answers = await Promise.all([1, 2, 3].map(() => service.revokeLeakedKey(admin, key.key)));
    expect(answers.map((a) => a.body.outcome).sort()).toEqual(['already_revoked', 'already_revoked', 'revoked']);
    await service.waitForEmailTo(user.person.email, leakedSubject(description));
    await service.host.runTimer('deliverPendingEmails');
    expect(service.emailsTo(user.person.email).filter((e) => e.subject === leakedSubject(description))).toHaveLength(1);
    expect((await service.securityLog(user)).filter((e) => e.action === 'api_key_revoked_by_support')).toHaveLength(1);
  });

  it("tells the member who made an organization's key", async () => {
    const owner = await service.confirmedUser();
    const member = await service.confirmedUser();
    const organization = await service.createOrganization(owner);
    await service.inviteAndAccept(organization.name, owner, member);
    const key = await service.createKey(member, { owner: organization.name, description: 'Release pipeline' });
    const revoked = await service.revokeLeakedKey(admin, key.key);
    expect(revoked.body).toMatchObject({ owner: organization.name, holder: member.username, outcome: 'revoked' });
    const email = await service.waitForEmailTo(member.person.email, leakedSubject('Release pipeline'));
    expect(email.plainText).toContain(organization.name);
  });

  it('answers 404 for a secret no key has, 400 for what is not a key, and never repeats the secret', async () => {
    const user = await service.confirmedUser();
    const key = await service.createKey(user);
    const wrongSecret = `${key.key.slice(0, -1)}${key.key.endsWith('A') ? 'B' : 'A'}`;
    for (const secret of [wrongSecret, `gak1.${randomBytes(16).toString('hex')}.${randomBytes(32).toString('base64url')}`]) {
      const unknown = await service.revokeLeakedKey(admin, secret);
      expect(outcome(unknown)).toBe('404 not_found');
      expect(unknown.text).not.toContain(secret.split('.')[2]);
    }
    for (const notAKey of ['not a key', `${key.key}x`, `gak1.${key.id}`, '']) {
      const refused = await service.revokeLeakedKey(admin, notAKey);
      expect(outcome(refused)).toBe('400 invalid_request');
      expect(refused.body.detail).toContain("'key'");
      if (notAKey) expect(refused.text).not.toContain(notAKey);
    }
    expect(outcome(await service.push(key, newId()))).toBe('201');
  });

  it('leaves an expired key as it is, and tells nobody', async () => {
    const user = await service.confirmedUser();
    const description = `Old key ${randomBytes(3).toString('hex')}`;
    const key = await service.createKey(user, { description, expiresInDays: 1 });
    jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + 2 * 24 * 60 * 60 * 1000));
    // Two days on, the admin signs in again.
    const signIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(admin.person) } });
    const answer = await service.revokeLeakedKey({ sessionToken: signIn.body.sessionToken }, key.key);
    expect(answer.body).toMatchObject({ outcome: 'expired', revokedAt: null });
    await service.host.runTimer('deliverPendingEmails');
    expect(service.emailsTo(user.person.email).filter((e) => e.subject === leakedSubject(description))).toEqual([]);
  });
});
