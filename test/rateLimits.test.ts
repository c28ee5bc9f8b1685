import { randomUUID } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { RATE_LIMITS } from '../lib/accounts/recovery/rateLimits';
import { useTestService, type ApiResponse, type SecondInstance, type TestService } from './support/service';
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
    const limit = RATE_LIMITS.resendConfirmationPerAddress;
    const resend = (i: number) => service.call('POST', '/api/me/email/resend-confirmation', { token: sessions[i % 2] });
    for (let i = 0; i < limit.max; i += 1) expect((await resend(i)).status).toBe(202);
    expectTooManyRequests(await resend(0), limit.windowSeconds - 10 * 60);
    expectTooManyRequests(await resend(1), limit.windowSeconds - 10 * 60);
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

    const limit = RATE_LIMITS.resendConfirmationPerAccount;
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
