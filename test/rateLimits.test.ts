import { randomBytes, randomUUID } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import type { RateLimit } from '../lib/shared/rateLimits';
import { RATE_LIMITS } from '../lib/accounts/recovery/rateLimits';
import { ACCOUNT_EMAIL_LIMITS } from '../lib/accounts/rateLimits';
import { ORGANIZATION_EMAIL_LIMITS } from '../lib/organizations/rateLimits';
import { PACKAGE_EMAIL_LIMITS } from '../lib/packages/rateLimits';
import { outcome, useTestService, type ApiResponse, type SecondInstance, type TestService } from './support/service';
import type { Member } from './support/organizations';
import { newPerson, uniqueName } from './support/people';

const service = useTestService();

const HOUR_MS = 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;

/**
 * Limits count in fixed windows aligned to the epoch (an hour, fifteen minutes). Each test pins the service's
 * clock ten minutes into an hour no other test uses, so its counts start at zero, no window boundary falls
 * inside it, and Retry-After is exact. Registrations happen before the pin: their ID tokens are minted now.
 */
const firstFreeHour = Math.ceil(Date.now() / HOUR_MS) * HOUR_MS;
let hoursUsed = 0;
function freshHour(): number {
  hoursUsed += 2;
  return firstFreeHour + hoursUsed * HOUR_MS;
}

function pinClocks(at: number, ...clocks: Array<typeof clock>): void {
  for (const c of [clock, ...clocks]) jest.spyOn(c, 'now').mockReturnValue(new Date(at));
}

function expectTooManyRequests(response: ApiResponse, retryAfterSeconds: number): void {
  expect(response.status).toBe(429);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ code: 'too_many_requests', status: 429 });
  const retryAfter = response.headers.get('retry-after');
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBe(retryAfterSeconds);
}

const assist = (body: { username: string; emailAddress?: string }, via: Pick<TestService, 'call'> = service) =>
  via.call('POST', '/api/auth/sign-in-assistance', { body });

const forgotPassword = (emailAddress: string, via: Pick<TestService, 'call'> = service) =>
  via.call('POST', '/api/auth/forgot-password', { body: { emailAddress } });

const unusedAddress = () => `nobody-${randomUUID().slice(0, 8)}@example.com`;

describe('sign-in assistance', () => {
  const perUser = RATE_LIMITS.signInAssistancePerUser;
  const perClient = RATE_LIMITS.signInAssistancePerClient;

  it('limits calls per username, in any casing and either form, until the window ends', async () => {
    const { username } = await service.register();
    const { username: otherUser } = await service.register();
    const hour = freshHour();
    pinClocks(hour + 10 * MINUTE_MS);

    for (let i = 0; i < perUser.max; i += 1) {
      const response = await assist({ username: i % 2 ? username.toUpperCase() : username });
      expect(response.status).toBe(200);
    }
    expectTooManyRequests(await assist({ username }), perUser.windowSeconds - 10 * 60);
    expectTooManyRequests(await assist({ username: username.toLowerCase(), emailAddress: unusedAddress() }), perUser.windowSeconds - 10 * 60);
    // Another username from the same client is not held back by this one's count.
    expect((await assist({ username: otherUser })).status).toBe(200);

    // A minute before the window ends: still limited, and told so.
    pinClocks(hour + perUser.windowSeconds * 1000 - MINUTE_MS);
    expectTooManyRequests(await assist({ username }), 60);
    // The next window starts afresh.
    pinClocks(hour + perUser.windowSeconds * 1000 + MINUTE_MS);
    const again = await assist({ username });
    expect(again.status).toBe(200);
    expect(again.body.maskedEmailAddress).toEqual(expect.any(String));
  });

  it('limits calls per client address, whatever usernames they name', async () => {
    pinClocks(freshHour() + 10 * MINUTE_MS);
    for (let i = 0; i < perClient.max; i += 1) {
      expect((await assist({ username: uniqueName('unknown') })).status).toBe(404);
    }
    expectTooManyRequests(await assist({ username: uniqueName('unknown') }), perClient.windowSeconds - 10 * 60);
  });
});

describe('forgot password', () => {
  const perAddress = RATE_LIMITS.forgotPasswordPerAddress;

  it('limits requests per address, in any casing, known or not, until the window ends', async () => {
    const hour = freshHour();
    pinClocks(hour + 10 * MINUTE_MS);
    const address = unusedAddress();

    const spellings = [address, address.toUpperCase(), address.replace(/^n/, 'N')];
    for (let i = 0; i < perAddress.max; i += 1) {
      expect((await forgotPassword(spellings[i % spellings.length])).status).toBe(202);
    }
    expectTooManyRequests(await forgotPassword(address), perAddress.windowSeconds - 10 * 60);
    expect((await forgotPassword(unusedAddress())).status).toBe(202);

    pinClocks(hour + perAddress.windowSeconds * 1000 + MINUTE_MS);
    expect((await forgotPassword(address)).status).toBe(202);
  });

  it('limits a registered address the same way', async () => {
    const { person } = await service.register();
    pinClocks(freshHour() + 10 * MINUTE_MS);
    for (let i = 0; i < perAddress.max; i += 1) expect((await forgotPassword(person.email)).status).toBe(202);
    expectTooManyRequests(await forgotPassword(person.email), perAddress.windowSeconds - 10 * 60);
  });
});

describe('confirmation links sent again', () => {
  it('are limited per address too, however many accounts ask to change to it', async () => {
    const target = unusedAddress();
    const accounts = [await service.register(), await service.register()];
    pinClocks(freshHour() + 10 * MINUTE_MS);
    const sessions: string[] = [];
    for (const { person } of accounts) {
      const signedIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(person) } });
      sessions.push(signedIn.body.sessionToken);
      expect((await service.call('POST', '/api/me/email', { token: signedIn.body.sessionToken, body: { emailAddress: target } })).status).toBe(202);
    }
    const limit = ACCOUNT_EMAIL_LIMITS.resendConfirmation.perRecipient;
    const resend = (i: number) => service.call('POST', '/api/me/email/resend-confirmation', { token: sessions[i % 2] });
    for (let i = 0; i < limit.max; i += 1) expect((await resend(i)).status).toBe(202);
    expectTooManyRequests(await resend(0), limit.windowSeconds - 10 * 60);
    expectTooManyRequests(await resend(1), limit.windowSeconds - 10 * 60);
  });
});

describe('every call that emails someone the caller names', () => {
  /** The seconds from `at` to the end of the limit's fixed window. */
  const secondsLeft = (limit: RateLimit, at: number) => limit.windowSeconds - Math.floor(at / 1000) % limit.windowSeconds;

  /** The writes to Cosmos DB since the last reset, besides those counting rate limits (queries and reads aside). */
  function writesBesideCounters(): string[] {
    const queries = service.cosmos.queries();
    return service.cosmos.documentRequests().filter((line) => !line.startsWith('GET ') && !queries.includes(line) && !line.includes('/colls/rateLimits/'));
  }

  /**
   * Makes `limit.max` calls (the i-th is `call(i)`), each answered `allowed(i)`, then one more: 429 with the seconds
   * left in the window, and nothing sent to `recipients` or written besides the counter.
   */
  async function flood(limit: RateLimit, at: number, call: (i: number) => Promise<ApiResponse>, allowed: (i: number) => string, recipients: (i: number) => string[]) {
    for (let i = 0; i < limit.max; i += 1) expect(outcome(await call(i))).toBe(allowed(i));
    const watched = recipients(limit.max);
    const seen = watched.map((address) => service.emailCount(address));
    service.cosmos.reset();
    expectTooManyRequests(await call(limit.max), secondsLeft(limit, at));
    expect(writesBesideCounters()).toEqual([]);
    expect(watched.map((address) => service.emailCount(address))).toEqual(seen);
  }

  /** Pins the clock ten minutes into a fresh hour and answers that moment. */
  function pinned(): number {
    const at = freshHour() + 10 * MINUTE_MS;
    pinClocks(at);
    return at;
  }

  const confirmedUsers = async (count: number): Promise<Member[]> => {
    const made: Member[] = [];
    for (let i = 0; i < count; i += 10) made.push(...(await Promise.all(Array.from({ length: Math.min(10, count - i) }, () => service.confirmedUser()))));
    return made;
  };
  const always = (expected: string) => () => expected;

  describe('an email change (POST /api/me/email)', () => {
    const changeTo = (member: Pick<Member, 'sessionToken'>, emailAddress: string) =>
      service.call('POST', '/api/me/email', { token: member.sessionToken, body: { emailAddress } });

    it('is limited per new address, however many accounts ask for it', async () => {
      const at = pinned();
      const { perRecipient } = ACCOUNT_EMAIL_LIMITS.emailChange;
      const accounts = await Promise.all(Array.from({ length: perRecipient.max + 1 }, () => service.unconfirmedUser()));
      const target = unusedAddress();
      await flood(perRecipient, at, (i) => changeTo(accounts[i], target), always('202'), () => [target]);
      expect(service.emailCount(target)).toBe(perRecipient.max);
      expect((await service.call('GET', '/api/me', { token: accounts[perRecipient.max].sessionToken })).body.pendingEmailAddress).toBeNull();
    });

    it('is limited per account, whatever addresses it names', async () => {
      const at = pinned();
      const { perCaller } = ACCOUNT_EMAIL_LIMITS.emailChange;
      const user = await service.confirmedUser();
      const targets = Array.from({ length: perCaller.max + 1 }, () => unusedAddress());
      await flood(perCaller, at, (i) => changeTo(user, targets[i]), always('202'), (i) => [targets[i], user.person.email]);
    });
  });

  describe('registration', () => {
    const registerAs = (person = newPerson(), emailAddress = unusedAddress()) =>
      service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(person), username: uniqueName(), emailAddress } });

    it('is limited per address, however many Microsoft accounts name it', async () => {
      const at = pinned();
      const { perRecipient } = ACCOUNT_EMAIL_LIMITS.registration;
      const target = unusedAddress();
      await flood(perRecipient, at, () => registerAs(newPerson(), target), (i) => (i === 0 ? '201' : '409 email_in_use'), () => [target]);
    });

    it('is limited per Microsoft account, whatever addresses it names', async () => {
      const at = pinned();
      const { perCaller } = ACCOUNT_EMAIL_LIMITS.registration;
      const person = newPerson();
      const targets = Array.from({ length: perCaller.max + 1 }, () => unusedAddress());
      await flood(perCaller, at, (i) => registerAs(person, targets[i]), (i) => (i === 0 ? '201' : '409 microsoft_account_in_use'), (i) => [targets[i]]);
    });
  });

  describe('organization creation (its address gets a link)', () => {
    const create = (admin: Member, emailAddress: string, name = uniqueName('org')) =>
      service.call('POST', '/api/organizations', { token: admin.sessionToken, body: { name, emailAddress } });

    it('is limited per address, however many accounts name it (each organization deleted again, freeing it)', async () => {
      const at = pinned();
      const { perRecipient } = ORGANIZATION_EMAIL_LIMITS.creation;
      const admins = await confirmedUsers(3);
      const target = unusedAddress();
      const createAndDelete = async (i: number) => {
        const name = uniqueName('org');
        const created = await create(admins[i % admins.length], target, name);
        if (created.status === 201) expect(outcome(await service.call('DELETE', `/api/organizations/${name}`, { token: admins[i % admins.length].sessionToken }))).toBe('204');
        return created;
      };
      await flood(perRecipient, at, createAndDelete, always('201'), () => [target]);
      expect(service.emailCount(target)).toBe(perRecipient.max);
    });

    it('is limited per account, whatever addresses it names', async () => {
      const at = pinned();
      const { perCaller } = ORGANIZATION_EMAIL_LIMITS.creation;
      const admin = await service.confirmedUser();
      const targets = Array.from({ length: perCaller.max + 1 }, () => unusedAddress());
      await flood(perCaller, at, (i) => create(admin, targets[i]), always('201'), (i) => [targets[i]]);
    });
  });

  describe('member invitations', () => {
    const inviteTo = (organization: string, admin: Member, invitee: Member) =>
      service.call('POST', `/api/organizations/${organization}/members`, { token: admin.sessionToken, body: { username: invitee.username, role: 'collaborator' } });

    it('are limited per invited account, an invitation sent again counting, whichever organizations send them', async () => {
      const at = pinned();
      const { perRecipient } = ORGANIZATION_EMAIL_LIMITS.memberInvitation;
      const [firstAdmin, secondAdmin, invitee] = await confirmedUsers(3);
      const organizations = [await service.createOrganization(firstAdmin), await service.createOrganization(secondAdmin)];
      const send = (i: number) => inviteTo(organizations[i % 2].name, [firstAdmin, secondAdmin][i % 2], invitee);
      await flood(perRecipient, at, send, always('202'), () => [invitee.person.email]);
      expect(service.emailCount(invitee.person.email)).toBe(1 + perRecipient.max);
    });

    // Spread over two organizations: one organization also caps its waiting invitations (MAX_PENDING_MEMBER_INVITATIONS).
    it('are limited per inviting account, whomever they invite, in whichever organizations', async () => {
      const at = pinned();
      const { perCaller } = ORGANIZATION_EMAIL_LIMITS.memberInvitation;
      const admin = await service.confirmedUser();
      const organizations = [await service.createOrganization(admin), await service.createOrganization(admin)];
      const invitees = await confirmedUsers(perCaller.max + 1);
      await flood(perCaller, at, (i) => inviteTo(organizations[i % 2].name, admin, invitees[i]), always('202'), (i) => [invitees[i].person.email]);
      const views = await Promise.all(organizations.map((organization) => service.call('GET', `/api/organizations/${organization.name}`, { token: admin.sessionToken })));
      expect(views.map((view) => view.body.pendingInvitations.length)).toEqual([Math.ceil(perCaller.max / 2), Math.floor(perCaller.max / 2)]);
    });
  });

  describe('role changes (the member is told)', () => {
    const setRole = (organization: string, admin: Member, member: Member, role: 'admin' | 'collaborator') =>
      service.call('PUT', `/api/organizations/${organization}/members/${member.username}`, { token: admin.sessionToken, body: { role } });
    const roleNoticesTo = (member: Member, organization: string) =>
      service.noticesTo(member.person.email, new RegExp(`^${member.username} is now an? \\w+ of ${organization}$`));

    it('are limited per member, whichever admins make them', async () => {
      const at = pinned();
      const { perRecipient } = ORGANIZATION_EMAIL_LIMITS.roleChange;
      const [admin, otherAdmin, member] = await confirmedUsers(3);
      const organization = await service.createOrganization(admin);
      await service.inviteAndAccept(organization.name, admin, otherAdmin, 'admin');
      await service.inviteAndAccept(organization.name, admin, member);
      const toggle = (i: number) => setRole(organization.name, [admin, otherAdmin][i % 2], member, i % 2 === 0 ? 'admin' : 'collaborator');
      await flood(perRecipient, at, toggle, always('204'), () => [member.person.email]);
      await service.deliverNotices();
      expect(roleNoticesTo(member, organization.name)).toHaveLength(perRecipient.max);
    });

    it('are limited per admin, whomever they concern', async () => {
      const at = pinned();
      const { perCaller, perRecipient } = ORGANIZATION_EMAIL_LIMITS.roleChange;
      const admin = await service.confirmedUser();
      const organization = await service.createOrganization(admin);
      const members = await confirmedUsers(Math.ceil((perCaller.max + 1) / perRecipient.max));
      for (const member of members) await service.inviteAndAccept(organization.name, admin, member);
      const change = (i: number) => setRole(organization.name, admin, members[Math.floor(i / perRecipient.max)], i % 2 === 0 ? 'admin' : 'collaborator');
      await flood(perCaller, at, change, always('204'), (i) => [members[Math.floor(i / perRecipient.max)].person.email]);
    });
  });

  describe('package owner invitations', () => {
    const newId = () => `Limited${randomBytes(4).toString('hex')}.Lib`;
    const inviteTo = (id: string, owner: Member, username: string) =>
      service.call('POST', `/api/packages/${encodeURIComponent(id)}/owners`, { token: owner.sessionToken, body: { username } });
    async function packagesOf(owner: Member, count: number): Promise<string[]> {
      const key = await service.createKey(owner);
      const ids = Array.from({ length: count }, () => newId());
      for (const id of ids) await service.pushOk(key, id);
      return ids;
    }

    it('are limited per invited account, an invitation sent again counting, whichever owners send them', async () => {
      const at = pinned();
      const { perRecipient } = PACKAGE_EMAIL_LIMITS.ownerInvitation;
      const owners = await confirmedUsers(3);
      const ids = await Promise.all(owners.map(async (owner) => (await packagesOf(owner, 1))[0]));
      const invitee = await service.confirmedUser();
      const send = (i: number) => inviteTo(ids[i % owners.length], owners[i % owners.length], invitee.username);
      await flood(perRecipient, at, send, always('202'), () => [invitee.person.email]);
      expect(service.emailCount(invitee.person.email)).toBe(1 + perRecipient.max);
    });

    it('are limited per inviting account, whomever they invite', async () => {
      const at = pinned();
      const { perCaller } = PACKAGE_EMAIL_LIMITS.ownerInvitation;
      const owner = await service.confirmedUser();
      // A package takes 3 invitations waiting: one package for every three invitees.
      const ids = await packagesOf(owner, Math.ceil((perCaller.max + 1) / 3));
      const invitees = await confirmedUsers(perCaller.max + 1);
      const send = (i: number) => inviteTo(ids[Math.floor(i / 3)], owner, invitees[i].username);
      await flood(perCaller, at, send, always('202'), (i) => [invitees[i].person.email]);
    });
  });

  describe('transform requests (the admin asked gets a token)', () => {
    const ask = (account: Member, admin: Member) =>
      service.call('POST', '/api/me/transform', { token: account.sessionToken, body: { adminUsername: admin.username } });

    it('are limited per admin, however many accounts ask', async () => {
      const at = pinned();
      const { perRecipient } = ORGANIZATION_EMAIL_LIMITS.transformRequest;
      const [admin, ...accounts] = await confirmedUsers(perRecipient.max + 2);
      await flood(perRecipient, at, (i) => ask(accounts[i], admin), always('202'), () => [admin.person.email]);
    });

    it('are limited per account asking, whomever it asks', async () => {
      const at = pinned();
      const { perCaller } = ORGANIZATION_EMAIL_LIMITS.transformRequest;
      const [account, ...admins] = await confirmedUsers(perCaller.max + 2);
      await flood(perCaller, at, (i) => ask(account, admins[i]), always('202'), (i) => [admins[i].person.email]);
    });
  });

  it('forgot password is limited per client address too, whatever addresses it names', async () => {
    const at = pinned();
    const limit = RATE_LIMITS.forgotPasswordPerClient;
    await flood(limit, at, () => forgotPassword(unusedAddress()), always('202'), () => []);
  });
});

describe('across instances', () => {
  let second: SecondInstance;

  beforeAll(async () => {
    second = await service.startSecondInstance();
  });

  afterAll(async () => {
    await second?.stop();
  });

  it('runs a second instance of the app with modules of its own on the same database', async () => {
    expect(second.url).not.toBe(service.url);
    expect(second.clock).not.toBe(clock);
    expect((await second.call('GET', '/api/health')).status).toBe(200);
    // What one instance writes the other reads: an account registered through the second signs in on the first.
    const person = newPerson();
    const registered = await second.call('POST', '/api/accounts', {
      body: { idToken: service.identity.mint({ email: person.email, oid: person.oid, tid: person.tid, name: person.name }), username: uniqueName() },
    });
    expect(registered.status).toBe(201);
    expect((await service.call('GET', '/api/me', { token: registered.body.sessionToken })).status).toBe(200);
  });

  it('counts sign-in assistance on both hosts against one limit', async () => {
    const { username } = await service.register();
    pinClocks(freshHour() + 10 * MINUTE_MS, second.clock);
    const hosts = [service, second];

    // Either host alone would allow `max` calls: together they allow `max`, not twice as many.
    const limit = RATE_LIMITS.signInAssistancePerUser;
    for (let i = 0; i < limit.max; i += 1) {
      expect((await assist({ username }, hosts[i % 2])).status).toBe(200);
    }
    expectTooManyRequests(await assist({ username }, hosts[limit.max % 2]), limit.windowSeconds - 10 * 60);
    expectTooManyRequests(await assist({ username }, hosts[(limit.max + 1) % 2]), limit.windowSeconds - 10 * 60);
  });

  it('counts forgot-password requests on both hosts against one limit', async () => {
    pinClocks(freshHour() + 10 * MINUTE_MS, second.clock);
    const address = unusedAddress();
    const hosts = [service, second];

    const limit = RATE_LIMITS.forgotPasswordPerAddress;
    for (let i = 0; i < limit.max; i += 1) {
      expect((await forgotPassword(address, hosts[i % 2])).status).toBe(202);
    }
    expectTooManyRequests(await forgotPassword(address, hosts[0]), limit.windowSeconds - 10 * 60);
    expectTooManyRequests(await forgotPassword(address, hosts[1]), limit.windowSeconds - 10 * 60);
  });

  it('counts confirmation links sent again on both hosts against one limit per account', async () => {
    const { person } = await service.register();
    pinClocks(freshHour() + 10 * MINUTE_MS, second.clock);
    const signedIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(person) } });
    const hosts = [service, second];
    const resend = (via: Pick<TestService, 'call'>) => via.call('POST', '/api/me/email/resend-confirmation', { token: signedIn.body.sessionToken });

    const limit = ACCOUNT_EMAIL_LIMITS.resendConfirmation.perCaller;
    for (let i = 0; i < limit.max; i += 1) expect((await resend(hosts[i % 2])).status).toBe(202);
    expectTooManyRequests(await resend(hosts[0]), limit.windowSeconds - 10 * 60);
    expectTooManyRequests(await resend(hosts[1]), limit.windowSeconds - 10 * 60);
  });

  it('counts simultaneous calls on both hosts exactly', async () => {
    const { username } = await service.register();
    pinClocks(freshHour() + 10 * MINUTE_MS, second.clock);
    const limit = RATE_LIMITS.signInAssistancePerUser;
    const hosts = [service, second];

    // Twice the limit at once, half on each host: exactly `max` get through, whoever creates the counter.
    const answers = await Promise.all(Array.from({ length: limit.max * 2 }, (_, i) => assist({ username }, hosts[i % 2])));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(limit.max);
    expect(statuses.filter((s) => s === 429)).toHaveLength(limit.max);
  });
});
