import { clock } from '../lib/shared/clock';
import { useTestService } from './support/service';
import type { Member } from './support/organizations';
import { newPerson, uniqueName } from './support/people';
import { tokenIn } from './support/waitFor';

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
