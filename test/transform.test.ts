import { FRONTEND_ORIGIN, useTestService, type ApiResponse } from './support/service';
import { newPerson, uniqueName } from './support/people';
import type { Member } from './support/organizations';
import { tokenIn } from './support/waitFor';

const service = useTestService();

const STRONG_PASSWORD = 'correct horse battery staple 🐎';

const outcome = (response: ApiResponse) => `${response.status} ${response.body?.code ?? ''}`.trim();

const transformSubject = (accountName: string) => `${accountName} asks you to administer it as an organization`;

const askToTransform = (account: Pick<Member, 'sessionToken'>, adminUsername: string) =>
  service.call('POST', '/api/me/transform', { token: account.sessionToken, body: { adminUsername } });

const accept = (admin: Pick<Member, 'sessionToken'>, token: string) =>
  service.call('POST', '/api/organizations/transform/accept', { token: admin.sessionToken, body: { token } });

const reject = (admin: Pick<Member, 'sessionToken'>, token: string) =>
  service.call('POST', '/api/organizations/transform/reject', { token: admin.sessionToken, body: { token } });

const cancel = (account: Pick<Member, 'sessionToken'>) => service.call('DELETE', '/api/me/transform', { token: account.sessionToken });

const me = (member: Pick<Member, 'sessionToken'>) => service.call('GET', '/api/me', { token: member.sessionToken });

const signInWithMicrosoft = (member: Pick<Member, 'person'>) =>
  service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(member.person) } });

/** Asks `admin` to administer `account` (202 expected) and returns the token of the email the admin gets. */
async function requestTransform(account: Member, admin: Member): Promise<string> {
  const seen = service.emailCount(admin.person.email);
  const response = await askToTransform(account, admin.username);
  expect(response.status).toBe(202);
  const email = await service.nextEmailTo(admin.person.email, transformSubject(account.username), seen);
  return tokenIn(email.links[0]);
}

/** What must hold once `account` became an organization administered by `admin`. */
async function expectTransformed(account: Member, admin: Member, sessionsOfTheAccount: string[] = [account.sessionToken]) {
  for (const sessionToken of sessionsOfTheAccount) expect(outcome(await me({ sessionToken }))).toBe('401 unauthorized');

  const microsoft = await signInWithMicrosoft(account);
  expect(microsoft.body?.status).not.toBe('signed_in');
  expect(microsoft.body).not.toHaveProperty('sessionToken');
  expect(outcome(microsoft)).toBe('409 email_belongs_to_organization');

  const organization = await service.call('GET', `/api/organizations/${account.username}`, { token: admin.sessionToken });
  expect(organization.status).toBe(200);
  expect(organization.body).toEqual({
    name: account.username,
    members: [{ username: admin.username, role: 'admin' }],
    frozen: null,
    emailAddress: account.person.email,
    emailConfirmed: true,
    emailDomainLapsed: false,
    pendingInvitations: [],
  });
  expect(await service.organizationsOf(admin)).toEqual([{ name: account.username, role: 'admin' }]);

  // Its name stays taken, in any casing, for accounts and organizations alike.
  for (const username of [account.username, account.username.toUpperCase()]) {
    const registration = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(newPerson()), username } });
    expect(outcome(registration)).toBe('409 username_unavailable');
  }
  const sameName = await service.call('POST', '/api/organizations', {
    token: admin.sessionToken,
    body: { name: account.username, emailAddress: newPerson().email },
  });
  expect(outcome(sameName)).toBe('409 username_unavailable');
}

/** An account with a confirmed address that lost its Microsoft account and set a password by email. */
async function confirmedUserWithPassword(): Promise<Member> {
  const member = await service.confirmedUser();
  const seen = service.emailCount(member.person.email);
  expect((await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress: member.person.email } })).status).toBe(202);
  const email = await service.nextEmailTo(member.person.email, 'Reset your password', seen);
  const reset = await service.call('POST', '/api/auth/reset-password', { body: { token: tokenIn(email.links[0]), newPassword: STRONG_PASSWORD } });
  expect(reset.status).toBe(200);
  // The reset ended the Microsoft session; a fresh one for the tests that need it.
  const signedIn = await signInWithMicrosoft(member);
  expect(signedIn.body.status).toBe('signed_in');
  return { ...member, sessionToken: signedIn.body.sessionToken };
}

const passwordSignIn = (username: string) => service.call('POST', '/api/auth/password', { body: { username, password: STRONG_PASSWORD } });

describe('asking to become an organization', () => {
  it('answers 202 and mails a token to the named admin, not to the account', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const mailToAccount = service.emailCount(account.person.email);

    const token = await requestTransform(account, admin);

    const email = service.emailsTo(admin.person.email).find((e) => e.subject === transformSubject(account.username))!;
    expect(email.links).toEqual([expect.stringMatching(new RegExp(`^${FRONTEND_ORIGIN}/organizations/transform\\?token=[A-Za-z0-9_-]{43}$`))]);
    expect(email.plainText).toContain(account.username);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(service.emailsTo(account.person.email).slice(mailToAccount)).toEqual([]);
    expect(service.mailbox.delivered.filter((e) => e.plainText.includes(token)).map((e) => e.to)).toEqual([[admin.person.email]]);

    // Nothing changes until the admin answers.
    expect((await me(account)).body).toMatchObject({ username: account.username, kind: 'user', organizations: [] });
    expect((await signInWithMicrosoft(account)).body.status).toBe('signed_in');
  });

  describe('refuses with a problem that says what to do', () => {
    const cases: Array<{ label: string; expected: string; arrange: () => Promise<{ account: Member; adminUsername: string; detail: RegExp }> }> = [
      {
        label: 'an account whose email is unconfirmed',
        expected: '403 email_unconfirmed',
        arrange: async () => ({ account: await service.unconfirmedUser(), adminUsername: (await service.confirmedUser()).username, detail: /Confirm your email/ }),
      },
      {
        label: 'an account that administers an organization',
        expected: '409 transform_not_allowed',
        arrange: async () => {
          const account = await service.confirmedUser();
          const { name } = await service.createOrganization(account);
          return { account, adminUsername: (await service.confirmedUser()).username, detail: new RegExp(`Leave ${name}`) };
        },
      },
      {
        label: 'an account that collaborates in an organization',
        expected: '409 transform_not_allowed',
        arrange: async () => {
          const account = await service.confirmedUser();
          const owner = await service.confirmedUser();
          const { name } = await service.createOrganization(owner);
          await service.inviteAndAccept(name, owner, account, 'collaborator');
          return { account, adminUsername: owner.username, detail: new RegExp(`Leave ${name}`) };
        },
      },
      {
        label: 'an admin nobody is called',
        expected: '404 user_not_found',
        arrange: async () => ({ account: await service.confirmedUser(), adminUsername: uniqueName('nobody'), detail: /There is no user named/ }),
      },
      {
        label: 'an admin that is an organization',
        expected: '400 member_is_organization',
        arrange: async () => {
          const owner = await service.confirmedUser();
          const { name } = await service.createOrganization(owner);
          return { account: await service.confirmedUser(), adminUsername: name, detail: /is an organization/ };
        },
      },
      {
        label: 'an admin whose email is unconfirmed',
        expected: '400 email_unconfirmed',
        arrange: async () => ({ account: await service.confirmedUser(), adminUsername: (await service.unconfirmedUser()).username, detail: /has not confirmed/ }),
      },
      {
        label: 'the account itself as its admin',
        expected: '409 transform_not_allowed',
        arrange: async () => {
          const account = await service.confirmedUser();
          return { account, adminUsername: account.username.toUpperCase(), detail: /another account/ };
        },
      },
    ];

    it.each(cases)('$label → $expected', async ({ arrange, expected }) => {
      const { account, adminUsername, detail } = await arrange();
      const seen = service.mailbox.delivered.length;
      const response = await askToTransform(account, adminUsername);
      expect(outcome(response)).toBe(expected);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.body.detail).toMatch(detail);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(service.mailbox.delivered.slice(seen).filter((e) => /asks you to administer/.test(e.subject))).toEqual([]);
    });

    it('lets an account that left its organizations ask', async () => {
      const account = await service.confirmedUser();
      const owner = await service.confirmedUser();
      const { name } = await service.createOrganization(owner);
      await service.inviteAndAccept(name, owner, account, 'collaborator');
      expect(outcome(await askToTransform(account, owner.username))).toBe('409 transform_not_allowed');
      await service.removeMember(name, account, account);
      await requestTransform(account, owner);
    });
  });

  it('works from the recovery session of a password sign-in, and the password no longer signs in afterwards', async () => {
    const account = await confirmedUserWithPassword();
    const admin = await service.confirmedUser();
    const recovery = await passwordSignIn(account.username);
    expect(recovery.body.status).toBe('password_login_discontinued');
    const recoverySession = { sessionToken: recovery.body.sessionToken as string };

    const token = await requestTransform({ ...account, ...recoverySession }, admin);
    expect((await accept(admin, token)).status).toBe(200);

    await expectTransformed(account, admin, [account.sessionToken, recoverySession.sessionToken]);
    expect(outcome(await passwordSignIn(account.username))).toBe('401 invalid_credentials');
  });

  it('can be cancelled from the recovery session too', async () => {
    const account = await confirmedUserWithPassword();
    const admin = await service.confirmedUser();
    const recoverySession = { sessionToken: (await passwordSignIn(account.username)).body.sessionToken as string };
    const token = await requestTransform({ ...account, ...recoverySession }, admin);
    expect((await cancel(recoverySession)).status).toBe(204);
    expect(outcome(await accept(admin, token))).toBe('400 invalid_token');
  });
});

describe('answering the request', () => {
  it('only the named admin can accept or reject it: anyone else holding the token gets invalid_token', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const someoneElse = await service.confirmedUser();
    const token = await requestTransform(account, admin);

    for (const stranger of [someoneElse, account]) {
      expect(outcome(await accept(stranger, token))).toBe('400 invalid_token');
      expect(outcome(await reject(stranger, token))).toBe('400 invalid_token');
    }
    expect(outcome(await service.call('POST', '/api/organizations/transform/accept', { body: { token } }))).toBe('401 unauthorized');
    expect((await me(account)).body.kind).toBe('user');
    expect(await service.organizationsOf(someoneElse)).toEqual([]);

    // The attempts used nothing up.
    expect(await accept(admin, token)).toMatchObject({ status: 200 });
    await expectTransformed(account, admin);
  });

  it('on accept, the account becomes an organization with the admin: it keeps its name and email, loses its sessions and sign-in', async () => {
    const account = await service.confirmedUser();
    const secondSession = (await signInWithMicrosoft(account)).body.sessionToken as string;
    const admin = await service.confirmedUser();
    const token = await requestTransform(account, admin);

    const accepted = await accept(admin, token);
    expect(accepted.status).toBe(200);

    await expectTransformed(account, admin, [account.sessionToken, secondSession]);
    expect(outcome(await accept(admin, token))).toBe('400 invalid_token');
    expect(outcome(await reject(admin, token))).toBe('400 invalid_token');

    // No way back in through recovery either: organizations have no credentials to recover.
    const seen = service.emailCount(account.person.email);
    expect((await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress: account.person.email } })).status).toBe(202);
    const assistance = await service.call('POST', '/api/auth/sign-in-assistance', { body: { username: account.username } });
    expect(outcome(assistance)).toBe('404 user_not_found');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(service.emailsTo(account.person.email).slice(seen).map((e) => e.subject)).not.toContain('Reset your password');

    // The admin manages it like any organization, and the security logs say what happened.
    const newcomer = await service.confirmedUser();
    await service.inviteAndAccept(account.username, admin, newcomer, 'collaborator');
    expect(await service.organizationsOf(newcomer)).toEqual([{ name: account.username, role: 'collaborator' }]);
    const audit = await service.call('GET', '/api/me/audit', { token: admin.sessionToken });
    expect(audit.body.events.map((e: { action: string }) => e.action)).toContain('transform_accepted');
  });

  it('on reject, the account stays exactly as it was and may ask again', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const before = (await me(account)).body;
    const token = await requestTransform(account, admin);

    expect((await reject(admin, token)).status).toBe(204);

    expect((await me(account)).body).toEqual(before);
    expect((await signInWithMicrosoft(account)).body).toMatchObject({ status: 'signed_in', account: { username: account.username } });
    expect(outcome(await service.call('GET', `/api/organizations/${account.username}`, { token: admin.sessionToken }))).toBe('404 not_found');
    expect(await service.organizationsOf(admin)).toEqual([]);
    expect(outcome(await accept(admin, token))).toBe('400 invalid_token');

    const again = await requestTransform(account, admin);
    expect((await accept(admin, again)).status).toBe(200);
    await expectTransformed(account, admin);
  });

  it('the account can cancel it: 204, and the token no longer accepts or rejects', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const token = await requestTransform(account, admin);

    expect((await cancel(account)).status).toBe(204);
    expect(outcome(await accept(admin, token))).toBe('400 invalid_token');
    expect(outcome(await reject(admin, token))).toBe('400 invalid_token');
    expect((await me(account)).body).toMatchObject({ kind: 'user', organizations: [] });
    expect((await signInWithMicrosoft(account)).body.status).toBe('signed_in');
    // Nothing pending: cancelling again is still 204.
    expect((await cancel(account)).status).toBe(204);
  });

  it.each([
    ['the same admin', false],
    ['another admin', true],
  ])('asking again, of %s, replaces the earlier request', async (_label, anotherAdmin) => {
    const account = await service.confirmedUser();
    const first = await service.confirmedUser();
    const second = anotherAdmin ? await service.confirmedUser() : first;
    const earlier = await requestTransform(account, first);
    const later = await requestTransform(account, second);
    expect(later).not.toBe(earlier);

    expect(outcome(await accept(first, earlier))).toBe('400 invalid_token');
    expect(outcome(await reject(first, earlier))).toBe('400 invalid_token');
    expect((await me(account)).body.kind).toBe('user');
    expect((await accept(second, later)).status).toBe(200);
    await expectTransformed(account, second);
    if (anotherAdmin) expect(await service.organizationsOf(first)).toEqual([]);
  });

  it('the admin cannot accept once the account has joined an organization since it asked', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const token = await requestTransform(account, admin);
    await service.createOrganization(account);

    expect(outcome(await accept(admin, token))).toBe('409 transform_not_allowed');
    expect((await me(account)).body.kind).toBe('user');
    expect(await service.organizationsOf(admin)).toEqual([]);
  });

  it('a join made while the accept is being written wins: 409 transform_not_allowed, and the account stays a member', async () => {
    const [account, admin, organizationAdmin] = await Promise.all([service.confirmedUser(), service.confirmedUser(), service.confirmedUser()]);
    const { name } = await service.createOrganization(organizationAdmin);
    const invitation = await service.invite(name, organizationAdmin, account);
    const token = await requestTransform(account, admin);
    const { id } = (await me(account)).body;
    // The accept has read the account, with no organization, and its write waits while the account joins one.
    const write = service.cosmos.holdNext(new RegExp(`^PUT .*/colls/accounts/docs/${id}$`));
    const accepting = accept(admin, token);
    await write.reached;
    expect((await service.acceptInvitation(name, account, invitation)).status).toBe(200);
    write.release();

    expect(outcome(await accepting)).toBe('409 transform_not_allowed');
    expect((await me(account)).body.kind).toBe('user');
    expect(await service.organizationsOf(account)).toEqual([{ name, role: 'collaborator' }]);
  });
});

describe('an accept interrupted halfway', () => {
  const accountsDoc = (id: string) => new RegExp(`^PUT .*/colls/accounts/docs/${id}$`);

  it('dies after the account became an organization but before the admin’s membership was mirrored; accepting again finishes it', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const adminId = (await me(admin)).body.id as string;
    const token = await requestTransform(account, admin);

    service.cosmos.failNext(accountsDoc(adminId), 500);
    const interrupted = await accept(admin, token);
    expect(outcome(interrupted)).toBe('500 internal_error');
    expect(interrupted.text).not.toMatch(/InjectedFault|colls|stack/i);

    // Halfway: the account is an organization already, but the admin's own list does not show it yet.
    expect(outcome(await me(account))).toBe('401 unauthorized');
    expect(await service.organizationsOf(admin)).toEqual([]);
    // There is no way back from halfway: rejecting is refused; only accepting again goes on.
    expect(outcome(await reject(admin, token))).toBe('400 invalid_token');

    const finished = await accept(admin, token);
    expect(finished.status).toBe(200);
    await expectTransformed(account, admin);
    expect(outcome(await accept(admin, token))).toBe('400 invalid_token');
  });

  /** Each write of the accept in turn, as `METHOD url` patterns; `ids` are the account's and the admin's. */
  const steps: Array<[string, (ids: { account: string; admin: string }) => RegExp]> = [
    ['turning the account into an organization', (ids) => accountsDoc(ids.account)],
    ["releasing the account's Microsoft account", () => /^DELETE .*\/colls\/claims\/docs\/microsoft:/],
    ["adding the organization to the admin's list", (ids) => accountsDoc(ids.admin)],
    ['spending the token', () => /^DELETE .*\/colls\/tokens\/docs\//],
  ];

  it.each(steps)('fails at %s: 500, then accepting again gives 200 and a finished transform, then invalid_token', async (_step, write) => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const ids = { account: (await me(account)).body.id as string, admin: (await me(admin)).body.id as string };
    const token = await requestTransform(account, admin);

    service.cosmos.reset();
    const fault = write(ids);
    service.cosmos.failNext(fault, 500);
    expect(outcome(await accept(admin, token))).toBe('500 internal_error');
    expect(service.cosmos.documentRequests().some((line) => fault.test(line))).toBe(true);

    expect((await accept(admin, token)).status).toBe(200);
    await expectTransformed(account, admin);
    expect(outcome(await accept(admin, token))).toBe('400 invalid_token');
  });

  it('waits for the same admin: a halfway accept cannot be finished by anyone else', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const someoneElse = await service.confirmedUser();
    const adminId = (await me(admin)).body.id as string;
    const token = await requestTransform(account, admin);

    service.cosmos.failNext(accountsDoc(adminId), 500);
    expect((await accept(admin, token)).status).toBe(500);
    expect(outcome(await accept(someoneElse, token))).toBe('400 invalid_token');
    expect(await service.organizationsOf(someoneElse)).toEqual([]);
    expect((await accept(admin, token)).status).toBe(200);
    await expectTransformed(account, admin);
  });
});
