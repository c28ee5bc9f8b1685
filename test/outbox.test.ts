import { randomBytes } from 'node:crypto';
import { clock } from '../lib/shared/clock';
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
