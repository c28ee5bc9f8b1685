import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { outcome, useTestService } from './support/service';
import type { Member } from './support/organizations';
import { newPerson, uniqueName } from './support/people';
import { tokenIn, waitFor } from './support/waitFor';

/**
 * Support's admin API, as site admins use it: who may call it, looking an account up, and locking and
 * unlocking accounts and organizations, with what a lock does to sessions, sign-in, keys and costs.
 */
const SITE_ADMIN = uniqueName('support');
const LOCKED_ADMIN = uniqueName('support-locked');
const RECOVERING_ADMIN = uniqueName('support-recovering');
const PASSWORD = 'correct horse battery staple 🐎';

const service = useTestService({ settings: { SITE_ADMINS: [SITE_ADMIN, LOCKED_ADMIN.toUpperCase(), RECOVERING_ADMIN].join(', ') } });

let admin: Member;
beforeAll(async () => {
  admin = await service.confirmedUser(undefined, SITE_ADMIN);
});

const tag = () => randomBytes(4).toString('hex');
const newId = () => `Locked${tag()}.Lib`;
const me = (member: Pick<Member, 'sessionToken'>) => service.call('GET', '/api/me', { token: member.sessionToken });
const signInWithMicrosoft = (member: Pick<Member, 'person'>) =>
  service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(member.person) } });
const passwordSignIn = (username: string, password: string) => service.call('POST', '/api/auth/password', { body: { username, password } });

/** A fresh full session for `member`, by signing in with its Microsoft account again. */
async function signedInAgain(member: Member): Promise<Member> {
  const response = await signInWithMicrosoft(member);
  expect(outcome(response)).toBe('200');
  return { ...member, sessionToken: response.body.sessionToken };
}

/** Every route only site admins may call, from the OpenAPI document, with its path parameters filled in. */
async function siteAdminRoutes(username: string): Promise<Array<{ method: string; path: string; body?: unknown }>> {
  const openApi = (await service.call('GET', '/api/openapi.json')).body;
  const routes: Array<{ method: string; path: string; body?: unknown }> = [];
  for (const [template, operations] of Object.entries<Record<string, any>>(openApi.paths)) {
    for (const [method, operation] of Object.entries<any>(operations)) {
      if (!operation.security?.some((scheme: any) => scheme.session?.includes('site_admin'))) continue;
      const path = `/api${template.replace(/\{\w+\}/g, username)}`;
      // A body the route would take from a site admin, so only the caller decides the answer.
      const body = operation.requestBody
        ? template.endsWith('/revoke')
          ? { key: `gak1.${'0'.repeat(32)}.${'A'.repeat(43)}` }
          : template.endsWith('/prefixes')
            ? { prefix: `Outsider${tag()}.`, owners: [username] }
            : { reason: 'Looking around' }
        : undefined;
      routes.push({ method: method.toUpperCase(), path, body });
    }
  }
  return routes;
}

const writes = () => service.cosmos.documentRequests().filter((line) => !line.startsWith('GET '));

describe('who may act for support', () => {
  it('lists every support action under /api/site-admin, for site admins', async () => {
    const routes = (await siteAdminRoutes('{username}')).map(({ method, path }) => `${method} ${path}`);
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /api/site-admin/accounts/{username}',
        'POST /api/site-admin/accounts/{username}/lock',
        'POST /api/site-admin/accounts/{username}/unlock',
        'POST /api/site-admin/accounts/{username}/delete',
        'POST /api/site-admin/usernames/{username}/release',
        'POST /api/site-admin/api-keys/revoke',
        'GET /api/site-admin/prefixes',
        'POST /api/site-admin/prefixes',
      ]),
    );
    expect(routes.every((route) => /^\w+ \/api\/site-admin\//.test(route))).toBe(true);
  });

  it('answers everyone else 403 site_admin_required, whatever they send, and changes nothing', async () => {
    const target = await service.confirmedUser();
    const outsider = await service.confirmedUser();
    // A site admin whose session is a password sign-in's, which only serves to link a Microsoft account.
    const recovering = await service.confirmedUser(undefined, RECOVERING_ADMIN);
    await service.setPasswordByEmail(recovering, PASSWORD);
    const recoverySignIn = await passwordSignIn(RECOVERING_ADMIN, PASSWORD);
    expect(recoverySignIn.body.status).toBe('password_login_discontinued');
    // A site admin (named in another casing in SITE_ADMINS) whom another admin locked: its session from before still verifies.
    const lockedAdmin = await service.confirmedUser(undefined, LOCKED_ADMIN);
    expect(outcome(await service.lookUpAccount(lockedAdmin, target.username))).toBe('200');
    expect(outcome(await service.lockAccount(admin, LOCKED_ADMIN, 'Left the support team'))).toBe('200');

    const callers: Array<[string, string]> = [
      ['an ordinary account', outsider.sessionToken],
      ["a site admin's recovery session", recoverySignIn.body.sessionToken],
      ['a locked site admin', lockedAdmin.sessionToken],
    ];
    const routes = await siteAdminRoutes(target.username);
    const complaints: string[] = [];
    service.cosmos.reset();
    for (const [who, token] of callers) {
      for (const { method, path, body } of routes) {
        // A real account's name, a name nobody holds, a malformed one, an unknown field: the same answer.
        const attempts = [
          { path, body },
          { path: path.replace(target.username, uniqueName('nobody')), body },
          { path: path.replace(target.username, 'bad%2Fname'), body },
          method === 'GET' ? { path: `${path}?unknown=1` } : { path, body: { ...((body as object) ?? {}), unknownField: true } },
        ];
        for (const attempt of attempts) {
          const response = await service.call(method, attempt.path, { token, body: attempt.body });
          if (outcome(response) !== '403 site_admin_required' || response.body.detail !== 'Only site admins can do this.') {
            complaints.push(`${who}: ${method} ${attempt.path} answered ${response.status} ${response.text}`);
          }
        }
      }
    }
    expect(complaints).toEqual([]);
    expect(writes()).toEqual([]);

    // Without a session: sign in first.
    for (const { method, path, body } of routes) expect(`${method} ${path} ${outcome(await service.call(method, path, { body }))}`).toBe(`${method} ${path} 401 unauthorized`);
    // The locked admin's session answers 401 everywhere else; the recovering admin's only reads GET /api/me.
    expect(outcome(await me(lockedAdmin))).toBe('401 unauthorized');
    expect(outcome(await service.call('GET', '/api/me', { token: recoverySignIn.body.sessionToken }))).toBe('200');
    // Nothing happened to the target.
    expect((await service.lookUpAccount(admin, target.username)).body).toMatchObject({ locked: null, deletion: null });
  });

  it('lets a site admin in with a full session, by the name on the account read now', async () => {
    const response = await service.lookUpAccount(admin, SITE_ADMIN.toUpperCase());
    expect(outcome(response)).toBe('200');
    expect(response.body.username).toBe(SITE_ADMIN);
  });
});

describe('looking an account up', () => {
  it('shows support the addresses, the Microsoft account, organizations, lock and deletion, and nothing internal', async () => {
    const user = await service.confirmedUser();
    const organization = await service.createOrganization(user);
    await service.setPasswordByEmail(user, PASSWORD);
    const person = user.person;

    const response = await service.lookUpAccount(admin, user.username.toUpperCase());
    expect(outcome(response)).toBe('200');
    expect(response.body).toEqual({
      id: expect.any(String),
      username: user.username,
      kind: 'user',
      emailAddress: person.email,
      emailConfirmed: true,
      emailDomainLapsed: null,
      pendingEmailAddress: null,
      microsoftAccount: { accountType: 'personal', email: person.email },
      hasPassword: true,
      organizations: [{ name: organization.name, role: 'admin' }],
      createdAt: expect.any(String),
      locked: null,
      deletion: null,
      deletedAt: null,
    });
    // Never the tenant or object id of the Microsoft account, the password's hash or the session version.
    expect(response.text).not.toContain(person.oid);
    expect(response.text).not.toMatch(/argon2|sessionVersion|securityStamp|apiKeyIds/);
  });

  it('shows a work account as such, and a deletion the account asked for', async () => {
    const worker = await service.register(newPerson({ tid: '72f988bf-86f1-41af-91ab-2d7cd011db47' }));
    await service.call('DELETE', '/api/me', { token: worker.sessionToken, body: { confirmUsername: worker.username } });
    const { body } = await service.lookUpAccount(admin, worker.username);
    expect(body.microsoftAccount).toEqual({ accountType: 'work', email: worker.person.email });
    expect(body.emailConfirmed).toBe(false);
    expect(body.deletion).toEqual({ requestedAt: expect.any(String), scheduledFor: expect.any(String), requestedBy: 'account', status: 'scheduled' });
  });

  it('shows an organization its address, members and invitations', async () => {
    const owner = await service.confirmedUser();
    const member = await service.confirmedUser();
    const invitee = await service.confirmedUser();
    const organization = await service.createOrganization(owner);
    await service.inviteAndAccept(organization.name, owner, member);
    await service.invite(organization.name, owner, invitee, 'admin');

    const { body } = await service.lookUpAccount(admin, organization.name);
    expect(body).toEqual({
      id: expect.any(String),
      username: organization.name,
      kind: 'organization',
      emailAddress: organization.emailAddress,
      emailConfirmed: false,
      emailDomainLapsed: null,
      members: expect.arrayContaining([
        { username: owner.username, role: 'admin' },
        { username: member.username, role: 'collaborator' },
      ]),
      pendingInvitations: [{ username: invitee.username, role: 'admin', invitedAt: expect.any(String), expiresAt: expect.any(String) }],
      frozen: null,
      createdAt: expect.any(String),
      locked: null,
      deletion: null,
      deletedAt: null,
    });
    expect(body.members).toHaveLength(2);
  });

  it('answers 404 for a name nobody holds, and 400 for one no account can have', async () => {
    expect(outcome(await service.lookUpAccount(admin, uniqueName('nobody')))).toBe('404 not_found');
    const bad = await service.lookUpAccount(admin, '-bad-');
    expect(outcome(bad)).toBe('400 invalid_request');
    expect(bad.body.detail).toContain("path parameter 'username'");
  });
});

describe('locking an account', () => {
  it('needs a reason of 1 to 500 characters; unlocking takes one, an empty object, or no body', async () => {
    const user = await service.confirmedUser();
    const path = `/api/site-admin/accounts/${user.username}/lock`;
    const noBody = await service.call('POST', path, { token: admin.sessionToken });
    expect(outcome(noBody)).toBe('400 invalid_request');
    expect(noBody.body.detail).toMatch(/body is required/);
    for (const body of [{}, { reason: '' }, { reason: '   ' }, { reason: 'x'.repeat(501) }, { reason: 5 }, { reason: 'ok', until: 'tomorrow' }]) {
      const refused = await service.call('POST', path, { token: admin.sessionToken, body });
      expect(outcome(refused)).toBe('400 invalid_request');
      expect(refused.body.detail).toMatch(/'reason'|'until'/);
    }
    expect((await service.lookUpAccount(admin, user.username)).body.locked).toBeNull();

    for (const body of [undefined, {}, { reason: 'Cleared by the security team' }]) {
      expect(outcome(await service.lockAccount(admin, user.username, 'x'.repeat(500)))).toBe('200');
      const unlocked = await service.unlockAccount(admin, user.username, body);
      expect(outcome(unlocked)).toBe('200');
      expect(unlocked.body.locked).toBeNull();
    }
    expect(outcome(await service.unlockAccount(admin, user.username, { reason: '' }))).toBe('400 invalid_request');
    expect(outcome(await service.lockAccount(admin, uniqueName('nobody')))).toBe('404 not_found');
  });

  it('ends its sessions and suspends its keys at once, on every instance', async () => {
    const user = await service.confirmedUser();
    const key = await service.createKey(user);
    const id = newId();
    await service.pushOk(key, id);
    const second = await service.startSecondInstance();
    try {
      expect(outcome(await second.call('GET', '/api/me', { token: user.sessionToken }))).toBe('200');

      const locked = await service.lockAccount(admin, user.username, 'Pushed malware');
      expect(outcome(locked)).toBe('200');
      expect(locked.body.locked).toEqual({ lockedAt: expect.any(String), lockedBy: SITE_ADMIN, reason: 'Pushed malware' });

      for (const call of [service.call, second.call]) {
        const session = await call('GET', '/api/me', { token: user.sessionToken });
        expect(outcome(session)).toBe('401 unauthorized');
        expect(session.body.detail).toMatch(/locked by support/);
        expect(outcome(await call('GET', '/api/me/api-keys', { token: user.sessionToken }))).toBe('401 unauthorized');
        const pushed = await call('PUT', '/api/packages', { headers: { 'X-NuGet-ApiKey': key.key }, body: { id, version: '2.0.0' } });
        expect(outcome(pushed)).toBe('401 invalid_api_key');
        expect(pushed.body.detail).toMatch(/suspended.*locked by support/);
        const newPackage = await call('PUT', '/api/packages', { headers: { 'X-NuGet-ApiKey': key.key }, body: { id: newId(), version: '1.0.0' } });
        expect(outcome(newPackage)).toBe('401 invalid_api_key');
      }
      expect((await service.getPackage(id)).body.versions).toEqual([{ version: '1.0.0', listed: true }]);
    } finally {
      await second.stop();
    }
  });

  it('refuses every way of signing in with 403 account_locked, telling the person to contact support', async () => {
    const user = await service.confirmedUser();
    await service.setPasswordByEmail(user, PASSWORD);
    expect(outcome(await service.lockAccount(admin, user.username))).toBe('200');

    const microsoft = await signInWithMicrosoft(user);
    expect(outcome(microsoft)).toBe('403 account_locked');
    expect(microsoft.body.detail).toMatch(/locked by support.*[Cc]ontact support/);
    expect(microsoft.headers.get('retry-after')).toBeNull();

    // Registering another name with the same Microsoft account.
    const registration = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(user.person), username: uniqueName() } });
    expect(outcome(registration)).toBe('403 account_locked');

    // The password: only the right one learns of the lock; a wrong one answers as for anyone.
    expect(outcome(await passwordSignIn(user.username, 'not the password at all'))).toBe('401 invalid_credentials');
    expect(outcome(await passwordSignIn(user.username, PASSWORD))).toBe('403 account_locked');

    // A reset link does not set a password meanwhile.
    const before = service.mailbox.delivered.length;
    await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress: user.person.email } });
    const email = await waitFor(() => service.mailbox.delivered.slice(before).find((e) => e.subject === 'Reset your password' && e.to.includes(user.person.email)));
    const reset = await service.call('POST', '/api/auth/reset-password', { body: { token: tokenIn(email.links[0]), newPassword: 'another long passphrase 42' } });
    expect(outcome(reset)).toBe('403 account_locked');

    // Unlocked, each way works again.
    expect(outcome(await service.unlockAccount(admin, user.username))).toBe('200');
    expect(outcome(await passwordSignIn(user.username, PASSWORD))).toBe('200');
    expect((await signInWithMicrosoft(user)).body.status).toBe('signed_in');
  });

  it('is undone by unlocking: sign-in and keys work again, sessions from before stay ended', async () => {
    const user = await service.confirmedUser();
    const key = await service.createKey(user);
    const id = newId();
    await service.pushOk(key, id);
    expect(outcome(await service.lockAccount(admin, user.username, 'Suspicious pushes'))).toBe('200');
    expect(outcome(await service.push(key, id, '1.1.0'))).toBe('401 invalid_api_key');

    const unlocked = await service.unlockAccount(admin, user.username, { reason: 'The owner proved who they are' });
    expect(outcome(unlocked)).toBe('200');
    expect(unlocked.body.locked).toBeNull();
    expect(outcome(await me(user))).toBe('401 unauthorized');
    expect(outcome(await service.push(key, id, '1.1.0'))).toBe('200');

    const again = await signedInAgain(user);
    expect(outcome(await me(again))).toBe('200');
    const keys = (await service.call('GET', '/api/me/api-keys', { token: again.sessionToken })).body;
    expect(keys).toEqual([expect.objectContaining({ id: key.id, suspended: false })]);

    // Each step is in the account's security log with the admin and the reason, and in the admin's own.
    const log = await service.securityLog(again);
    expect(log).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'locked_by_support', details: { siteAdmin: SITE_ADMIN, reason: 'Suspicious pushes' } }),
        expect.objectContaining({ action: 'unlocked_by_support', details: { siteAdmin: SITE_ADMIN, reason: 'The owner proved who they are' } }),
      ]),
    );
    const adminLog = await service.securityLog(admin);
    expect(adminLog).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'support_action', details: { action: 'locked_by_support', account: user.username, reason: 'Suspicious pushes' } }),
        expect.objectContaining({
          action: 'support_action',
          details: { action: 'unlocked_by_support', account: user.username, reason: 'The owner proved who they are' },
        }),
      ]),
    );
  });

  it('keeps the first lock when locked again, and records the lock once', async () => {
    const user = await service.confirmedUser();
    expect(outcome(await service.lockAccount(admin, user.username, 'First report'))).toBe('200');
    const again = await service.lockAccount(admin, user.username, 'Second report');
    expect(outcome(again)).toBe('200');
    expect(again.body.locked.reason).toBe('First report');
    await service.unlockAccount(admin, user.username);
    await service.unlockAccount(admin, user.username);
    const log = await service.securityLog(await signedInAgain(user));
    expect(log.filter((event) => event.action === 'locked_by_support')).toHaveLength(1);
    expect(log.filter((event) => event.action === 'unlocked_by_support')).toHaveLength(1);
  });

  it('is recorded even when it stops before its keys are suspended, and locking again finishes the keys', async () => {
    const user = await service.confirmedUser();
    const key = await service.createKey(user);
    const id = newId();
    await service.pushOk(key, id);
    // The store fails the key's suspension (every retry the SDK makes): the lock answers 5xx.
    service.cosmos.failNext(new RegExp(`^PUT /dbs/[^/]+/colls/apiKeys/docs/${key.id}$`), 503, 10);
    expect((await service.lockAccount(admin, user.username, 'Pushed malware')).status).toBeGreaterThanOrEqual(500);
    service.cosmos.clearFaults();
    expect((await service.lookUpAccount(admin, user.username)).body.locked).toMatchObject({ reason: 'Pushed malware' });
    expect(outcome(await service.lockAccount(admin, user.username, 'Pushed malware'))).toBe('200');
    expect(outcome(await service.push(key, id, '2.0.0'))).toBe('401 invalid_api_key');
    await service.unlockAccount(admin, user.username);
    const log = await service.securityLog(await signedInAgain(user));
    expect(log.filter((event) => event.action === 'locked_by_support')).toHaveLength(1);
  });

  it('leaves keys revoked or expired while it was locked as they are', async () => {
    const user = await service.confirmedUser();
    const leaked = await service.createKey(user);
    const shortLived = await service.createKey(user, { expiresInDays: 1 });
    const id = newId();
    await service.pushOk(leaked, id);
    expect(outcome(await service.lockAccount(admin, user.username))).toBe('200');
    expect((await service.revokeLeakedKey(admin, leaked.key)).body.outcome).toBe('revoked');
    expect(outcome(await service.unlockAccount(admin, user.username))).toBe('200');

    expect(outcome(await service.push(leaked, id, '1.1.0'))).toBe('401 invalid_api_key');
    jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + 2 * 24 * 60 * 60 * 1000));
    expect(outcome(await service.push(shortLived, newId()))).toBe('401 invalid_api_key');
  });

  it('ends up as the account is when locks and unlocks cross', async () => {
    const user = await service.confirmedUser();
    const keys = await Promise.all([service.createKey(user), service.createKey(user), service.createKey(user)]);
    const id = newId();
    await service.pushOk(keys[0], id);
    for (let round = 0; round < 4; round += 1) {
      const answers = await Promise.all([service.lockAccount(admin, user.username), service.unlockAccount(admin, user.username), service.lockAccount(admin, user.username)]);
      expect(answers.map(outcome)).toEqual(['200', '200', '200']);
      const locked = (await service.lookUpAccount(admin, user.username)).body.locked !== null;
      for (const [i, key] of keys.entries()) {
        expect(`round ${round}, key ${i}: ${outcome(await service.push(key, id, `1.${round}.${i + 1}`))}`).toBe(
          `round ${round}, key ${i}: ${locked ? '401 invalid_api_key' : '200'}`,
        );
      }
    }
  });
});

describe('a key made while its holder or owner is being locked', () => {
  const apiKeyCreate = /^POST \/dbs\/[^/]+\/colls\/apiKeys\/docs$/;

  it('never works, and its secret is never handed out', async () => {
    const user = await service.confirmedUser();
    const held = service.cosmos.holdNext(apiKeyCreate);
    const creating = service.requestKey(user, { description: 'made during the lock' });
    await held.reached;
    expect(outcome(await service.lockAccount(admin, user.username))).toBe('200');
    held.release();
    const created = await creating;
    expect(outcome(created)).toBe('401 unauthorized');
    expect(created.body.key).toBeUndefined();

    expect(outcome(await service.unlockAccount(admin, user.username))).toBe('200');
    const again = await signedInAgain(user);
    expect((await service.call('GET', '/api/me/api-keys', { token: again.sessionToken })).body).toEqual([]);
  });

  it("for a locked organization, is refused with 403 owner_not_allowed, also once the organization is unlocked", async () => {
    const owner = await service.confirmedUser();
    const organization = await service.createOrganization(owner);
    const held = service.cosmos.holdNext(apiKeyCreate);
    const creating = service.requestKey(owner, { owner: organization.name });
    await held.reached;
    expect(outcome(await service.lockAccount(admin, organization.name))).toBe('200');
    held.release();
    const created = await creating;
    expect(outcome(created)).toBe('403 owner_not_allowed');
    expect(created.body.detail).toMatch(/locked by support/);
    // While it is locked no key can be made for it at all.
    expect(outcome(await service.requestKey(owner, { owner: organization.name }))).toBe('403 owner_not_allowed');

    expect(outcome(await service.unlockAccount(admin, organization.name))).toBe('200');
    expect((await service.call('GET', '/api/me/api-keys', { token: owner.sessionToken })).body).toEqual([]);
    expect(outcome(await service.requestKey(owner, { owner: organization.name }))).toBe('201');
  });
});

describe('locking an organization', () => {
  it("suspends every key it owns, whichever member made it, and nothing else of its members'", async () => {
    const owner = await service.confirmedUser();
    const member = await service.confirmedUser();
    const organization = await service.createOrganization(owner);
    await service.inviteAndAccept(organization.name, owner, member);
    const ownersKey = await service.createKey(owner, { owner: organization.name });
    const membersKey = await service.createKey(member, { owner: organization.name });
    const membersOwnKey = await service.createKey(member);
    const id = newId();
    await service.pushOk(membersKey, id);

    const locked = await service.lockAccount(admin, organization.name, 'Typosquatting');
    expect(outcome(locked)).toBe('200');
    expect(locked.body).toMatchObject({ kind: 'organization', locked: { lockedBy: SITE_ADMIN, reason: 'Typosquatting' } });

    expect(outcome(await service.push(ownersKey, id, '1.1.0'))).toBe('401 invalid_api_key');
    expect(outcome(await service.push(membersKey, id, '1.1.0'))).toBe('401 invalid_api_key');
    expect(outcome(await service.push(membersKey, newId()))).toBe('401 invalid_api_key');
    // The members themselves are not locked: their sessions and their own keys work.
    expect(outcome(await me(member))).toBe('200');
    expect(outcome(await service.push(membersOwnKey, newId()))).toBe('201');
    const listed = (await service.call('GET', '/api/me/api-keys', { token: member.sessionToken })).body;
    expect(listed).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: membersKey.id, suspended: true }), expect.objectContaining({ id: membersOwnKey.id, suspended: false })]),
    );

    // A key suspended by the organization's lock and by its holder's works only once neither holds.
    expect(outcome(await service.lockAccount(admin, member.username))).toBe('200');
    expect(outcome(await service.unlockAccount(admin, organization.name))).toBe('200');
    expect(outcome(await service.push(ownersKey, id, '1.1.0'))).toBe('200');
    expect(outcome(await service.push(membersKey, id, '1.2.0'))).toBe('401 invalid_api_key');
    expect(outcome(await service.unlockAccount(admin, member.username))).toBe('200');
    expect(outcome(await service.push(membersKey, id, '1.2.0'))).toBe('200');
  });
});

describe('what a lock costs the hot paths', () => {
  /** Document requests, with the database's name left out. */
  const requests = () => service.cosmos.documentRequests().map((line) => line.replace(/^(\w+ )\/dbs\/[^/]+/, '$1'));

  it('leaves GET /api/me one point read, locked or not', async () => {
    const user = await service.confirmedUser();
    const lockedUser = await service.confirmedUser();
    expect(outcome(await service.lockAccount(admin, lockedUser.username))).toBe('200');

    service.cosmos.reset();
    expect(outcome(await me(user))).toBe('200');
    expect(requests()).toEqual([expect.stringMatching(/^GET \/colls\/accounts\/docs\/[^/]+$/)]);

    service.cosmos.reset();
    expect(outcome(await me(lockedUser))).toBe('401 unauthorized');
    expect(requests()).toEqual([expect.stringMatching(/^GET \/colls\/accounts\/docs\/[^/]+$/)]);
  });

  it('leaves the push check one key read, one package read and the version’s write (with its audit record beside it), and a suspended key one read', async () => {
    const user = await service.confirmedUser();
    const key = await service.createKey(user);
    const id = newId();
    await service.pushOk(key, id);
    const otherUser = await service.confirmedUser();
    expect(outcome(await service.lockAccount(admin, otherUser.username))).toBe('200');

    service.cosmos.reset();
    expect(outcome(await service.push(key, id, '1.1.0'))).toBe('200');
    // The version's write and the push's audit record go out together (see packages.test.ts).
    expect(requests().sort()).toEqual([
      `GET /colls/apiKeys/docs/${key.id}`,
      `GET /colls/packages/docs/${id.toLowerCase()}`,
      'POST /colls/audit/docs',
      'POST /colls/packageVersions/docs',
    ]);

    expect(outcome(await service.lockAccount(admin, user.username))).toBe('200');
    service.cosmos.reset();
    expect(outcome(await service.push(key, id, '1.2.0'))).toBe('401 invalid_api_key');
    expect(requests()).toEqual([`GET /colls/apiKeys/docs/${key.id}`]);

    expect(outcome(await service.unlockAccount(admin, user.username))).toBe('200');
    service.cosmos.reset();
    expect(outcome(await service.push(key, id, '1.2.0'))).toBe('200');
    expect(requests()).toHaveLength(4);
    expect(service.cosmos.queries()).toEqual([]);
  });

  it('keeps a refused Microsoft sign-in of a locked account within a linked sign-in\'s three requests', async () => {
    const user = await service.confirmedUser();
    expect(outcome(await service.lockAccount(admin, user.username))).toBe('200');
    service.cosmos.reset();
    expect(outcome(await signInWithMicrosoft(user))).toBe('403 account_locked');
    expect(requests().length).toBeLessThanOrEqual(3);
    expect(service.cosmos.queries()).toEqual([]);
  });
});
