import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { NATIVE_ARGON2_HASHES } from './fixtures/argon2Hashes';
import { FRONTEND_ORIGIN, useTestService } from './support/service';
import { newPerson } from './support/people';
import { tokenIn, waitFor } from './support/waitFor';

const service = useTestService();

const STRONG_PASSWORD = 'correct horse battery staple 🐎';

// Every test runs a day after the one before, in rate-limit windows of its own: one test's many sign-ins from
// 127.0.0.1 must not use up the next one's allowance.
const DAY_MS = 24 * 60 * 60 * 1000;
let testDay = 0;
beforeEach(() => {
  testDay += 1;
  later(0);
});

function later(minutes: number): void {
  const offset = testDay * DAY_MS + minutes * 60 * 1000;
  jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + offset));
}

async function resetLinkFor(emailAddress: string): Promise<string> {
  const before = service.mailbox.delivered.length;
  const response = await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress } });
  expect(response.status).toBe(202);
  const email = await waitFor(() =>
    service.mailbox.delivered.slice(before).find((e) => e.to.includes(emailAddress) && e.subject === 'Reset your password'),
  );
  return email.links[0];
}

/** An account that lost its Microsoft account and set a password by email, as the FAQ's recovery describes. */
async function accountWithPassword(password = STRONG_PASSWORD) {
  const registered = await service.register();
  await service.confirmRegistrationEmail(registered);
  const token = tokenIn(await resetLinkFor(registered.person.email));
  const reset = await service.call('POST', '/api/auth/reset-password', { body: { token, newPassword: password } });
  expect(reset.status).toBe(200);
  return { ...registered, password };
}

const passwordSignIn = (username: string, password: string) =>
  service.call('POST', '/api/auth/password', { body: { username, password } });

describe('forgot password', () => {
  it('answers a known and an unknown address identically, and mails a one-hour link only to the known one', async () => {
    const { person } = await service.confirmedUser();
    const unknownAddress = newPerson().email;
    const known = await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress: person.email.toUpperCase() } });
    const unknown = await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress: unknownAddress } });

    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(unknown.text).toBe(known.text);
    const email = await service.waitForEmailTo(person.email, 'Reset your password');
    expect(email.links).toEqual([expect.stringMatching(new RegExp(`^${FRONTEND_ORIGIN}/account/reset-password\\?token=[A-Za-z0-9_-]{43}$`))]);
    expect(email.html).toContain('/account/reset-password?token=');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(service.mailbox.delivered.some((e) => e.to.includes(unknownAddress))).toBe(false);
  });

  it('mails no link to an address the account never confirmed: whoever holds a mistyped address cannot take the account over', async () => {
    const { person } = await service.register();
    const response = await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress: person.email } });
    expect(response.status).toBe(202);
    await service.host.idle();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(service.mailbox.delivered.filter((e) => e.to.includes(person.email)).map((e) => e.subject)).toEqual(['Confirm your email address']);
  });

  it('takes about as long for an unknown address as for a known one', async () => {
    const { person } = await service.confirmedUser();
    const time = async (emailAddress: string) => {
      const started = performance.now();
      await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress } });
      return performance.now() - started;
    };
    const knownTimes: number[] = [];
    const unknownTimes: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      knownTimes.push(await time(person.email));
      unknownTimes.push(await time(newPerson().email));
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.abs(mean(knownTimes) - mean(unknownTimes))).toBeLessThan(100);
  });
});

describe('resetting the password', () => {
  it('works once, ends every session, and lets the account sign in with the password', async () => {
    const { person, username, sessionToken } = await service.confirmedUser();
    const token = tokenIn(await resetLinkFor(person.email));

    const reset = await service.call('POST', '/api/auth/reset-password', { body: { token, newPassword: STRONG_PASSWORD } });
    expect(reset.status).toBe(200);
    expect((await service.call('GET', '/api/me', { token: sessionToken })).status).toBe(401);

    const again = await service.call('POST', '/api/auth/reset-password', { body: { token, newPassword: `${STRONG_PASSWORD}!` } });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('invalid_token');

    const signIn = await passwordSignIn(username.toUpperCase(), STRONG_PASSWORD);
    expect(signIn.status).toBe(200);
    expect(signIn.body).toMatchObject({ status: 'password_login_discontinued', account: { username, hasPassword: true } });
  });

  it('refuses a link older than an hour', async () => {
    const { person } = await service.confirmedUser();
    const token = tokenIn(await resetLinkFor(person.email));
    later(61);
    const response = await service.call('POST', '/api/auth/reset-password', { body: { token, newPassword: STRONG_PASSWORD } });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid_token');
  });

  it.each([
    ['too short', () => 'Ab3$xyz', /at least 8 characters/],
    ['a common password', () => 'password1', /most common/],
    ['a common password in other casing', () => 'QWERTY123', /most common/],
  ])('refuses %s with weak_password, and the link still works for a better one', async (_label, password, why) => {
    const { person } = await service.confirmedUser();
    const token = tokenIn(await resetLinkFor(person.email));
    const weak = await service.call('POST', '/api/auth/reset-password', { body: { token, newPassword: password() } });
    expect(weak.status).toBe(400);
    expect(weak.body.code).toBe('weak_password');
    expect(weak.body.detail).toMatch(why);
    const strong = await service.call('POST', '/api/auth/reset-password', { body: { token, newPassword: STRONG_PASSWORD } });
    expect(strong.status).toBe(200);
  });

  it('refuses the username or email address as the password, in any casing', async () => {
    const { person, username } = await service.confirmedUser();
    const token = tokenIn(await resetLinkFor(person.email));
    for (const password of [username.toUpperCase(), person.email.toUpperCase()]) {
      const response = await service.call('POST', '/api/auth/reset-password', { body: { token, newPassword: password } });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'weak_password', detail: expect.stringMatching(/username or email/) });
    }
  });

  it('accepts a long passphrase in any script, with no composition rules', async () => {
    await expect(accountWithPassword('ночь улица фонарь аптека 夜 街 灯 薬局')).resolves.toBeTruthy();
  });
});

describe('a reset link works only while the address it went to is the account’s', () => {
  const reset = (token: string, newPassword = STRONG_PASSWORD) =>
    service.call('POST', '/api/auth/reset-password', { body: { token, newPassword } });
  const freshAddress = () => newPerson().email.replace('@example.com', '@example.org');

  it('stops working once the account changed its email address: the old mailbox cannot take the account over', async () => {
    const { person, username, sessionToken } = await service.confirmedUser();
    const stale = tokenIn(await resetLinkFor(person.email));
    const newAddress = freshAddress();
    await service.changeEmailAddress({ sessionToken }, newAddress);

    const refused = await reset(stale);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('invalid_token');
    expect((await passwordSignIn(username, STRONG_PASSWORD)).status).toBe(401);
    // A link to the address the account has now works.
    expect((await reset(tokenIn(await resetLinkFor(newAddress)))).status).toBe(200);
    expect((await passwordSignIn(username, STRONG_PASSWORD)).status).toBe(200);
  });

  it('still works while a change is only asked for: the address is still the account’s', async () => {
    const { person, sessionToken } = await service.confirmedUser();
    const link = tokenIn(await resetLinkFor(person.email));
    expect((await service.call('POST', '/api/me/email', { token: sessionToken, body: { emailAddress: freshAddress() } })).status).toBe(202);
    expect((await reset(link)).status).toBe(200);
  });

  it('stops working once the password was reset with another link', async () => {
    const { person } = await service.confirmedUser();
    const first = tokenIn(await resetLinkFor(person.email));
    const second = tokenIn(await resetLinkFor(person.email));
    expect((await reset(second)).status).toBe(200);
    expect((await reset(first, `${STRONG_PASSWORD} two`)).body.code).toBe('invalid_token');
  });

  it('stops working once a Microsoft account was linked', async () => {
    const { person, sessionToken } = await service.confirmedUser();
    const link = tokenIn(await resetLinkFor(person.email));
    const replaced = await service.call('PUT', '/api/me/microsoft-account', { token: sessionToken, body: { idToken: service.idTokenFor(newPerson()) } });
    expect(replaced.status).toBe(200);
    expect((await reset(link)).body.code).toBe('invalid_token');
    expect((await service.call('GET', '/api/me', { token: replaced.body.sessionToken })).body.hasPassword).toBe(false);
  });

  it('loses to an email change confirmed while the reset is being written', async () => {
    const { person, username, sessionToken } = await service.confirmedUser();
    const me = (await service.call('GET', '/api/me', { token: sessionToken })).body;
    const stale = tokenIn(await resetLinkFor(person.email));
    const newAddress = freshAddress();
    expect((await service.call('POST', '/api/me/email', { token: sessionToken, body: { emailAddress: newAddress } })).status).toBe(202);
    const confirmation = await service.waitForEmailTo(newAddress, 'Confirm your new email address');

    // The reset has checked its link and is about to write the account when the change is confirmed.
    const held = service.cosmos.holdNext(new RegExp(`^PUT .*/colls/accounts/docs/${me.id}$`));
    const resetting = reset(stale);
    await held.reached;
    expect((await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(confirmation.links[0]) } })).status).toBe(200);
    held.release();

    expect((await resetting).body.code).toBe('invalid_token');
    expect((await passwordSignIn(username, STRONG_PASSWORD)).status).toBe(401);
    const account = (await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(person) } })).body.account;
    expect(account).toMatchObject({ emailAddress: newAddress, hasPassword: false });
  });
});

describe('password sign-in', () => {
  it('answers a wrong password and an unknown user the same way', async () => {
    const { username } = await accountWithPassword();
    const wrong = await passwordSignIn(username, 'not the password at all');
    const unknown = await passwordSignIn('no-such-user-anywhere', 'not the password at all');
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('invalid_credentials');
    expect(unknown.text).toBe(wrong.text);
  });

  it('stores argon2id at OWASP’s parameters with a salt of its own, never the password', async () => {
    const { account, password } = await accountWithPassword();
    const { resource: stored } = await container('accounts').item(account.id, account.id).read();
    expect(stored.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(JSON.stringify(stored)).not.toContain(password);
  });

  it.each(NATIVE_ARGON2_HASHES)('still verifies a hash the earlier native argon2 module stored (%#)', async ({ password, hash }) => {
    const { account, username } = await accountWithPassword();
    const { resource: stored } = await container('accounts').item(account.id, account.id).read();
    await container('accounts').item(account.id, account.id).replace({ ...stored, passwordHash: hash });

    expect((await passwordSignIn(username, `${password}!`)).status).toBe(401);
    const signedIn = await passwordSignIn(username, password);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.status).toBe('password_login_discontinued');
  });

  it('refuses an account that has no password', async () => {
    const { username } = await service.confirmedUser();
    const response = await passwordSignIn(username, STRONG_PASSWORD);
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('invalid_credentials');
  });

  it('gives a session that can read the account and link a Microsoft account, and nothing else', async () => {
    const { username } = await accountWithPassword();
    const { sessionToken } = (await passwordSignIn(username, STRONG_PASSWORD)).body;

    expect((await service.call('GET', '/api/me', { token: sessionToken })).status).toBe(200);
    for (const [method, path, body] of [
      ['PATCH', '/api/me', {}],
      ['POST', '/api/auth/sign-out-everywhere', undefined],
      ['POST', '/api/me/email', { emailAddress: 'new@example.com' }],
      ['DELETE', '/api/me/email/pending', undefined],
      ['GET', '/api/me/audit', undefined],
    ] as const) {
      const response = await service.call(method, path, { token: sessionToken, body });
      expect(`${method} ${path} ${response.status} ${response.body?.code}`).toBe(`${method} ${path} 403 microsoft_account_required`);
    }
  });

  it('locks the account for a minute after 10 failures, ten minutes after 20, even for the right password', async () => {
    const { username, password } = await accountWithPassword();
    for (let i = 0; i < 10; i += 1) expect((await passwordSignIn(username, `wrong ${i}`)).status).toBe(401);

    const locked = await passwordSignIn(username, password);
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe('account_locked');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(60);

    later(1.1);
    for (let i = 10; i < 20; i += 1) expect((await passwordSignIn(username, `wrong ${i}`)).status).toBe(401);
    const lockedLonger = await passwordSignIn(username, password);
    expect(lockedLonger.status).toBe(429);
    expect(Number(lockedLonger.headers.get('retry-after'))).toBeGreaterThan(500);
    expect(Number(lockedLonger.headers.get('retry-after'))).toBeLessThanOrEqual(600);

    later(12);
    const afterwards = await passwordSignIn(username, password);
    expect(afterwards.status).toBe(200);
  });

  it('lets no more than 10 guesses made at once be checked before the lock holds', async () => {
    const { username, password } = await accountWithPassword();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => passwordSignIn(username, `wrong ${i}`)));
    expect(answers.map((answer) => `${answer.status} ${answer.body.code}`).sort()).toEqual([
      ...Array<string>(10).fill('401 invalid_credentials'),
      ...Array<string>(10).fill('429 account_locked'),
    ]);
    expect((await passwordSignIn(username, password)).status).toBe(429);
  });

  it('lifts the lock when the password is reset by email', async () => {
    const { username, person } = await accountWithPassword();
    for (let i = 0; i < 10; i += 1) await passwordSignIn(username, `wrong ${i}`);
    expect((await passwordSignIn(username, STRONG_PASSWORD)).status).toBe(429);

    const token = tokenIn(await resetLinkFor(person.email));
    const newPassword = `${STRONG_PASSWORD} again`;
    expect((await service.call('POST', '/api/auth/reset-password', { body: { token, newPassword } })).status).toBe(200);
    expect((await passwordSignIn(username, newPassword)).status).toBe(200);
  });
});

describe('changing the linked Microsoft account', () => {
  it('links a new Microsoft account from a recovery session: the password goes, the old Microsoft account no longer signs in', async () => {
    const { username, person: lost } = await accountWithPassword();
    const { sessionToken: recovery } = (await passwordSignIn(username, STRONG_PASSWORD)).body;
    const replacement = newPerson({ tid: '72f988bf-86f1-41af-91ab-2d7cd011db47' });

    const linked = await service.call('PUT', '/api/me/microsoft-account', {
      token: recovery,
      body: { idToken: service.idTokenFor(replacement) },
    });
    expect(linked.status).toBe(200);
    expect(linked.body.account).toMatchObject({
      username,
      hasPassword: false,
      microsoftAccount: { email: replacement.email, accountType: 'work', twoFactor: 'tenant_policy' },
    });
    // A full session now: it can do what the recovery session could not.
    expect((await service.call('GET', '/api/me/audit', { token: linked.body.sessionToken })).status).toBe(200);
    expect((await service.call('GET', '/api/me', { token: recovery })).status).toBe(401);

    expect((await passwordSignIn(username, STRONG_PASSWORD)).status).toBe(401);
    const newSignIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(replacement) } });
    expect(newSignIn.body).toMatchObject({ status: 'signed_in', account: { username } });
    const oldSignIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(lost) } });
    expect(oldSignIn.body.status).not.toBe('signed_in');
    expect(oldSignIn.body).not.toHaveProperty('sessionToken');
  });

  it('ends every other session and gives the caller a fresh one', async () => {
    const { person, sessionToken: first } = await service.confirmedUser();
    const second = (await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(person) } })).body.sessionToken;
    const replaced = await service.call('PUT', '/api/me/microsoft-account', {
      token: first,
      body: { idToken: service.idTokenFor(newPerson()) },
    });
    expect(replaced.status).toBe(200);
    expect((await service.call('GET', '/api/me', { token: first })).status).toBe(401);
    expect((await service.call('GET', '/api/me', { token: second })).status).toBe(401);
    expect((await service.call('GET', '/api/me', { token: replaced.body.sessionToken })).status).toBe(200);
  });

  it('refuses a Microsoft account linked to another account, naming it', async () => {
    const { sessionToken } = await service.confirmedUser();
    const { person: other } = await service.confirmedUser();
    const response = await service.call('PUT', '/api/me/microsoft-account', {
      token: sessionToken,
      body: { idToken: service.idTokenFor(other) },
    });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({
      code: 'microsoft_account_linked_elsewhere',
      detail: `Failed to update the Microsoft account with '${other.name} <${other.email}>'. This could happen if it is already linked to another account. Contact support for more information.`,
    });
    // Nothing changed: the session still works.
    expect((await service.call('GET', '/api/me', { token: sessionToken })).status).toBe(200);
  });

  it('still requires a fresh, two-factor ID token', async () => {
    const { sessionToken } = await service.confirmedUser();
    const person = newPerson();
    const stale = service.identity.mint({ email: person.email, oid: person.oid }, { issuedAt: new Date(clock.now().getTime() - 11 * 60 * 1000) });
    expect((await service.call('PUT', '/api/me/microsoft-account', { token: sessionToken, body: { idToken: stale } })).body.code).toBe(
      'invalid_id_token',
    );
    const noMfa = service.identity.mint({ email: person.email, oid: person.oid }, { mfa: false, issuedAt: clock.now() });
    expect((await service.call('PUT', '/api/me/microsoft-account', { token: sessionToken, body: { idToken: noMfa } })).body.code).toBe(
      'mfa_required',
    );
  });
});

describe('the security log', () => {
  it('records resets, failed sign-ins and credential changes with the client address', async () => {
    const { username } = await accountWithPassword();
    await passwordSignIn(username, 'definitely wrong');
    const { sessionToken: recovery } = (await passwordSignIn(username, STRONG_PASSWORD)).body;
    const linked = await service.call('PUT', '/api/me/microsoft-account', {
      token: recovery,
      body: { idToken: service.idTokenFor(newPerson()) },
    });
    const log = await service.call('GET', '/api/me/audit', { token: linked.body.sessionToken });
    const actions = log.body.events.map((e: { action: string }) => e.action);
    expect(actions).toEqual([
      'microsoft_account_changed',
      'signed_in',
      'sign_in_failed',
      'password_reset',
      'password_reset_requested',
      'email_confirmed',
      'account_registered',
    ]);
    expect(log.body.events[0].clientAddress).toMatch(/127\.0\.0\.1/);
  });
});
