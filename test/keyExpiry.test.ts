import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService } from './support/service';
import type { Member } from './support/organizations';
import type { CreatedApiKey } from './support/packages';
import { newPerson, uniqueName } from './support/people';

/**
 * A key close to expiry is announced: pushes (and unlists) with it answer X-NuGet-Warning naming the date, and
 * the timer notifyExpiringApiKeys emails its holder 7 days and 1 day before, once each however often it runs.
 */
const SITE_ADMIN = uniqueName('siteadmin');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });

const DAY_MS = 24 * 60 * 60 * 1000;
const newId = (stem = 'Expiry') => `${stem}${randomBytes(4).toString('hex')}.Lib`;
const WARNING = 'x-nuget-warning';

/** Moves the service's clock to `days` after the moment given (fractions too). */
const at = (from: number, days: number) => jest.spyOn(clock, 'now').mockReturnValue(new Date(from + days * DAY_MS));

const runTimer = () => service.host.runTimer('notifyExpiringApiKeys');

/** The expiry warnings `member` has had for the key described so. */
const warnings = (member: Member, description: string) =>
  service.noticesTo(member.person.email, new RegExp(`^Your API key '${description}' expires`)).map((email) => email.subject.replace(/^.* expires /, ''));

/** A key of `user` made at the clock's now, and that moment. */
async function keyFor(user: Member, expiresInDays: number, description = uniqueName('key')): Promise<CreatedApiKey & { description: string; madeAt: number }> {
  const madeAt = clock.now().getTime();
  const key = await service.createKey(user, { expiresInDays, description, scopes: ['package:push', 'package:unlist'] });
  return { ...key, description, madeAt };
}

/** A new session by the service's clock, which may have moved past the one a member holds. */
async function signInAgain(user: Member): Promise<Member> {
  const response = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(user.person) } });
  if (response.status !== 200) throw new Error(`signing in again failed: ${response.status} ${response.text}`);
  return { ...user, sessionToken: response.body.sessionToken };
}

/** A key as trusted publishing hands them out looks once stored: `trustedPublishing: true` (made here by hand). */
async function markTrustedPublishing(keyId: string): Promise<void> {
  const { resource } = await container('apiKeys').item(keyId, keyId).read();
  await container('apiKeys').item(keyId, keyId).replace({ ...resource, trustedPublishing: true });
}

describe('X-NuGet-Warning', () => {
  it('warns on every push with a key that expires within 10 days, naming the date as NuGet.org words it, in ASCII', async () => {
    const user = await service.confirmedUser();
    const id = newId();
    const lasting = await keyFor(user, 30);
    const response = await service.push(lasting, id);
    expect(outcome(response)).toBe('201');
    expect(response.headers.get(WARNING)).toBeNull();

    const expiring = await keyFor(user, 10);
    const warned = await service.push(expiring, id, '1.1.0');
    expect(outcome(warned)).toBe('200');
    expect(warned.headers.get(WARNING)).toBe(
      `Your API key expires in 10 days (${expiring.expiresAt}). Visit https://gallery.example/account/api-keys to regenerate your API key.`,
    );
    expect(warned.headers.get(WARNING)).toMatch(/^[\x20-\x7e]+$/);

    // A day before, a day; later the same day, NuGet's count rounds to none.
    at(lasting.madeAt, 29 + 1 / 1440);
    expect((await service.push(lasting, id, '1.2.0')).headers.get(WARNING)).toBe(
      `Your API key expires in 1 day (${lasting.expiresAt}). Visit https://gallery.example/account/api-keys to regenerate your API key.`,
    );
    at(lasting.madeAt, 29.8);
    expect((await service.push(lasting, id, '1.3.0')).headers.get(WARNING)).toMatch(/^Your API key expires in 0 days \(/);
    // Expired: the key no longer proves anything, and nothing is said about it.
    at(lasting.madeAt, 30.1);
    const refused = await service.push(lasting, id, '1.4.0');
    expect(outcome(refused)).toBe('401 invalid_api_key');
    expect(refused.headers.get(WARNING)).toBeNull();
  });

  it('warns on answers refusing what a key that proved itself asked, and on unlisting; not for a session or a bad key', async () => {
    const user = await service.confirmedUser();
    const id = newId();
    const key = await service.createKey(user, { expiresInDays: 5, packageGlobs: [id], scopes: ['package:push', 'package:unlist'] });
    expect(outcome(await service.push(key, id))).toBe('201');
    for (const [response, expected] of [
      [await service.push(key, newId('Elsewhere')), '403 api_key_scope'],
      [await service.push(key, id, '1.0'), '409 package_version_exists'],
      [await service.setListed(id, '1.0.0', false, { key }), '204'],
      [await service.setListed(id, '9.9.9', false, { key }), '404 not_found'],
    ] as const) {
      expect(outcome(response)).toBe(expected);
      expect(response.headers.get(WARNING)).toMatch(/^Your API key expires in 5 days \(/);
    }

    const bySession = await service.setListed(id, '1.0.0', true, user);
    expect(outcome(bySession)).toBe('204');
    expect(bySession.headers.get(WARNING)).toBeNull();
    const unknown = await service.push(`gak1.${'0'.repeat(32)}.${'A'.repeat(43)}`, id, '2.0.0');
    expect(outcome(unknown)).toBe('401 invalid_api_key');
    expect(unknown.headers.get(WARNING)).toBeNull();
  });

  it('is not given for a key trusted publishing handed out, as NuGet.org skips its short-lived keys', async () => {
    const user = await service.confirmedUser();
    const key = await keyFor(user, 1);
    await markTrustedPublishing(key.id);
    const response = await service.push(key, newId());
    expect(outcome(response)).toBe('201');
    expect(response.headers.get(WARNING)).toBeNull();
  });
});

describe('the expiry timer', () => {
  it('emails the holder 7 days and 1 day before, once each, however often it runs', async () => {
    const user = await service.confirmedUser();
    const key = await keyFor(user, 30, 'Nightly <build>');
    for (const day of [0, 10, 22.5]) {
      at(key.madeAt, day);
      await runTimer();
    }
    expect(warnings(user, 'Nightly <build>')).toEqual([]);

    for (const day of [23.2, 23.3, 24, 28.9]) {
      at(key.madeAt, day);
      await runTimer();
    }
    expect(warnings(user, 'Nightly <build>')).toEqual(['within 7 days']);
    const [weekBefore] = service.noticesTo(user.person.email, /expires within 7 days/);
    expect(weekBefore.plainText).toContain(`Your API key 'Nightly <build>' (id ${key.id}, pushing for ${user.username}) expires within 7 days, at ${key.expiresAt.slice(0, 10)} ${key.expiresAt.slice(11, 19)} UTC.`);
    expect(weekBefore.plainText).toContain('regenerate it (or create a new one) on the API keys page, https://gallery.example/account/api-keys');
    expect(weekBefore.html).toContain('Nightly &#60;build&#62;');

    for (const day of [29.1, 29.5, 29.9, 30.5, 40]) {
      at(key.madeAt, day);
      await runTimer();
    }
    expect(warnings(user, 'Nightly <build>')).toEqual(['within 7 days', 'within a day']);
  });

  it('runs on demand through the host\u2019s admin API, as the other timers do', async () => {
    const user = await service.confirmedUser();
    const key = await keyFor(user, 9, 'on demand');
    at(key.madeAt, 3);
    expect((await service.call('POST', '/admin/functions/notifyExpiringApiKeys', { body: {} })).status).toBe(202);
    await service.host.idle();
    expect(warnings(user, 'on demand')).toEqual(['within 7 days']);
  });

  it('gives a key only the warnings that fall after it was made, and only the most urgent after a missed week', async () => {
    const user = await service.confirmedUser();
    const fiveDays = await keyFor(user, 5, 'five days');
    await keyFor(user, 1, 'one day');
    const month = await keyFor(user, 30, 'a month');
    for (const day of [0.1, 2, 4.2, 4.9]) {
      at(fiveDays.madeAt, day);
      await runTimer();
    }
    expect(warnings(user, 'five days')).toEqual(['within a day']);
    expect(warnings(user, 'one day')).toEqual([]);

    // The timer was down until a day before the month's key expires: the 7-day warning is no use any more.
    for (const day of [29.2, 29.5]) {
      at(month.madeAt, day);
      await runTimer();
    }
    expect(warnings(user, 'a month')).toEqual(['within a day']);
  });

  it('starts over for a regenerated key, and says nothing of keys revoked, suspended, handed out by trusted publishing, or whose holder is gone', async () => {
    const admin = await service.confirmedUser(newPerson(), SITE_ADMIN);
    const [user, locked, leaving] = await Promise.all([service.confirmedUser(), service.confirmedUser(), service.confirmedUser()]);
    const regenerated = await keyFor(user, 30, 'regenerated');
    const revoked = await keyFor(user, 30, 'revoked');
    const trusted = await keyFor(user, 30, 'trusted');
    await keyFor(locked, 30, 'suspended');
    await keyFor(leaving, 30, 'orphaned');
    const start = regenerated.madeAt;
    await markTrustedPublishing(trusted.id);
    expect(outcome(await service.call('DELETE', `/api/me/api-keys/${revoked.id}`, { token: user.sessionToken }))).toBe('204');
    expect(outcome(await service.lockAccount(admin, locked.username))).toBe('200');
    expect((await service.call('DELETE', '/api/me', { token: leaving.sessionToken, body: { confirmUsername: leaving.username } })).status).toBe(202);

    at(start, 23.5);
    await service.host.runTimer('processAccountDeletions');
    await runTimer();
    expect(warnings(user, 'regenerated')).toEqual(['within 7 days']);
    for (const [who, description] of [[user, 'revoked'], [user, 'trusted'], [locked, 'suspended'], [leaving, 'orphaned']] as const) {
      expect(`${description}: ${warnings(who, description).length}`).toBe(`${description}: 0`);
    }

    // Regenerated a little later: a new expiry, and its own warnings in their time; the old expiry's stop.
    at(start, 23.6);
    const session = await signInAgain(user);
    const renewed = await service.call('POST', `/api/me/api-keys/${regenerated.id}/regenerate`, { token: session.sessionToken });
    expect(outcome(renewed)).toBe('200');
    for (const day of [23.7, 29.5, 46]) {
      at(start, day);
      await runTimer();
    }
    expect(warnings(user, 'regenerated')).toEqual(['within 7 days']);
    at(start, 47);
    await runTimer();
    expect(warnings(user, 'regenerated')).toEqual(['within 7 days', 'within 7 days']);
    expect(service.noticesTo(user.person.email, /'regenerated' expires within 7 days/)[1].plainText).toContain(renewed.body.expiresAt.slice(0, 10));
  });

  it('finds the keys by the days they expire, not by reading every key', async () => {
    const user = await service.confirmedUser();
    const key = await keyFor(user, 8, 'found by day');
    at(key.madeAt, 1.5);
    service.cosmos.reset();
    await runTimer();
    expect(warnings(user, 'found by day')).toEqual(['within 7 days']);
    const queries = service.cosmos.queries().map((line) => line.replace(/^POST \/dbs\/[^/]+/, ''));
    // Eight days' partitions, one query each (the SDK asks for a query's plan first: two requests a query).
    expect(queries.length).toBeLessThanOrEqual(16);
    expect(queries.every((line) => line === '/colls/apiKeyExpiries/docs')).toBe(true);
  });

  /** Three people's 20-day keys, and a second instance, with the clock of both moved to 6.5 days before expiry. */
  async function threeKeysAWeekFromExpiry(description: string) {
    const users = await Promise.all([service.confirmedUser(), service.confirmedUser(), service.confirmedUser()]);
    const keys = await Promise.all(users.map((user) => keyFor(user, 20, description)));
    const second = await service.startSecondInstance();
    at(keys[0].madeAt, 13.5);
    jest.spyOn(second.clock, 'now').mockReturnValue(new Date(keys[0].madeAt + 13.5 * DAY_MS));
    return { users, second };
  }

  it('sends each warning once when it runs on two instances at the same moment', async () => {
    const { users, second } = await threeKeysAWeekFromExpiry('concurrent');
    try {
      await Promise.all([runTimer(), second.host.runTimer('notifyExpiringApiKeys'), runTimer()]);
      await Promise.all([runTimer(), second.host.runTimer('notifyExpiringApiKeys')]);
    } finally {
      await second.stop();
    }
    for (const user of users) expect(warnings(user, 'concurrent')).toEqual(['within 7 days']);
  });

  it('is finished by the next run after one that stopped halfway, and the stopped one sends nothing twice when it goes on', async () => {
    const { users, second } = await threeKeysAWeekFromExpiry('resumed');
    try {
      // The first run sends one warning and stops before recording it: as if its process died there.
      const stopped = service.cosmos.holdNext(/^PUT .*\/colls\/apiKeyExpiries\/docs\//);
      const firstRun = runTimer();
      await stopped.reached;
      expect(users.map((user) => warnings(user, 'resumed').length).sort()).toEqual([0, 0, 1]);

      await second.host.runTimer('notifyExpiringApiKeys');
      for (const user of users) expect(warnings(user, 'resumed')).toEqual(['within 7 days']);

      stopped.release();
      await firstRun;
      await second.host.runTimer('notifyExpiringApiKeys');
      await service.deliverNotices();
      for (const user of users) expect(warnings(user, 'resumed')).toEqual(['within 7 days']);
    } finally {
      await second.stop();
    }
  });

  it('keeps a warning ACS could not take for the outbox timer, which sends it once ACS is back', async () => {
    const user = await service.confirmedUser();
    const key = await keyFor(user, 9, 'during an outage');
    at(key.madeAt, 2.5);
    service.mailbox.setOutage(true);
    try {
      await runTimer();
      await runTimer();
    } finally {
      service.mailbox.setOutage(false);
    }
    expect(warnings(user, 'during an outage')).toEqual([]);
    at(key.madeAt, 2.6);
    await service.host.runTimer('deliverPendingEmails');
    await runTimer();
    expect(warnings(user, 'during an outage')).toEqual(['within 7 days']);
  });
});
