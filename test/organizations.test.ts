import { randomUUID } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService } from './support/service';
import { invitationSubject, type Member } from './support/organizations';
import { newPerson, uniqueName } from './support/people';
import { emailsTo, tokenIn } from './support/waitFor';

const service = useTestService();

type User = Member;

const getOrganization = (user: User, organization: string) =>
  service.call('GET', `/api/organizations/${organization}`, { token: user.sessionToken });

const me = async (user: User) => (await service.call('GET', '/api/me', { token: user.sessionToken })).body;

describe('creating an organization', () => {
  it('makes the creator its admin and mails the organization address a confirmation link', async () => {
    const admin = await service.confirmedUser();
    const emailAddress = newPerson().email;
    const name = uniqueName('Contoso');
    const response = await service.call('POST', '/api/organizations', { token: admin.sessionToken, body: { name, emailAddress } });

    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      name,
      members: [{ username: admin.username, role: 'admin' }],
      frozen: null,
      emailAddress,
      emailConfirmed: false,
      emailDomainLapsed: false,
      pendingInvitations: [],
    });
    expect((await me(admin)).organizations).toEqual([{ name, role: 'admin' }]);

    const email = await service.waitForEmailTo(emailAddress, `Confirm the email address of ${name}`);
    expect((await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(email.links[0]) } })).status).toBe(200);
    expect((await getOrganization(admin, name.toUpperCase())).body.emailConfirmed).toBe(true);
  });

  it('needs a confirmed email address', async () => {
    const { sessionToken } = await service.register();
    const response = await service.call('POST', '/api/organizations', {
      token: sessionToken,
      body: { name: uniqueName('org'), emailAddress: newPerson().email },
    });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('email_unconfirmed');
  });

  it('shares the username namespace and the email addresses with individual accounts', async () => {
    const admin = await service.confirmedUser();
    const takenName = await service.call('POST', '/api/organizations', {
      token: admin.sessionToken,
      body: { name: admin.username.toUpperCase(), emailAddress: newPerson().email },
    });
    expect(takenName.status).toBe(409);
    expect(takenName.body).toMatchObject({ code: 'username_unavailable', detail: `The username '${admin.username.toUpperCase()}' is not available.` });

    const takenEmail = await service.call('POST', '/api/organizations', {
      token: admin.sessionToken,
      body: { name: uniqueName('org'), emailAddress: admin.person.email },
    });
    expect(takenEmail.status).toBe(409);
    expect(takenEmail.body.code).toBe('email_in_use');

    const { name, emailAddress } = await service.createOrganization(admin);
    const person = newPerson({ email: emailAddress });
    const registerAsOrganization = await service.call('POST', '/api/accounts', {
      body: { idToken: service.idTokenFor(person), username: name.toLowerCase() },
    });
    expect(registerAsOrganization.body.code).toBe('username_unavailable');
    const registerWithItsEmail = await service.call('POST', '/api/accounts', {
      body: { idToken: service.idTokenFor(person), username: uniqueName() },
    });
    expect(registerWithItsEmail.body.code).toBe('email_in_use');
  });

  it('follows the naming rule', async () => {
    const admin = await service.confirmedUser();
    const response = await service.call('POST', '/api/organizations', {
      token: admin.sessionToken,
      body: { name: '-bad name-', emailAddress: newPerson().email },
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid_username');
  });
});

describe('invitations', () => {
  it('invites by username with an emailed token; accepting makes a member', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const token = await service.invite(name, admin, member);

    const pending = (await getOrganization(admin, name)).body.pendingInvitations;
    expect(pending).toEqual([{ username: member.username, role: 'collaborator', invitedAt: expect.any(String), expiresAt: expect.any(String) }]);
    expect(Date.parse(pending[0].expiresAt) - Date.parse(pending[0].invitedAt)).toBe(7 * 24 * 60 * 60 * 1000);

    expect((await service.acceptInvitation(name, member, token)).status).toBe(200);
    const organization = await getOrganization(member, name);
    expect(organization.body).toEqual({
      name,
      members: [
        { username: admin.username, role: 'admin' },
        { username: member.username, role: 'collaborator' },
      ],
      frozen: null,
    });
    expect((await me(member)).organizations).toEqual([{ name, role: 'collaborator' }]);
    expect((await getOrganization(admin, name)).body.pendingInvitations).toEqual([]);
  });

  it('invites individual, confirmed accounts by username only', async () => {
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const other = await service.createOrganization(admin);
    const unconfirmed = await service.register();
    const cases: Array<[unknown, number, string]> = [
      [{ username: other.name, role: 'collaborator' }, 400, 'member_is_organization'],
      [{ username: unconfirmed.username, role: 'collaborator' }, 400, 'email_unconfirmed'],
      [{ username: admin.username, role: 'admin' }, 409, 'already_member'],
      [{ username: 'nobody-by-this-name', role: 'collaborator' }, 404, 'user_not_found'],
      [{ username: unconfirmed.username, role: 'owner' }, 400, 'invalid_request'],
      [{ emailAddress: unconfirmed.person.email, role: 'collaborator' }, 400, 'invalid_request'],
    ];
    for (const [body, status, code] of cases) {
      const response = await service.call('POST', `/api/organizations/${name}/members`, { token: admin.sessionToken, body });
      expect(`${JSON.stringify(body)} → ${response.status} ${response.body.code}`).toBe(`${JSON.stringify(body)} → ${status} ${code}`);
    }
  });

  it('lets only the invited account use the token, once, within 7 days', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const stranger = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const token = await service.invite(name, admin, member);

    expect((await service.acceptInvitation(name, stranger, token)).body.code).toBe('invalid_token');
    expect((await service.acceptInvitation(uniqueName('elsewhere'), member, token)).body.code).toBe('invalid_token');
    expect((await service.acceptInvitation(name, member, token)).status).toBe(200);
    expect((await service.acceptInvitation(name, member, token)).body.code).toBe('invalid_token');

    const late = await service.confirmedUser();
    const lateToken = await service.invite(name, admin, late);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 8 * 24 * 60 * 60 * 1000));
    // Eight days on, the invitee signs in afresh; the invitation did not wait.
    const signIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(late.person) } });
    const expired = await service.acceptInvitation(name, { ...late, sessionToken: signIn.body.sessionToken }, lateToken);
    jest.restoreAllMocks();
    expect(expired.status).toBe(400);
    expect(expired.body.code).toBe('invalid_token');
  });

  it('replaces an earlier invitation when inviting again', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const first = await service.invite(name, admin, member, 'collaborator');
    const second = await service.invite(name, admin, member, 'admin');

    expect((await getOrganization(admin, name)).body.pendingInvitations).toHaveLength(1);
    expect((await service.acceptInvitation(name, member, first)).body.code).toBe('invalid_token');
    expect((await service.acceptInvitation(name, member, second)).status).toBe(200);
    expect((await me(member)).organizations).toEqual([{ name, role: 'admin' }]);
  });

  it('can be rejected by the invited account or cancelled by an admin', async () => {
    const admin = await service.confirmedUser();
    const rejecting = await service.confirmedUser();
    const cancelled = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const rejectToken = await service.invite(name, admin, rejecting);
    const cancelToken = await service.invite(name, admin, cancelled);

    const rejected = await service.call('POST', `/api/organizations/${name}/members/reject`, {
      token: rejecting.sessionToken,
      body: { token: rejectToken },
    });
    expect(rejected.status).toBe(204);
    expect((await service.acceptInvitation(name, rejecting, rejectToken)).body.code).toBe('invalid_token');

    const cancel = await service.call('DELETE', `/api/organizations/${name}/invitations/${cancelled.username}`, { token: admin.sessionToken });
    expect(cancel.status).toBe(204);
    expect((await service.acceptInvitation(name, cancelled, cancelToken)).body.code).toBe('invalid_token');
    expect((await getOrganization(admin, name)).body).toMatchObject({ members: [{ username: admin.username }], pendingInvitations: [] });
  });
});

describe("an organization's waiting invitations", () => {
  const DAY_MS = 24 * 60 * 60 * 1000;

  /** The organization's document as stored, by the claim on its name. */
  async function organizationDocument(name: string) {
    const claim = `username:${name.toLowerCase()}`;
    const { accountId } = (await container('claims').item(claim, claim).read()).resource;
    return (await container('accounts').item(accountId, accountId).read()).resource;
  }

  /** Invitations to accounts nobody asks about, `expiresInDays` from now (negative: expired), stored as the service stores them. */
  async function storeInvitations(name: string, count: number, expiresInDays: number) {
    const organization = await organizationDocument(name);
    const now = clock.now().getTime();
    const planted = Array.from({ length: count }, (_, i) => ({
      accountId: randomUUID(),
      username: `someone-${i}-${randomUUID().slice(0, 8)}`,
      role: 'collaborator',
      tokenId: randomUUID(),
      invitedAt: new Date(now + (expiresInDays - 7) * DAY_MS).toISOString(),
      expiresAt: new Date(now + expiresInDays * DAY_MS).toISOString(),
    }));
    await container('accounts').items.upsert({ ...organization, pendingInvitations: [...organization.pendingInvitations, ...planted] });
  }

  const inviteBy = (admin: User, name: string, invitee: User) =>
    service.call('POST', `/api/organizations/${name}/members`, { token: admin.sessionToken, body: { username: invitee.username, role: 'collaborator' } });

  it('drops the expired ones with the next invitation, so the document does not grow with everyone ever invited', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await storeInvitations(name, 2000, -1);
    const grown = JSON.stringify(await organizationDocument(name)).length;

    await service.invite(name, admin, member);
    const document = await organizationDocument(name);
    expect(document.pendingInvitations.map((i: { username: string }) => i.username)).toEqual([member.username]);
    expect(JSON.stringify(document).length).toBeLessThan(grown / 100);
  });

  it('holds at most 50: the next is refused with 409 owner_limit before any email, unless it replaces one or one expires', async () => {
    const admin = await service.confirmedUser();
    const [again, refused] = await Promise.all([service.confirmedUser(), service.confirmedUser()]);
    const { name } = await service.createOrganization(admin);
    await storeInvitations(name, 48, 3);
    await storeInvitations(name, 1, 1 / (24 * 60));
    await service.invite(name, admin, again);

    const refusal = await inviteBy(admin, name, refused);
    expect(outcome(refusal)).toBe('409 owner_limit');
    expect(refusal.body.detail).toBe(
      `'${name}' has 50 member invitations waiting for an answer, as many as it may have. Cancel one, or wait for answers, then invite again.`,
    );
    // Inviting an account invited already replaces its invitation: still 50.
    expect(outcome(await inviteBy(admin, name, again))).toBe('202');
    expect((await getOrganization(admin, name)).body.pendingInvitations).toHaveLength(50);

    // Two minutes later one has expired: its place is free, and it goes from the document with the next invitation.
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 2 * 60_000));
    expect(outcome(await inviteBy(admin, name, refused))).toBe('202');
    expect((await organizationDocument(name)).pendingInvitations).toHaveLength(50);
    await service.host.runTimer('deliverPendingEmails');
    // The invitation refused sent nothing; the one that came through did.
    expect(emailsTo(service, refused.person.email).filter((e) => e.subject === invitationSubject(name))).toHaveLength(1);
  });

  it('lets invitations racing for the last places take exactly those; the others are refused and send nothing', async () => {
    const admin = await service.confirmedUser();
    const invitees = await Promise.all(Array.from({ length: 6 }, () => service.confirmedUser()));
    const { name } = await service.createOrganization(admin);
    await storeInvitations(name, 48, 3);

    const answers = await Promise.all(invitees.map((invitee) => inviteBy(admin, name, invitee)));
    expect(answers.map(outcome).sort()).toEqual(['202', '202', '409 owner_limit', '409 owner_limit', '409 owner_limit', '409 owner_limit']);
    expect((await organizationDocument(name)).pendingInvitations).toHaveLength(50);
    await service.host.runTimer('deliverPendingEmails');
    const invited = invitees.filter((_, i) => answers[i].status === 202);
    const mailed = invitees.filter((invitee) => emailsTo(service, invitee.person.email).some((e) => e.subject === invitationSubject(name)));
    expect(mailed.map((m) => m.username).sort()).toEqual(invited.map((m) => m.username).sort());
  });
});

describe('roles and leaving', () => {
  async function organizationWith(memberRole: 'admin' | 'collaborator') {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    expect((await service.acceptInvitation(name, member, await service.invite(name, admin, member, memberRole))).status).toBe(200);
    return { admin, member, name };
  }

  const setRole = (caller: User, organization: string, username: string, role: string) =>
    service.call('PUT', `/api/organizations/${organization}/members/${username}`, { token: caller.sessionToken, body: { role } });
  const remove = (caller: User, organization: string, username: string) =>
    service.call('DELETE', `/api/organizations/${organization}/members/${username}`, { token: caller.sessionToken });

  it('lets an admin change roles, shown to the member at once', async () => {
    const { admin, member, name } = await organizationWith('collaborator');
    expect((await setRole(admin, name, member.username.toUpperCase(), 'admin')).status).toBe(204);
    expect((await me(member)).organizations).toEqual([{ name, role: 'admin' }]);
    expect((await getOrganization(member, name)).body.emailAddress).toBeDefined();
  });

  it('always keeps an admin: the last one can neither step down nor leave', async () => {
    const { admin, member, name } = await organizationWith('collaborator');
    const stepDown = await setRole(admin, name, admin.username, 'collaborator');
    expect(stepDown.status).toBe(409);
    expect(stepDown.body.code).toBe('last_admin');
    expect((await remove(admin, name, admin.username)).body.code).toBe('last_admin');

    expect((await setRole(admin, name, member.username, 'admin')).status).toBe(204);
    expect((await remove(admin, name, admin.username)).status).toBe(204);
    expect((await me(admin)).organizations).toEqual([]);
    expect((await getOrganization(admin, name)).status).toBe(404);
  });

  it('keeps an admin when two admins demote each other at the same moment', async () => {
    const { admin, member, name } = await organizationWith('admin');
    const answers = await Promise.all([
      setRole(admin, name, member.username, 'collaborator'),
      setRole(member, name, admin.username, 'collaborator'),
    ]);
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses[0]).toBe(204);
    const members = (await getOrganization(admin, name)).body.members as Array<{ role: string }>;
    expect(members.filter((m) => m.role === 'admin').length).toBeGreaterThanOrEqual(1);
  });

  it('lets a collaborator leave', async () => {
    const { member, name } = await organizationWith('collaborator');
    expect((await remove(member, name, member.username)).status).toBe(204);
    expect((await me(member)).organizations).toEqual([]);
    expect((await getOrganization(member, name)).status).toBe(404);
  });
});

describe('deleting an organization', () => {
  it('refuses while other members remain, naming them; then deletes and keeps the name reserved', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name, emailAddress } = await service.createOrganization(admin);
    expect((await service.acceptInvitation(name, member, await service.invite(name, admin, member))).status).toBe(200);

    const refused = await service.call('DELETE', `/api/organizations/${name}`, { token: admin.sessionToken });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('organization_not_empty');
    expect(refused.body.detail).toContain(member.username);

    await service.call('DELETE', `/api/organizations/${name}/members/${member.username}`, { token: admin.sessionToken });
    expect((await service.call('DELETE', `/api/organizations/${name}`, { token: admin.sessionToken })).status).toBe(204);
    expect((await getOrganization(admin, name)).status).toBe(404);
    expect((await me(admin)).organizations).toEqual([]);

    const again = await service.call('POST', '/api/organizations', { token: admin.sessionToken, body: { name: name.toUpperCase(), emailAddress } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('username_unavailable');
    // Its address is free again.
    expect((await service.createOrganization(admin, uniqueName('org'), emailAddress)).emailAddress).toBe(emailAddress);
  });
});

describe('concurrent membership changes', () => {
  it('loses nothing: eight invitations accepted at the same moment give nine members', async () => {
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const members = await Promise.all(Array.from({ length: 8 }, () => service.confirmedUser()));
    const tokens: string[] = [];
    for (const member of members) tokens.push(await service.invite(name, admin, member));

    const answers = await Promise.all(members.map((member, i) => service.acceptInvitation(name, member, tokens[i])));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));

    const organization = (await getOrganization(admin, name)).body;
    expect(organization.members).toHaveLength(9);
    expect(organization.pendingInvitations).toEqual([]);
    for (const member of members) expect((await me(member)).organizations).toEqual([{ name, role: 'collaborator' }]);
  });
});

describe('the security log', () => {
  it('records membership events for the people involved', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.acceptInvitation(name, member, await service.invite(name, admin, member));
    await service.call('DELETE', `/api/organizations/${name}/members/${member.username}`, { token: member.sessionToken });

    const actions = async (user: User) =>
      (await service.call('GET', '/api/me/audit', { token: user.sessionToken })).body.events.map((e: { action: string }) => e.action);
    expect(await actions(admin)).toEqual(expect.arrayContaining(['organization_created', 'member_invited']));
    expect((await actions(member)).slice(0, 3)).toEqual(['organization_left', 'invitation_accepted', 'invitation_received']);
  });
});
