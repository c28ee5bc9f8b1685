import { randomUUID } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { useTestService } from './support/service';
import type { Person } from './support/people';
import { tokenIn } from './support/waitFor';

const service = useTestService();

const LOCAL_CLIENT = /^(::ffff:)?127\.0\.0\.1$/;
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface AuditEntry {
  at: string;
  action: string;
  clientAddress: string;
  details?: Record<string, string>;
}

const auditLog = (token: string | undefined, query = '') => service.call('GET', `/api/me/audit${query}`, { token });

/**
 * Events recorded in one millisecond would tie on time; each step of a test's story happens a few seconds
 * after the last by the service's clock, so "newest first" has one right answer.
 */
function clockAt(secondsFromStart: number, start: number): void {
  jest.spyOn(clock, 'now').mockReturnValue(new Date(start + secondsFromStart * 1000));
}

async function signIn(person: Person): Promise<string> {
  const response = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(person) } });
  expect(response.status).toBe(200);
  expect(response.body.status).toBe('signed_in');
  return response.body.sessionToken;
}

/**
 * An account with a history: registered, signed in twice, changed its address, signed out everywhere and
 * signed in again. Returns a live session and the actions, newest first.
 */
async function accountWithHistory() {
  const start = Date.now();
  clockAt(0, start);
  const { person, sessionToken: first } = await service.register();
  clockAt(5, start);
  await signIn(person);
  clockAt(10, start);
  const session = await signIn(person);
  clockAt(15, start);
  const newAddress = `changed-${randomUUID().slice(0, 8)}@example.org`;
  expect((await service.call('POST', '/api/me/email', { token: session, body: { emailAddress: newAddress } })).status).toBe(202);
  const link = (await service.waitForEmailTo(newAddress)).links[0];
  clockAt(20, start);
  expect((await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(link) } })).status).toBe(200);
  clockAt(25, start);
  expect((await service.call('POST', '/api/auth/sign-out-everywhere', { token: first })).status).toBe(204);
  clockAt(30, start);
  const sessionToken = await signIn(person);
  clockAt(35, start);
  return {
    person,
    sessionToken,
    newAddress,
    actions: [
      'signed_in',
      'signed_out_everywhere',
      'email_changed',
      'email_change_requested',
      'signed_in',
      'signed_in',
      'account_registered',
    ],
    times: [30, 25, 20, 15, 10, 5, 0].map((s) => new Date(start + s * 1000).toISOString()),
  };
}

describe('the security log', () => {
  it("lists the account's own events, newest first, with time, action and client address", async () => {
    const { sessionToken, actions, times, newAddress } = await accountWithHistory();

    const response = await auditLog(sessionToken);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const events: AuditEntry[] = response.body.events;
    expect(events.map((e) => e.action)).toEqual(actions);
    expect(events.map((e) => e.at)).toEqual(times);
    for (const event of events) {
      expect(event.at).toMatch(ISO_UTC);
      expect(event.clientAddress).toMatch(LOCAL_CLIENT);
    }
    expect(events.find((e) => e.action === 'email_change_requested')?.details).toEqual({ emailAddress: newAddress });
    expect(events.find((e) => e.action === 'email_changed')?.details).toEqual({ emailAddress: newAddress });
    expect(events.filter((e) => e.action === 'signed_in').map((e) => e.details)).toEqual([
      { method: 'microsoft' },
      { method: 'microsoft' },
      { method: 'microsoft' },
    ]);
    expect(response.body.continuationToken).toBeNull();
    // Nothing internal leaks: no ids, no account id, no Cosmos DB system fields.
    for (const event of events) {
      expect(['action', 'at', 'clientAddress', 'details']).toEqual(expect.arrayContaining(Object.keys(event)));
    }
    expect(response.text).not.toMatch(/"(id|accountId|_rid|_etag|_ts|_self)"/);
  });

  it('records a cancelled email change', async () => {
    const { sessionToken } = await service.register();
    const newAddress = `cancelled-${randomUUID().slice(0, 8)}@example.org`;
    expect((await service.call('POST', '/api/me/email', { token: sessionToken, body: { emailAddress: newAddress } })).status).toBe(202);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 2000));
    expect((await service.call('DELETE', '/api/me/email/pending', { token: sessionToken })).status).toBe(204);
    const events: AuditEntry[] = (await auditLog(sessionToken)).body.events;
    expect(events.map((e) => e.action)).toEqual(['email_change_cancelled', 'email_change_requested', 'account_registered']);
  });

  it('pages with pageSize and continuationToken through every event once', async () => {
    const { sessionToken, actions, times } = await accountWithHistory();

    const seen: AuditEntry[] = [];
    const pageLengths: number[] = [];
    let continuationToken: string | null = null;
    do {
      const query: string = `?pageSize=2${continuationToken ? `&continuationToken=${encodeURIComponent(continuationToken)}` : ''}`;
      const page = await auditLog(sessionToken, query);
      expect(page.status).toBe(200);
      pageLengths.push(page.body.events.length);
      seen.push(...page.body.events);
      continuationToken = page.body.continuationToken;
      if (continuationToken !== null) expect(continuationToken).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect(pageLengths.length).toBeLessThan(10);
    } while (continuationToken !== null);

    expect(pageLengths.slice(0, 3)).toEqual([2, 2, 2]);
    expect(seen.map((e) => e.action)).toEqual(actions);
    expect(seen.map((e) => e.at)).toEqual(times);
    expect(new Set(seen.map((e) => `${e.at} ${e.action}`)).size).toBe(seen.length);

    // The largest page holds it all, in the same order.
    const whole = await auditLog(sessionToken, '?pageSize=100');
    expect(whole.body.events).toEqual(seen);
  });

  it("never shows another account's events", async () => {
    const mine = await accountWithHistory();
    const start = Date.now();
    clockAt(0, start);
    const theirs = await service.register();
    clockAt(5, start);
    expect((await service.call('POST', '/api/auth/sign-out-everywhere', { token: theirs.sessionToken })).status).toBe(204);
    clockAt(10, start);
    const theirSession = await signIn(theirs.person);

    const theirLog: AuditEntry[] = (await auditLog(theirSession)).body.events;
    expect(theirLog.map((e) => e.action)).toEqual(['signed_in', 'signed_out_everywhere', 'account_registered']);
    const myLog: AuditEntry[] = (await auditLog(mine.sessionToken)).body.events;
    expect(myLog.map((e) => e.action)).toEqual(mine.actions);

    // A continuation token from my log, replayed on theirs, is refused rather than read in their log.
    const myFirstPage = await auditLog(mine.sessionToken, '?pageSize=2');
    expect(myFirstPage.body.continuationToken).toEqual(expect.any(String));
    const replayed = await auditLog(theirSession, `?pageSize=2&continuationToken=${myFirstPage.body.continuationToken}`);
    expect(replayed.status).toBe(400);
    expect(replayed.body).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining("'continuationToken'") });
  });

  it('refuses a continuation token it gave out once it was altered', async () => {
    const { sessionToken } = await accountWithHistory();
    const first = await auditLog(sessionToken, '?pageSize=2');
    const token: string = first.body.continuationToken;
    const [encoded, signature] = token.split('.');
    const inner = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    const altered = Buffer.from(JSON.stringify({ ...inner, token: `${inner.token}x` })).toString('base64url');
    for (const forged of [`${altered}.${signature}`, `${encoded}.${signature.slice(0, -2)}AA`, encoded, `${token}.${signature}`]) {
      const response = await auditLog(sessionToken, `?pageSize=2&continuationToken=${encodeURIComponent(forged)}`);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining("'continuationToken'") });
    }
    // The genuine one still works.
    expect((await auditLog(sessionToken, `?pageSize=2&continuationToken=${token}`)).status).toBe(200);
  });

  it.each(['0', '101', 'abc', '-1', '1.5', '', '1e2', '0x10'])('refuses pageSize=%j, naming the parameter', async (pageSize) => {
    const { sessionToken } = await service.register();
    const response = await auditLog(sessionToken, `?pageSize=${encodeURIComponent(pageSize)}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining("'pageSize'") });
    expect(response.body.detail).toMatch(/1 to 100/);
  });

  it.each([
    ['garbage', 'garbage'],
    ['empty', ''],
    ['base64 of JSON it never gave out', Buffer.from('{"token":"forged","range":{"min":"","max":"FF"}}').toString('base64url')],
    ['base64 of a JSON array', Buffer.from('[{"compositeToken":"x","orderByItems":[{"item":1}]}]').toString('base64url')],
    ['base64 of an object with a bogus offset', Buffer.from('{"offset":-5}').toString('base64url')],
    ['not base64 at all', '%%%!!!'],
    ['far too long', 'A'.repeat(5000)],
  ])('refuses a forged continuationToken (%s) with 400, never 500', async (_label, continuationToken) => {
    const { sessionToken } = await service.register();
    const response = await auditLog(sessionToken, `?continuationToken=${encodeURIComponent(continuationToken)}`);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining("'continuationToken'") });
    expect(response.text).not.toMatch(/at .*\.(ts|js)|Error:/);
  });

  it('refuses an unknown query parameter, naming it', async () => {
    const { sessionToken } = await service.register();
    const response = await auditLog(sessionToken, '?pageSize=2&sort=asc');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining("'sort'") });
  });

  it('needs a session', async () => {
    const response = await auditLog(undefined);
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('unauthorized');
  });
});
