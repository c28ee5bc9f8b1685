import { randomUUID } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { useTestService, type ApiResponse } from './support/service';
import { newPerson, uniqueName, type Person } from './support/people';
import { tokenIn } from './support/waitFor';

const service = useTestService();

const SUBJECT = 'The Microsoft account you sign in with';

const assist = (body: { username: string; emailAddress?: string }) => service.call('POST', '/api/auth/sign-in-assistance', { body });

/**
 * Every call counts against the per-client and per-username limits, so each test runs in a rate-limit window
 * of its own: the service's clock moves on by whole hours (after any registration, whose ID token is
 * checked against that clock).
 */
let windowsUsed = 0;
function inFreshRateWindow(): void {
  windowsUsed += 1;
  const offset = windowsUsed * 2 * 60 * 60 * 1000;
  jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + offset));
}

/** An account whose address differs from its Microsoft account's, so the tests can tell which one is used. */
async function registerWithAddress(emailAddress: string, person: Person = newPerson()) {
  const registered = await service.register(person);
  const changed = await service.call('POST', '/api/me/email', { token: registered.sessionToken, body: { emailAddress } });
  expect(changed.status).toBe(202);
  const link = (await service.waitForEmailTo(emailAddress)).links[0];
  const confirmed = await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(link) } });
  expect(confirmed.status).toBe(200);
  return registered;
}

const tag = () => randomUUID().slice(0, 8);

describe('sign-in assistance with a username', () => {
  it('answers the masked address: first character, ten stars, last character, the domain', async () => {
    const { username } = await service.register(newPerson({ email: `j${tag()}n@example.com` }));
    inFreshRateWindow();
    const response = await assist({ username });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ maskedEmailAddress: 'j**********n@example.com' });
  });

  it.each([
    ['a short local part', () => `q${tag().slice(0, 1)}@contoso.example`, (a: string) => `q**********${a[1]}@contoso.example`],
    ['a long one and a subdomain', () => `Alexandra.Long-Name+${tag()}Z@mail.fabrikam.example`, () => 'A**********Z@mail.fabrikam.example'],
  ])('masks %s the same way', async (_label, address, masked) => {
    const emailAddress = address();
    const { username } = await service.register(newPerson({ email: emailAddress }));
    inFreshRateWindow();
    const response = await assist({ username });
    expect(response.status).toBe(200);
    expect(response.body.maskedEmailAddress).toBe(masked(emailAddress));
    expect(response.body.maskedEmailAddress).toMatch(/^[^*]\*{10}[^*]@/);
  });

  it('finds the user in any casing of the username', async () => {
    const { username } = await service.register(newPerson({ email: `k${tag()}m@example.com` }), `Case.${uniqueName()}`);
    inFreshRateWindow();
    for (const spelling of [username, username.toUpperCase(), username.toLowerCase()]) {
      const response = await assist({ username: spelling });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ maskedEmailAddress: 'k**********m@example.com' });
    }
  });

  it('answers 404 user_not_found for an unknown username', async () => {
    inFreshRateWindow();
    const response = await assist({ username: uniqueName('nobody') });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ code: 'user_not_found', status: 404 });
  });

  it('refuses unknown fields and a username of the wrong type, naming the field', async () => {
    inFreshRateWindow();
    const extra = await service.call('POST', '/api/auth/sign-in-assistance', { body: { username: 'someone', password: 'x' } });
    expect(extra.status).toBe(400);
    expect(extra.body).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining("'password'") });
    const wrongType = await service.call('POST', '/api/auth/sign-in-assistance', { body: { username: 42 } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining("'username'") });
  });
});

describe('sign-in assistance with a username and an email address', () => {
  function expectSameAnswer(responses: ApiResponse[]): void {
    for (const response of responses) {
      expect(response.status).toBe(202);
      expect(response.headers.get('content-type')).toBe(responses[0].headers.get('content-type'));
      expect(response.body).toEqual(responses[0].body);
    }
    expect(responses[0].body).toEqual({ message: expect.any(String) });
  }

  it('answers alike whether the address matches, does not, or the user does not exist', async () => {
    const person = newPerson({ name: 'Grace Hopper' });
    const accountAddress = `Grace.${tag()}@navy.example`;
    const { username } = await registerWithAddress(accountAddress, person);
    inFreshRateWindow();

    expectSameAnswer([
      await assist({ username, emailAddress: accountAddress }),
      await assist({ username, emailAddress: `someone.else.${tag()}@navy.example` }),
      await assist({ username: uniqueName('nobody'), emailAddress: accountAddress }),
    ]);
  });

  it("mails the account's own address, on a case-insensitive match only, naming the Microsoft account", async () => {
    const person = newPerson({ name: 'Ada Lovelace' });
    const accountAddress = `Ada.${tag()}@analytical.example`;
    const { username } = await registerWithAddress(accountAddress, person);
    inFreshRateWindow();
    const wrongAddress = `ada.${tag()}@analytical.example`;

    // Neither a wrong address nor its Microsoft account's address (which is not the account's) gets anything.
    expect((await assist({ username, emailAddress: wrongAddress })).status).toBe(202);
    expect((await assist({ username, emailAddress: person.email })).status).toBe(202);
    expect((await assist({ username: uniqueName('nobody'), emailAddress: accountAddress })).status).toBe(202);

    expect((await assist({ username: username.toUpperCase(), emailAddress: accountAddress.toLowerCase() })).status).toBe(202);
    const email = await service.waitForEmailTo(accountAddress, SUBJECT);
    expect(email.to).toEqual([accountAddress]);
    expect(email.plainText).toContain(`${person.name} <${person.email}>`);
    expect(email.plainText).toContain(username);
    expect(email.html).toContain(`${person.name} &#60;${person.email}&#62;`);

    // Emails go out in the background: give any stray one the time the matching one took, and more.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(service.emailsTo(accountAddress).filter((e) => e.subject === SUBJECT)).toHaveLength(1);
    expect(service.emailsTo(wrongAddress)).toHaveLength(0);
    expect(service.emailsTo(person.email).filter((e) => e.subject === SUBJECT)).toHaveLength(0);
  });

  it('mails nothing to an address the account never confirmed', async () => {
    const person = newPerson();
    const { username } = await service.register(person);
    inFreshRateWindow();

    expect((await assist({ username, emailAddress: person.email })).status).toBe(202);
    await service.host.idle();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(service.emailsTo(person.email).filter((e) => e.subject === SUBJECT)).toHaveLength(0);
  });

  it('takes about as long whether the address matches or not', async () => {
    const accountAddress = `timing.${tag()}@example.com`;
    const { username } = await registerWithAddress(accountAddress);
    inFreshRateWindow();
    const nobody = uniqueName('nobody');

    async function timeMs(body: { username: string; emailAddress: string }): Promise<number> {
      const started = performance.now();
      expect((await assist(body)).status).toBe(202);
      return performance.now() - started;
    }
    // Interleaved rounds, so a slow moment of the machine weighs on every kind alike. The per-username limit
    // (10 an hour) leaves room for four matching and four wrong addresses.
    const rounds = 4;
    let [matching, wrong, unknownUser] = [0, 0, 0];
    for (let round = 0; round < rounds; round += 1) {
      matching += (await timeMs({ username, emailAddress: accountAddress })) / rounds;
      wrong += (await timeMs({ username, emailAddress: `wrong.${tag()}@example.com` })) / rounds;
      unknownUser += (await timeMs({ username: nobody, emailAddress: accountAddress })) / rounds;
    }
    expect(Math.abs(matching - wrong)).toBeLessThan(100);
    expect(Math.abs(matching - unknownUser)).toBeLessThan(100);
    await service.waitForEmailTo(accountAddress, SUBJECT);
  });

  it('refuses a malformed address, naming the field', async () => {
    inFreshRateWindow();
    const response = await assist({ username: 'someone', emailAddress: 'not an address' });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining("'emailAddress'") });
  });
});
