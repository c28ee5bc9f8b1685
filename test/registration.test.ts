import { clock } from '../lib/shared/clock';
import { FRONTEND_ORIGIN, useTestService } from './support/service';
import { newPerson, uniqueName } from './support/people';
import { tokenIn } from './support/waitFor';

const service = useTestService();

describe('registering an account', () => {
  it('creates the account, signs it in and mails a confirmation link to the frontend', async () => {
    const person = newPerson({ name: 'Ada Lovelace' });
    const response = await service.call('POST', '/api/accounts', {
      body: { idToken: service.idTokenFor(person), username: 'Ada.Lovelace-1' },
    });

    expect(response.status).toBe(201);
    expect(response.body.account).toEqual({
      id: expect.any(String),
      username: 'Ada.Lovelace-1',
      kind: 'user',
      emailAddress: person.email,
      emailConfirmed: false,
      emailDomainLapsed: false,
      pendingEmailAddress: null,
      microsoftAccount: { email: person.email, accountType: 'personal', twoFactor: 'verified' },
      hasPassword: false,
      organizations: [],
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      deletion: null,
      notifications: { emailAllowed: true, notifyPackagePushed: true },
    });
    const me = await service.call('GET', '/api/me', { token: response.body.sessionToken });
    expect(me.status).toBe(200);
    expect(me.body.username).toBe('Ada.Lovelace-1');

    const email = service.mailbox.delivered.find((e) => e.to.includes(person.email));
    expect(email?.subject).toBe('Confirm your email address');
    expect(email?.html).toContain('<a href="https://gallery.example/account/confirm-email?token=');
    expect(email?.links).toEqual([expect.stringMatching(new RegExp(`^${FRONTEND_ORIGIN}/account/confirm-email\\?token=[A-Za-z0-9_-]{43}$`))]);
  });

  it('uses the address the person gives instead of the Microsoft one, and says the account type', async () => {
    const person = newPerson({ tid: '72f988bf-86f1-41af-91ab-2d7cd011db47' });
    const response = await service.call('POST', '/api/accounts', {
      body: { idToken: service.idTokenFor(person), username: uniqueName(), emailAddress: 'Work.Person@Contoso.example' },
    });
    expect(response.status).toBe(201);
    expect(response.body.account.emailAddress).toBe('Work.Person@Contoso.example');
    expect(response.body.account.microsoftAccount).toEqual({ email: person.email, accountType: 'work', twoFactor: 'tenant_policy' });
    expect(service.mailbox.delivered.some((e) => e.to.includes('Work.Person@Contoso.example'))).toBe(true);
  });

  it('asks for an address when the Microsoft account shares none', async () => {
    const idToken = service.identity.mint({ email: undefined, preferred_username: 'not-an-email' });
    const response = await service.call('POST', '/api/accounts', { body: { idToken, username: uniqueName() } });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid_request');
    expect(response.body.detail).toContain("'emailAddress'");
  });

  it.each(['ab', 'a'.repeat(65), '-starts', 'ends.', 'has space', 'under_', 'ünicode', 'semi;colon', 'a..b/'])(
    'refuses the username %j with the naming rule',
    async (username) => {
      const response = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(newPerson()), username } });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({
        code: 'invalid_username',
        detail:
          'User names must start and end with a letter or number, and may only contain letters, numbers, underscores, periods, and hyphens in between.',
      });
    },
  );

  it.each(['abc', 'a'.repeat(64), 'a_b.c-d', '0x0'])('accepts the username %j', async (name) => {
    const username = name.length > 10 ? name : `${name}${Date.now() % 100000}`;
    await expect(service.register(newPerson(), username)).resolves.toMatchObject({ username });
  });

  it('keeps names unique whatever their casing', async () => {
    const { username } = await service.register();
    const response = await service.call('POST', '/api/accounts', {
      body: { idToken: service.idTokenFor(newPerson()), username: username.toUpperCase() },
    });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({
      code: 'username_unavailable',
      detail: `The username '${username.toUpperCase()}' is not available.`,
    });
  });

  it('keeps email addresses unique whatever their casing', async () => {
    const { person } = await service.register();
    const response = await service.call('POST', '/api/accounts', {
      body: { idToken: service.idTokenFor(newPerson()), username: uniqueName(), emailAddress: person.email.toUpperCase() },
    });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({
      code: 'email_in_use',
      detail: `The email address '${person.email.toUpperCase()}' is already in use by a different account.`,
    });
  });

  it('links one account per Microsoft account, identified by tenant and object id rather than email', async () => {
    const { person } = await service.register();
    const again = await service.call('POST', '/api/accounts', {
      body: { idToken: service.idTokenFor(person), username: uniqueName(), emailAddress: 'other@example.com' },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('microsoft_account_in_use');

    // The same address under another Microsoft account is a different person.
    const sameEmailOtherAccount = await service.call('POST', '/api/accounts', {
      body: { idToken: service.idTokenFor(newPerson({ email: person.email })), username: uniqueName() },
    });
    expect(sameEmailOtherAccount.status).toBe(409);
    expect(sameEmailOtherAccount.body.code).toBe('email_in_use');
  });

  it('frees the name and address of a registration that failed, for the next person', async () => {
    const { person: holder } = await service.register();
    const loser = newPerson();
    const username = uniqueName();
    const failed = await service.call('POST', '/api/accounts', {
      body: { idToken: service.idTokenFor(loser), username, emailAddress: holder.email },
    });
    expect(failed.status).toBe(409);
    // Neither the name nor the Microsoft account stayed claimed by the failed attempt.
    await expect(service.register(loser, username)).resolves.toMatchObject({ username });
  });

  it('gives one name to exactly one of 40 simultaneous registrations in different casings', async () => {
    const base = uniqueName('race');
    const casings = Array.from({ length: 40 }, (_, i) =>
      [...base].map((c, j) => ((i >> j % 6) & 1 ? c.toUpperCase() : c)).join('') ,
    );
    const people = casings.map(() => newPerson());
    const before = service.mailbox.delivered.length;
    const responses = await Promise.all(
      casings.map((username, i) =>
        service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(people[i]), username } }),
      ),
    );

    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 409 && r.body.code === 'username_unavailable')).toHaveLength(39);
    expect(service.mailbox.delivered.length - before).toBe(1);

    // The 39 losers left nothing behind: each can register another name with the same Microsoft account and address.
    const losers = people.filter((_, i) => responses[i].status === 409);
    const retries = await Promise.all(losers.map((person) => service.register(person, uniqueName('retry'))));
    expect(retries).toHaveLength(39);
  });
});

describe('confirming the email address', () => {
  async function registerAndGetLink() {
    const registered = await service.register();
    const email = service.mailbox.delivered.find((e) => e.to.includes(registered.person.email));
    const token = tokenIn(email!.links[0]);
    return { ...registered, token };
  }

  it('confirms once with the emailed token', async () => {
    const { token, sessionToken } = await registerAndGetLink();
    const confirmed = await service.call('POST', '/api/auth/confirm-email', { body: { token } });
    expect(confirmed.status).toBe(200);
    expect((await service.call('GET', '/api/me', { token: sessionToken })).body.emailConfirmed).toBe(true);

    const reused = await service.call('POST', '/api/auth/confirm-email', { body: { token } });
    expect(reused.status).toBe(400);
    expect(reused.body.code).toBe('invalid_token');
  });

  it('refuses unknown and expired tokens', async () => {
    const unknown = await service.call('POST', '/api/auth/confirm-email', { body: { token: 'A'.repeat(43) } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('invalid_token');

    const { token, sessionToken } = await registerAndGetLink();
    const eightDaysLater = new Date(Date.now() + 8 * 24 * 60 * 60 * 1000);
    jest.spyOn(clock, 'now').mockReturnValue(eightDaysLater);
    const expired = await service.call('POST', '/api/auth/confirm-email', { body: { token } });
    expect(expired.status).toBe(400);
    expect(expired.body.code).toBe('invalid_token');
    jest.restoreAllMocks();
    expect((await service.call('GET', '/api/me', { token: sessionToken })).body.emailConfirmed).toBe(false);
  });

  it('lets only one of two simultaneous uses of a token succeed', async () => {
    const { token } = await registerAndGetLink();
    const [a, b] = await Promise.all([
      service.call('POST', '/api/auth/confirm-email', { body: { token } }),
      service.call('POST', '/api/auth/confirm-email', { body: { token } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 400]);
  });
});
