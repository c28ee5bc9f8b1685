import { useTestService, type ApiResponse } from './support/service';
import { uniqueName } from './support/people';
import type { Member } from './support/organizations';

const service = useTestService();

/**
 * One organization with someone in every position: its admin, a collaborator, a confirmed outsider, a
 * former collaborator an admin removed, an account with a pending invitation (whose token the others try),
 * and a confirmed account nobody invited yet (whom admins invite).
 */
interface Fixture {
  name: string;
  admin: Member;
  collaborator: Member;
  outsider: Member;
  removed: Member;
  invitee: Member;
  invitationToken: string;
  newcomer: Member;
}

async function organizationWithEveryone(): Promise<Fixture> {
  const [admin, collaborator, outsider, removed, invitee, newcomer] = await Promise.all(
    Array.from({ length: 6 }, () => service.confirmedUser()),
  );
  const { name } = await service.createOrganization(admin);
  await service.inviteAndAccept(name, admin, collaborator, 'collaborator');
  await service.inviteAndAccept(name, admin, removed, 'collaborator');
  await service.removeMember(name, admin, removed);
  const invitationToken = await service.invite(name, admin, invitee, 'collaborator');
  return { name, admin, collaborator, outsider, removed, invitee, invitationToken, newcomer };
}

const ROLES = ['admin', 'collaborator', 'outsider', 'removed', 'no session'] as const;
type Role = (typeof ROLES)[number];

const sessionOf = (f: Fixture, role: Role): Member | undefined => (role === 'no session' ? undefined : f[role]);

interface Request {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
}

/**
 * Every organization route, as `role` would call it on the organization named `name` (the fixture's own, or
 * one that does not exist). Where a route names a member, each role names the one that tests it hardest:
 * the collaborator tries to promote itself and to remove the admin.
 */
const ROUTES = {
  'GET organizations/{name}': (_f: Fixture, _role: Role, name: string): Request => ({ method: 'GET', path: `/api/organizations/${name}` }),
  'DELETE organizations/{name}': (_f: Fixture, _role: Role, name: string): Request => ({ method: 'DELETE', path: `/api/organizations/${name}` }),
  'POST members (invite)': (f: Fixture, _role: Role, name: string): Request => ({
    method: 'POST',
    path: `/api/organizations/${name}/members`,
    body: { username: f.newcomer.username, role: 'collaborator' },
  }),
  "POST members/accept (another's invitation)": (f: Fixture, _role: Role, name: string): Request => ({
    method: 'POST',
    path: `/api/organizations/${name}/members/accept`,
    body: { token: f.invitationToken },
  }),
  "POST members/reject (another's invitation)": (f: Fixture, _role: Role, name: string): Request => ({
    method: 'POST',
    path: `/api/organizations/${name}/members/reject`,
    body: { token: f.invitationToken },
  }),
  'PUT members/{collaborator} → admin': (f: Fixture, _role: Role, name: string): Request => ({
    method: 'PUT',
    path: `/api/organizations/${name}/members/${f.collaborator.username}`,
    body: { role: 'admin' },
  }),
  'DELETE members/{another member}': (f: Fixture, role: Role, name: string): Request => ({
    method: 'DELETE',
    path: `/api/organizations/${name}/members/${role === 'collaborator' ? f.admin.username : f.collaborator.username}`,
  }),
  'DELETE members/{self} (leave)': (f: Fixture, role: Role, name: string): Request => ({
    method: 'DELETE',
    path: `/api/organizations/${name}/members/${(sessionOf(f, role) ?? f.collaborator).username}`,
  }),
  'DELETE invitations/{invitee}': (f: Fixture, _role: Role, name: string): Request => ({
    method: 'DELETE',
    path: `/api/organizations/${name}/invitations/${f.invitee.username}`,
  }),
  'POST members/{another member}/revoke-keys': (f: Fixture, role: Role, name: string): Request => ({
    method: 'POST',
    path: `/api/organizations/${name}/members/${role === 'collaborator' ? f.admin.username : f.collaborator.username}/revoke-keys`,
  }),
  'POST freeze': (_f: Fixture, _role: Role, name: string): Request => ({
    method: 'POST',
    path: `/api/organizations/${name}/freeze`,
    body: { reason: 'A member lost a laptop' },
  }),
  'POST unfreeze': (_f: Fixture, _role: Role, name: string): Request => ({ method: 'POST', path: `/api/organizations/${name}/unfreeze` }),
} as const;
type Route = keyof typeof ROUTES;

/**
 * The matrix: what each role gets from each route, as `status[ code]`.
 * - Outsiders and removed members learn nothing: the same 404 as for an organization that does not exist.
 * - Accept and reject belong to the invited account alone, who is no member yet: for anyone else the token
 *   is simply not valid (`invalid_token`), whether or not the organization exists, members included.
 * - The admin's 409s are answers past the authorization check: the organization still has a collaborator
 *   (`organization_not_empty`), and its only admin cannot leave (`last_admin`).
 */
// prettier-ignore
const MATRIX: Record<Route, Record<Role, string>> = {
  //                                              admin                         collaborator          outsider                removed                 no session
  'GET organizations/{name}':                    { admin: '200',                  collaborator: '200',                outsider: '404 not_found',   removed: '404 not_found',   'no session': '401 unauthorized' },
  'DELETE organizations/{name}':                 { admin: '409 organization_not_empty', collaborator: '403 admin_required', outsider: '404 not_found', removed: '404 not_found',   'no session': '401 unauthorized' },
  'POST members (invite)':                       { admin: '202',                  collaborator: '403 admin_required', outsider: '404 not_found',   removed: '404 not_found',   'no session': '401 unauthorized' },
  "POST members/accept (another's invitation)":  { admin: '400 invalid_token',    collaborator: '400 invalid_token',  outsider: '400 invalid_token', removed: '400 invalid_token', 'no session': '401 unauthorized' },
  "POST members/reject (another's invitation)":  { admin: '400 invalid_token',    collaborator: '400 invalid_token',  outsider: '400 invalid_token', removed: '400 invalid_token', 'no session': '401 unauthorized' },
  'PUT members/{collaborator} → admin':          { admin: '204',                  collaborator: '403 admin_required', outsider: '404 not_found',   removed: '404 not_found',   'no session': '401 unauthorized' },
  'DELETE members/{another member}':             { admin: '204',                  collaborator: '403 admin_required', outsider: '404 not_found',   removed: '404 not_found',   'no session': '401 unauthorized' },
  'DELETE members/{self} (leave)':               { admin: '409 last_admin',       collaborator: '204',                outsider: '404 not_found',   removed: '404 not_found',   'no session': '401 unauthorized' },
  'DELETE invitations/{invitee}':                { admin: '204',                  collaborator: '403 admin_required', outsider: '404 not_found',   removed: '404 not_found',   'no session': '401 unauthorized' },
  'POST members/{another member}/revoke-keys':   { admin: '204',                  collaborator: '403 admin_required', outsider: '404 not_found',   removed: '404 not_found',   'no session': '401 unauthorized' },
  'POST freeze':                                 { admin: '200',                  collaborator: '403 admin_required', outsider: '404 not_found',   removed: '404 not_found',   'no session': '401 unauthorized' },
  'POST unfreeze':                               { admin: '200',                  collaborator: '403 admin_required', outsider: '404 not_found',   removed: '404 not_found',   'no session': '401 unauthorized' },
};

/** What a call that was allowed must have changed, seen through the API. */
const EFFECTS: Partial<Record<`${Route} × ${Role}`, (f: Fixture, response: ApiResponse) => Promise<void>>> = {
  'GET organizations/{name} × admin': async (f, response) => {
    expect(response.body).toEqual({
      name: f.name,
      members: expect.arrayContaining([
        { username: f.admin.username, role: 'admin' },
        { username: f.collaborator.username, role: 'collaborator' },
      ]),
      frozen: null,
      emailAddress: expect.any(String),
      emailConfirmed: false,
      emailDomainLapsed: false,
      pendingInvitations: [
        { username: f.invitee.username, role: 'collaborator', invitedAt: expect.any(String), expiresAt: expect.any(String) },
      ],
    });
    expect(response.body.members).toHaveLength(2);
  },
  'GET organizations/{name} × collaborator': async (f, response) => {
    expect(Object.keys(response.body).sort()).toEqual(['frozen', 'members', 'name']);
    expect(response.body.name).toBe(f.name);
    expect(response.body.members).toHaveLength(2);
    expect(response.body.members).toEqual(
      expect.arrayContaining([
        { username: f.admin.username, role: 'admin' },
        { username: f.collaborator.username, role: 'collaborator' },
      ]),
    );
  },
  'POST members (invite) × admin': async (f) => {
    const view = await adminView(f);
    expect(view.pendingInvitations.map((i: { username: string }) => i.username).sort()).toEqual([f.invitee.username, f.newcomer.username].sort());
  },
  'PUT members/{collaborator} → admin × admin': async (f) => {
    expect((await adminView(f)).members).toContainEqual({ username: f.collaborator.username, role: 'admin' });
    expect(await service.organizationsOf(f.collaborator)).toEqual([{ name: f.name, role: 'admin' }]);
  },
  'DELETE members/{another member} × admin': async (f) => {
    expect((await adminView(f)).members).toEqual([{ username: f.admin.username, role: 'admin' }]);
    expect(await service.organizationsOf(f.collaborator)).toEqual([]);
    expect((await call(f.collaborator, { method: 'GET', path: `/api/organizations/${f.name}` })).status).toBe(404);
  },
  'DELETE members/{self} (leave) × collaborator': async (f) => {
    expect((await adminView(f)).members).toEqual([{ username: f.admin.username, role: 'admin' }]);
    expect(await service.organizationsOf(f.collaborator)).toEqual([]);
    expect((await call(f.collaborator, { method: 'GET', path: `/api/organizations/${f.name}` })).status).toBe(404);
  },
  'POST freeze × admin': async (f, response) => {
    const frozen = { at: expect.any(String), by: f.admin.username, reason: 'A member lost a laptop' };
    expect(response.body).toMatchObject({ name: f.name, frozen });
    expect((await adminView(f)).frozen).toEqual(frozen);
  },
  'DELETE invitations/{invitee} × admin': async (f) => {
    expect((await adminView(f)).pendingInvitations).toEqual([]);
    const accepted = await call(f.invitee, {
      method: 'POST',
      path: `/api/organizations/${f.name}/members/accept`,
      body: { token: f.invitationToken },
    });
    expect(accepted.status).toBe(400);
    expect(accepted.body.code).toBe('invalid_token');
  },
};

const call = (member: Member | undefined, request: Request) =>
  service.call(request.method, request.path, { token: member?.sessionToken, body: request.body });

async function adminView(f: Fixture) {
  const response = await call(f.admin, { method: 'GET', path: `/api/organizations/${f.name}` });
  expect(response.status).toBe(200);
  return response.body;
}

/** A refused call's problem, with the organization's name taken out, to compare with another's. */
function withoutName(response: ApiResponse, name: string) {
  return { status: response.status, ...response.body, detail: String(response.body?.detail).split(name).join('{name}') };
}

const cells = (Object.keys(MATRIX) as Route[]).flatMap((route) =>
  ROLES.map((role) => {
    const expected = MATRIX[route][role];
    const [status, code] = expected.split(' ');
    return { route, role, expected, status: Number(status), code };
  }),
);

describe('the authorization matrix: every role × every organization route', () => {
  // Refused calls change nothing, so they share one organization; allowed changes each get a fresh one.
  let shared: Fixture;
  beforeAll(async () => {
    shared = await organizationWithEveryone();
  });

  it.each(cells)('$route × $role → $expected', async ({ route, role, expected, status, code }) => {
    // A call allowed to change something gets an organization of its own (freezing answers 200).
    const changes = status < 300 && !route.startsWith('GET ');
    const f = changes ? await organizationWithEveryone() : shared;
    const before = changes ? undefined : await adminView(f);

    const response = await call(sessionOf(f, role), ROUTES[route](f, role, f.name));

    expect(`${response.status} ${response.body?.code ?? ''}`.trim()).toBe(expected);
    if (status >= 400) {
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.text).not.toContain(f.admin.person.email);
    }
    if (code === 'organization_not_empty') expect(response.body.detail).toContain(f.collaborator.username);

    // Outsiders, removed members and strangers get exactly what they would for an organization that
    // does not exist: no hint that this one does.
    if (role === 'outsider' || role === 'removed' || role === 'no session') {
      const missing = uniqueName('org');
      const elsewhere = await call(sessionOf(f, role), ROUTES[route](f, role, missing));
      expect(withoutName(response, f.name)).toEqual(withoutName(elsewhere, missing));
    }

    if (before) expect(await adminView(f)).toEqual(before);
    await EFFECTS[`${route} × ${role}`]?.(f, response);
  });

  it('leaves the invitation that others tried to use or decline intact for the invited account', async () => {
    const accepted = await call(shared.invitee, {
      method: 'POST',
      path: `/api/organizations/${shared.name}/members/accept`,
      body: { token: shared.invitationToken },
    });
    expect(accepted.status).toBe(200);
    expect(await service.organizationsOf(shared.invitee)).toEqual([{ name: shared.name, role: 'collaborator' }]);
  });
});

describe('access follows membership at once', () => {
  it('a removed member loses access with its very next call, and GET /api/me no longer lists the organization', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, member, 'collaborator');
    const get = () => call(member, { method: 'GET', path: `/api/organizations/${name}` });
    expect((await get()).status).toBe(200);
    expect(await service.organizationsOf(member)).toEqual([{ name, role: 'collaborator' }]);

    await service.removeMember(name, admin, member);

    // The same session, unchanged: the organization is now as unknown to it as one that never existed.
    const after = await get();
    expect(after.status).toBe(404);
    const missing = uniqueName('org');
    const nowhere = await call(member, { method: 'GET', path: `/api/organizations/${missing}` });
    expect(withoutName(after, name)).toEqual(withoutName(nowhere, missing));
    expect(await service.organizationsOf(member)).toEqual([]);
    const leaveAgain = await call(member, { method: 'DELETE', path: `/api/organizations/${name}/members/${member.username}` });
    expect(leaveAgain.status).toBe(404);
  });

  it('an admin made a collaborator loses the admin actions and the admin view at once; promoted, gains them at once', async () => {
    const founder = await service.confirmedUser();
    const second = await service.confirmedUser();
    const newcomer = await service.confirmedUser();
    const { name } = await service.createOrganization(founder);
    await service.inviteAndAccept(name, founder, second, 'admin');
    expect((await call(second, { method: 'GET', path: `/api/organizations/${name}` })).body).toHaveProperty('pendingInvitations');

    const demoted = await call(founder, { method: 'PUT', path: `/api/organizations/${name}/members/${second.username}`, body: { role: 'collaborator' } });
    expect(demoted.status).toBe(204);
    const view = await call(second, { method: 'GET', path: `/api/organizations/${name}` });
    expect(view.status).toBe(200);
    expect(view.body).not.toHaveProperty('emailAddress');
    expect(view.body).not.toHaveProperty('pendingInvitations');
    const refused = await call(second, { method: 'POST', path: `/api/organizations/${name}/members`, body: { username: newcomer.username, role: 'admin' } });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('admin_required');
    expect(await service.organizationsOf(second)).toEqual([{ name, role: 'collaborator' }]);

    const promoted = await call(founder, { method: 'PUT', path: `/api/organizations/${name}/members/${second.username}`, body: { role: 'admin' } });
    expect(promoted.status).toBe(204);
    const invited = await call(second, { method: 'POST', path: `/api/organizations/${name}/members`, body: { username: newcomer.username, role: 'admin' } });
    expect(invited.status).toBe(202);
  });

  it("gives the same 404 for another's organization, a deleted one, an individual account's name and a name nobody has", async () => {
    const admin = await service.confirmedUser();
    const stranger = await service.confirmedUser();
    const others = await service.createOrganization(await service.confirmedUser());
    const deleted = await service.createOrganization(admin);
    expect((await call(admin, { method: 'DELETE', path: `/api/organizations/${deleted.name}` })).status).toBe(204);

    const names = [others.name, others.name.toUpperCase(), deleted.name, stranger.username, uniqueName('org')];
    const answers = await Promise.all(names.map((name) => call(admin, { method: 'GET', path: `/api/organizations/${name}` })));
    const normalised = answers.map((answer, i) => withoutName(answer, names[i]));
    expect(normalised[0]).toMatchObject({ status: 404, code: 'not_found' });
    for (const other of normalised.slice(1)) expect(other).toEqual(normalised[0]);
    expect(await service.organizationsOf(admin)).toEqual([]);
  });

  it('an invited account is an outsider until it accepts', async () => {
    const admin = await service.confirmedUser();
    const invitee = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const token = await service.invite(name, admin, invitee, 'admin');

    const before = await call(invitee, { method: 'GET', path: `/api/organizations/${name}` });
    expect(before.status).toBe(404);
    expect(before.body.code).toBe('not_found');
    const cancel = await call(invitee, { method: 'DELETE', path: `/api/organizations/${name}/invitations/${invitee.username}` });
    expect(cancel.status).toBe(404);

    // Its own token names its organization: under another name it is not valid, existing or not.
    const other = await service.createOrganization(admin);
    for (const elsewhere of [other.name, uniqueName('org')]) {
      const wrongPlace = await call(invitee, { method: 'POST', path: `/api/organizations/${elsewhere}/members/accept`, body: { token } });
      expect(`${wrongPlace.status} ${wrongPlace.body.code}`).toBe('400 invalid_token');
    }

    expect((await call(invitee, { method: 'POST', path: `/api/organizations/${name}/members/accept`, body: { token } })).status).toBe(200);
    const after = await call(invitee, { method: 'GET', path: `/api/organizations/${name}` });
    expect(after.status).toBe(200);
    expect(after.body).toHaveProperty('pendingInvitations');
  });
});
