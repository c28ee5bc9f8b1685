import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { useTestService } from './support/service';
import { newPerson } from './support/people';

const service = useTestService();

afterEach(() => {
  service.mailbox.setOutage(false);
});

const mailTo = (address: string) => service.mailbox.delivered.filter((email) => email.to.includes(address));

function later(minutes: number): void {
  jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + minutes * 60 * 1000));
}

async function runDeliveryTimer(): Promise<void> {
  const response = await fetch(`${service.url}/admin/functions/deliverPendingEmails`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  expect(response.status).toBe(202);
  await service.host.idle();
}

describe('the email outbox', () => {
  it('registers while email is down, then the timer delivers the confirmation exactly once', async () => {
    service.mailbox.setOutage(true);
    const { person } = await service.register();
    expect(mailTo(person.email)).toHaveLength(0);

    // Still down at the first retry: nothing lost, nothing sent.
    later(2);
    await runDeliveryTimer();
    expect(mailTo(person.email)).toHaveLength(0);

    service.mailbox.setOutage(false);
    // Backoff: the second retry is not due one minute after the first failure...
    later(2.5);
    await runDeliveryTimer();
    expect(mailTo(person.email)).toHaveLength(0);
    // ...but is a few minutes later.
    later(10);
    await runDeliveryTimer();
    expect(mailTo(person.email)).toHaveLength(1);
    expect(mailTo(person.email)[0].links[0]).toMatch(/\/account\/confirm-email\?token=/);

    later(120);
    await runDeliveryTimer();
    expect(mailTo(person.email)).toHaveLength(1);
  });

  it('sends an email whose send failed only once ACS accepts it, and never a second copy', async () => {
    service.mailbox.failNextSends(1);
    const { person } = await service.register();
    expect(mailTo(person.email)).toHaveLength(0);
    later(2);
    await Promise.all([runDeliveryTimer(), runDeliveryTimer()]);
    later(3);
    await runDeliveryTimer();
    expect(mailTo(person.email)).toHaveLength(1);
  });

  it('never sends the email of a change that was not written, and gives it up after a while', async () => {
    const person = newPerson();
    service.cosmos.failNext(/^POST .*\/colls\/accounts\/docs$/);
    const failed = await service.call('POST', '/api/accounts', {
      body: { idToken: service.identity.mint({ email: person.email, oid: person.oid }), username: `n${randomBytes(4).toString('hex')}` },
    });
    expect(failed.status).toBe(500);
    expect(failed.body.code).toBe('internal_error');
    expect(failed.text).not.toMatch(/InjectedFault|injected|at .*\.ts/);

    await runDeliveryTimer();
    later(30);
    await runDeliveryTimer();
    expect(mailTo(person.email)).toHaveLength(0);
    // The failed attempt released its claims: the same person registers normally, and gets one email.
    jest.restoreAllMocks();
    await service.register(person);
    expect(mailTo(person.email)).toHaveLength(1);
  });

  it('runs on demand through the admin endpoint, and refuses unknown functions', async () => {
    await runDeliveryTimer();
    const unknown = await fetch(`${service.url}/admin/functions/noSuchFunction`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(unknown.status).toBe(404);
  });
});

describe('the outbox schedule', () => {
  /** Moves the clock to `minutes` after `start` and runs the delivery timer, as its every-minute schedule would. */
  async function timerAt(start: number, minutes: number): Promise<void> {
    jest.spyOn(clock, 'now').mockReturnValue(new Date(start + minutes * 60 * 1000));
    await service.host.runTimer('deliverPendingEmails');
  }

  const forgotPassword = (emailAddress: string) => service.call('POST', '/api/auth/forgot-password', { body: { emailAddress } });
  const resetLinksTo = (address: string) => mailTo(address).filter((e) => e.subject === 'Reset your password');

  it('sends a reset link that waited through an outage within five minutes of ACS’s recovery', async () => {
    const start = Date.now();
    // Reset links go only to confirmed addresses, so the people confirm theirs before the outage.
    const people = [];
    for (let i = 0; i < 4; i += 1) people.push((await service.confirmedUser()).person);
    service.mailbox.setOutage(true);
    // Asked for a minute apart, so their retries fall at different moments when ACS recovers.
    for (const [minute, person] of people.entries()) {
      jest.spyOn(clock, 'now').mockReturnValue(new Date(start + minute * 60 * 1000));
      expect((await forgotPassword(person.email)).status).toBe(202);
    }
    await service.host.idle();
    for (let minute = 1; minute <= 40; minute += 1) await timerAt(start, minute);
    expect(people.flatMap((p) => resetLinksTo(p.email))).toEqual([]);

    // ACS is back half a minute later; the timer goes on every minute.
    service.mailbox.setOutage(false);
    const recoveredAt = 40.5;
    const sentAt = new Map<string, number>();
    for (let minute = 41; minute <= 50; minute += 1) {
      await timerAt(start, minute);
      for (const person of people) if (resetLinksTo(person.email).length > 0 && !sentAt.has(person.email)) sentAt.set(person.email, minute);
    }
    expect(people.map((p) => (sentAt.get(p.email) ?? Infinity) - recoveredAt).filter((delay) => delay > 5)).toEqual([]);
    // Each exactly once, with the confirmation of its registration.
    for (const person of people) {
      expect(resetLinksTo(person.email)).toHaveLength(1);
      expect(mailTo(person.email)).toHaveLength(2);
    }
  });

  it('never sends an email whose link expired while it waited; other emails still go', async () => {
    const start = Date.now();
    const { person, sessionToken } = await service.confirmedUser();
    service.mailbox.setOutage(true);
    expect((await forgotPassword(person.email)).status).toBe(202);
    const newAddress = newPerson().email;
    // A notice without a link, and a confirmation link that works for a week.
    expect((await service.call('POST', '/api/me/email', { token: sessionToken, body: { emailAddress: newAddress } })).status).toBe(202);
    await service.host.idle();
    for (let minute = 5; minute <= 60; minute += 5) await timerAt(start, minute);

    // ACS recovers after the reset link's hour.
    service.mailbox.setOutage(false);
    await timerAt(start, 61);
    await timerAt(start, 66);
    expect(resetLinksTo(person.email)).toEqual([]);
    expect(mailTo(person.email).map((e) => e.subject)).toEqual(['Confirm your email address', 'Your email address is being changed']);
    expect(mailTo(newAddress).map((e) => e.subject)).toEqual(['Confirm your new email address']);
    const { resources } = await container('outbox')
      .items.query({ query: 'SELECT c.status, c.subject FROM c WHERE c["to"] = @to', parameters: [{ name: '@to', value: person.email }] })
      .fetchAll();
    expect(resources).toContainEqual({ status: 'expired', subject: 'Reset your password' });

    // A new request gets a link that works, at once.
    await timerAt(start, 70);
    expect((await forgotPassword(person.email)).status).toBe(202);
    await service.waitForEmailTo(person.email, 'Reset your password');
  });

  it('goes on with the other emails when one of them cannot be handled in a run', async () => {
    const start = Date.now();
    service.mailbox.setOutage(true);
    const first = await service.register();
    const second = await service.register();
    service.mailbox.setOutage(false);
    // The store refuses the first email's lease in the next run.
    const firstEmail = (
      await container('outbox')
        .items.query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c["to"] = @to', parameters: [{ name: '@to', value: first.person.email }] })
        .fetchAll()
    ).resources[0];
    service.cosmos.failNext(new RegExp(`^PUT .*/colls/outbox/docs/${firstEmail.id}$`), 503, 20);
    await timerAt(start, 2);
    service.cosmos.clearFaults();
    expect(mailTo(second.person.email)).toHaveLength(1);
    expect(mailTo(first.person.email)).toHaveLength(0);
    await timerAt(start, 4);
    expect(mailTo(first.person.email)).toHaveLength(1);
  });
});

describe('the ACS stand-in', () => {
  it('rejects a request signed with the wrong key, so the outbox keeps the email', async () => {
    const { EmailClient } = await import('@azure/communication-email');
    const endpoint = /endpoint=([^;]+)/.exec(process.env.COMMUNICATION_SERVICES_CONNECTION_STRING!)![1];
    const client = new EmailClient(`endpoint=${endpoint};accesskey=${randomBytes(32).toString('base64')}`, {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    });
    await expect(
      client.beginSend({
        senderAddress: 'DoNotReply@gallery.example',
        recipients: { to: [{ address: 'someone@example.com' }] },
        content: { subject: 'x', plainText: 'x' },
      }),
    ).rejects.toMatchObject({ statusCode: 401 });
  });
});
