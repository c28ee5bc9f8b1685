import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { domainCheckLimits } from '../lib/accounts/emailDomains/check';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import type { Member } from './support/organizations';
import { newPerson, uniqueName, type Person } from './support/people';
import { startServiceProcess } from './support/process';
import { outcome, useTestService } from './support/service';
import { tokenIn } from './support/waitFor';

/**
 * Lapsed email domains: the timer checkEmailDomains asks RDAP (the stand-in: a bootstrap file and the registries'
 * servers) about the registered domain of every confirmed address, and an address whose domain expired, or was
 * registered again after it was confirmed, counts as unconfirmed until an address is confirmed again.
 */
const service = useTestService();

const DAY_MS = 24 * 60 * 60 * 1000;
const RESET_SUBJECT = 'Reset your password';

beforeEach(() => {
  // Quick look-ups and a short pace, so a test does not wait on the registries' real one.
  jest.replaceProperty(domainCheckLimits, 'perServerIntervalMs', 20);
  jest.replaceProperty(domainCheckLimits, 'lookupTimeoutMs', 300);
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  service.cosmos.clearFaults();
});

/** A registered domain no other test uses, under `tld` (served by the stand-in's registry for it, if any). */
const newDomain = (tld = 'com') => `${uniqueName('d')}.${tld}`;
const personAt = (domain: string, host = domain): Person => newPerson({ email: `${randomBytes(4).toString('hex')}@${host}` });

/** Moves the service's clock to `days` after `from` (a time in ms). */
const at = (from: number, days: number) => {
  const moved = new Date(from + days * DAY_MS);
  jest.spyOn(clock, 'now').mockReturnValue(moved);
  return moved;
};

const runCheck = () => service.host.runTimer('checkEmailDomains');
const lookupsOf = (domain: string) => service.rdap.lookups.filter((lookup) => lookup.name === domain);

async function me(member: Pick<Member, 'sessionToken'>) {
  const response = await service.call('GET', '/api/me', { token: member.sessionToken });
  expect(response.status).toBe(200);
  return response.body;
}

/** A fresh session by the service's clock (the one held may have expired while the clock moved). */
async function signedIn(member: Member): Promise<Member> {
  return { ...member, sessionToken: await service.signIn(member.person) };
}

/** Asks for a reset link to the member's address, and whether one arrived. */
async function resetLinkArrives(member: Member): Promise<boolean> {
  const seen = service.emailsTo(member.person.email).filter((email) => email.subject === RESET_SUBJECT).length;
  const asked = await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress: member.person.email } });
  expect(asked.status).toBe(202);
  // The email is sent in the background; the answer takes 300 ms whatever happens, so give it as long again.
  await new Promise((resolve) => setTimeout(resolve, 400));
  return service.emailsTo(member.person.email).filter((email) => email.subject === RESET_SUBJECT).length > seen;
}

/** A confirmed account on a new, healthy domain that has been asked about once; and when that began. */
async function accountOnCheckedDomain(): Promise<{ domain: string; start: number; user: Member }> {
  const domain = newDomain();
  const start = clock.now().getTime();
  service.rdap.healthy(domain, new Date(start));
  const user = await service.confirmedUser(personAt(domain));
  await runCheck();
  expect(lookupsOf(domain)).toHaveLength(1);
  return { domain, start, user };
}

/** A confirmed account on a new domain that expired yesterday, lapsed by a run of the check; and when that began. */
async function accountOnExpiredDomain(): Promise<{ domain: string; start: number; user: Member }> {
  const domain = newDomain();
  const start = clock.now().getTime();
  service.rdap.expired(domain, new Date(start - DAY_MS));
  const user = await service.confirmedUser(personAt(domain));
  await runCheck();
  expect(await me(user)).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
  return { domain, start, user };
}

/** Resends the confirmation link of the member's own address and follows it, as its owner would. */
async function confirmAgain(member: Member): Promise<void> {
  const seen = service.emailCount(member.person.email);
  expect(outcome(await service.call('POST', '/api/me/email/resend-confirmation', { token: member.sessionToken }))).toBe('202');
  const email = await service.nextEmailTo(member.person.email, 'Confirm your email address', seen);
  expect(outcome(await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(email.links[0]) } }))).toBe('200');
}

describe('a confirmed address on a healthy domain', () => {
  it('stays confirmed, and its domain is asked about once, through the admin API too', async () => {
    const domain = newDomain();
    service.rdap.healthy(domain, clock.now());
    const user = await service.confirmedUser(personAt(domain, `mail.${domain}`));

    expect(outcome(await service.call('POST', '/admin/functions/checkEmailDomains', { body: {} }))).toBe('202');
    await service.host.idle();

    // The registered domain is asked about, not the host the address is on.
    expect(lookupsOf(domain).map((lookup) => [lookup.server, lookup.status])).toEqual([['/com/v1/', 200]]);
    expect(lookupsOf(`mail.${domain}`)).toEqual([]);
    expect(await me(user)).toMatchObject({ emailConfirmed: true, emailDomainLapsed: false });
    expect(await resetLinkArrives(user)).toBe(true);
  });
});

describe('an address whose domain expired', () => {
  it('counts as unconfirmed: no reset link, no sign-in assistance, no notice; the security log says why', async () => {
    const { domain, start, user } = await accountOnCheckedDomain();

    // It expires (registries give event times to the second); 30 days after the first check it is asked about again.
    const expiry = new Date(Math.floor((start + 20 * DAY_MS) / 1000) * 1000);
    service.rdap.expired(domain, expiry);
    at(start, 30.01);
    await runCheck();
    expect(lookupsOf(domain)).toHaveLength(2);
    const lapsed = await signedIn(user);
    // GET /api/me stays one point read: the flag is on the account document.
    service.cosmos.reset();
    expect(await me(lapsed)).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
    expect(service.cosmos.documentRequests()).toHaveLength(1);
    expect(await service.securityLog(lapsed)).toContainEqual(
      expect.objectContaining({
        action: 'email_domain_lapsed',
        details: { emailAddress: user.person.email, domain, reason: 'expired', eventDate: expiry.toISOString() },
      }),
    );

    // Nothing goes to it now but a confirmation link: no reset link, no sign-in assistance, no notice.
    const before = service.emailCount(user.person.email);
    expect(await resetLinkArrives(lapsed)).toBe(false);
    const assistance = await service.call('POST', '/api/auth/sign-in-assistance', { body: { username: user.username, emailAddress: user.person.email } });
    expect(assistance.status).toBe(202);
    await service.createKey(lapsed, { description: 'made while lapsed' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(service.emailCount(user.person.email)).toBe(before);
  });

  it('gets recovery emails and notices again once the account confirms its address again', async () => {
    const { domain, start, user } = await accountOnExpiredDomain();
    expect(await resetLinkArrives(user)).toBe(false);

    // The owner renews the domain and confirms the address again: it is trusted again.
    service.rdap.healthy(domain, new Date(start));
    await confirmAgain(user);
    expect(await me(user)).toMatchObject({ emailConfirmed: true, emailDomainLapsed: false });
    expect(await resetLinkArrives(user)).toBe(true);
    await service.createKey(user, { description: 'made once confirmed again' });
    await service.waitForEmailTo(user.person.email, /made once confirmed again/);
  });

  it('is trusted again once the account changes to an address on another domain, and the old domain no longer concerns it', async () => {
    const { start, user } = await accountOnExpiredDomain();

    const elsewhere = newDomain();
    service.rdap.healthy(elsewhere, new Date(start));
    const newAddress = personAt(elsewhere).email;
    await service.changeEmailAddress(user, newAddress);
    expect(await me(user)).toMatchObject({ emailAddress: newAddress, emailConfirmed: true, emailDomainLapsed: false });

    // A month on, the old domain is still expired; the account is judged by its new domain only.
    at(start, 31);
    await runCheck();
    expect(lookupsOf(elsewhere)).toHaveLength(1);
    expect(await me(await signedIn(user))).toMatchObject({ emailConfirmed: true, emailDomainLapsed: false });
  });

  it('makes a reset link sent before the lapse stop working', async () => {
    const domain = newDomain();
    service.rdap.healthy(domain, clock.now());
    const user = await service.confirmedUser(personAt(domain));
    expect(await resetLinkArrives(user)).toBe(true);
    const link = service.emailsTo(user.person.email).find((email) => email.subject === RESET_SUBJECT)!.links[0];

    service.rdap.expired(domain, new Date(clock.now().getTime() - DAY_MS));
    await runCheck();
    const reset = await service.call('POST', '/api/auth/reset-password', { body: { token: tokenIn(link), newPassword: `Lapsed ${randomBytes(8).toString('hex')}` } });
    expect(outcome(reset)).toBe('400 invalid_token');
  });
});

describe('a domain registered again', () => {
  it('undoes the addresses confirmed before its new registration, and only those, with one look-up', async () => {
    const { domain, start, user: before } = await accountOnCheckedDomain();

    // It lapsed and someone registered it again on day 10; an account confirms an address on it on day 12.
    service.rdap.reregistered(domain, new Date(start + 10 * DAY_MS));
    at(start, 12);
    const after = await service.confirmedUser(personAt(domain));
    at(start, 31);
    await runCheck();

    expect(lookupsOf(domain)).toHaveLength(2);
    expect(await me(await signedIn(before))).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
    expect(await me(await signedIn(after))).toMatchObject({ emailConfirmed: true, emailDomainLapsed: false });
  });

  it('undoes many accounts on one domain with one look-up', async () => {
    const domain = newDomain();
    service.rdap.reregistered(domain, new Date(clock.now().getTime() + DAY_MS));
    const users: Member[] = [];
    for (let i = 0; i < 6; i += 1) users.push(await service.confirmedUser(personAt(domain)));
    at(clock.now().getTime(), 2);
    await runCheck();

    expect(lookupsOf(domain)).toHaveLength(1);
    for (const user of users) expect(await me(await signedIn(user))).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
  });
});

describe('a domain RDAP cannot answer for', () => {
  it.each([
    ['a server error', (domain: string) => service.rdap.failing(domain, { status: 503 })],
    ['a timeout', (domain: string) => service.rdap.failing(domain, 'timeout')],
    ['a 404 from the registry', (domain: string) => service.rdap.forget(domain)],
  ])('is left as it is after %s, and asked again on the next run', async (_what, fail) => {
    const domain = newDomain();
    service.rdap.expired(domain, new Date(clock.now().getTime() - DAY_MS));
    const user = await service.confirmedUser(personAt(domain));
    fail(domain);

    await runCheck();
    expect(lookupsOf(domain)).toHaveLength(1);
    expect(await me(user)).toMatchObject({ emailConfirmed: true, emailDomainLapsed: false });
    await runCheck();
    expect(lookupsOf(domain)).toHaveLength(2);

    // Answering again, it is judged at the next run.
    service.rdap.expired(domain, new Date(clock.now().getTime() - DAY_MS));
    await runCheck();
    expect(await me(user)).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
  });

  it('is left as it is when the bootstrap file names no server for its top-level domain', async () => {
    const domain = newDomain('zz');
    const user = await service.confirmedUser(personAt(domain));
    await runCheck();
    await runCheck();
    expect(lookupsOf(domain)).toEqual([]);
    expect(await me(user)).toMatchObject({ emailConfirmed: true, emailDomainLapsed: false });
  });
});

describe('what is asked, and how often', () => {
  it('asks about a domain at most once in 30 days', async () => {
    const { domain, start } = await accountOnCheckedDomain();
    for (const day of [1, 15, 29.9]) {
      at(start, day);
      await runCheck();
    }
    expect(lookupsOf(domain)).toHaveLength(1);
    at(start, 30.1);
    await runCheck();
    expect(lookupsOf(domain)).toHaveLength(2);
  });

  it('never asks about the big mail providers', async () => {
    const users = await Promise.all(['gmail.com', 'outlook.com', 'proton.me', 'mail.yahoo.com'].map((host) => service.confirmedUser(personAt('x', host))));
    await runCheck();
    for (const name of ['gmail.com', 'outlook.com', 'proton.me', 'yahoo.com']) expect(lookupsOf(name)).toEqual([]);
    for (const user of users) expect(await me(user)).toMatchObject({ emailConfirmed: true, emailDomainLapsed: false });
  });

  it('makes at most lookupsPerRun look-ups a run, and the next runs go on where it stopped', async () => {
    jest.replaceProperty(domainCheckLimits, 'lookupsPerRun', 2);
    const domains = [newDomain(), newDomain(), newDomain(), newDomain('org'), newDomain('net')];
    for (const domain of domains) {
      service.rdap.healthy(domain, clock.now());
      await service.confirmedUser(personAt(domain));
    }
    const runs: number[] = [];
    for (let run = 0; run < 6 && domains.some((domain) => lookupsOf(domain).length === 0); run += 1) {
      const seen = service.rdap.lookups.length;
      await runCheck();
      runs.push(service.rdap.lookups.length - seen);
    }
    expect(runs.every((count) => count <= 2)).toBe(true);
    for (const domain of domains) expect(lookupsOf(domain)).toHaveLength(1);
  });

  it('paces its look-ups at one server, and asks different servers side by side', async () => {
    jest.replaceProperty(domainCheckLimits, 'perServerIntervalMs', 150);
    const comDomains = [newDomain(), newDomain(), newDomain()];
    const testDomains = [newDomain('test'), newDomain('test'), newDomain('test')];
    for (const domain of [...comDomains, ...testDomains]) {
      service.rdap.healthy(domain, clock.now());
      await service.confirmedUser(personAt(domain));
    }
    // When the service sends each look-up: what its pacing decides. (When the stand-in receives one also depends on
    // how busy the machine is, and so does a real registry's on the network.)
    const sentAt = new Map<string, number>();
    const send = globalThis.fetch;
    jest.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      const domain = /\/domain\/([^/?]+)$/.exec(String(input))?.[1];
      if (domain !== undefined) sentAt.set(decodeURIComponent(domain), Date.now());
      return send(input, init);
    });
    await runCheck();
    const times = (domains: string[]) => domains.map((domain) => sentAt.get(domain)!).sort((a, b) => a - b);
    expect([...comDomains, ...testDomains].every((domain) => lookupsOf(domain).length === 1)).toBe(true);
    for (const server of [times(comDomains), times(testDomains)]) {
      for (let i = 1; i < server.length; i += 1) expect(server[i] - server[i - 1]).toBeGreaterThanOrEqual(140);
    }
    // Side by side: the second server did not wait for the first to finish.
    expect(Math.abs(times(comDomains)[0] - times(testDomains)[0])).toBeLessThan(140);
  });

  it('waits as long as a 429 says, and leaves a server that asks for longer than the run for the next run', async () => {
    const patient = newDomain('test');
    const throttled = newDomain('org');
    for (const domain of [patient, throttled]) {
      service.rdap.expired(domain, new Date(clock.now().getTime() - DAY_MS));
      await service.confirmedUser(personAt(domain));
    }
    service.rdap.failing(patient, { status: 429, retryAfterSeconds: 1 }, 1);
    service.rdap.serverFault('org', { status: 429, retryAfterSeconds: 3600 });

    await runCheck();
    const [refused, answered] = lookupsOf(patient);
    expect([refused.status, answered.status]).toEqual([429, 200]);
    expect(answered.at - refused.at).toBeGreaterThanOrEqual(950);
    // The throttled registry was asked once, then left alone for the run; its domain is still due.
    expect(lookupsOf(throttled).map((lookup) => lookup.status)).toEqual([429]);

    service.rdap.serverFault('org', null);
    await runCheck();
    expect(lookupsOf(throttled).map((lookup) => lookup.status)).toEqual([429, 200]);
  });

  it('finishes a lapse a run could not finish, without asking again', async () => {
    const domain = newDomain();
    service.rdap.expired(domain, new Date(clock.now().getTime() - DAY_MS));
    const users: Member[] = [];
    for (let i = 0; i < 3; i += 1) users.push(await service.confirmedUser(personAt(domain)));
    const ids = await Promise.all(users.map(async (user) => (await me(user)).id as string));

    // The run stops while marking the second account: its writes fail for as long as the SDK retries.
    service.cosmos.failNext(new RegExp(`^PUT .*/colls/accounts/docs/${ids[1]}$`), 503, 50);
    await runCheck();
    service.cosmos.clearFaults();
    expect(lookupsOf(domain)).toHaveLength(1);
    expect((await me(users[1])).emailDomainLapsed).toBe(false);

    await runCheck();
    expect(lookupsOf(domain)).toHaveLength(1);
    for (const user of users) expect(await me(user)).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
    // Each account's log records it once.
    for (const user of users) expect((await service.securityLog(user)).filter((event) => event.action === 'email_domain_lapsed')).toHaveLength(1);
  });

  it('is finished by the next run when killed midway, once its lease lapses (needs npm run build)', async () => {
    const domain = newDomain();
    const start = clock.now().getTime();
    service.rdap.expired(domain, new Date(start - DAY_MS));
    const users: Member[] = [];
    for (let i = 0; i < 3; i += 1) users.push(await service.confirmedUser(personAt(domain)));
    const ids = await Promise.all(users.map(async (user) => (await me(user)).id as string));

    // The compiled app in a process of its own, killed as it removes the first index entry of the domain: one
    // account is marked and its log written, the others not yet.
    const doomed = await startServiceProcess(path.resolve(__dirname, '..', 'dist', 'local', 'start.js'), process.env);
    children.push(doomed.process);
    service.cosmos.onRequest(new RegExp(`^DELETE .*/colls/emailDomains/docs/address(:|%3A)(${ids.join('|')})$`), () => doomed.process.kill('SIGKILL'));
    const exited = new Promise<void>((resolve) => doomed.process.once('exit', () => resolve()));
    await fetch(`${doomed.url}/admin/functions/checkEmailDomains`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    await exited;
    const halfway = await Promise.all(users.map(async (user) => (await me(user)).emailDomainLapsed as boolean));
    expect(halfway.filter(Boolean)).toHaveLength(1);
    expect(lookupsOf(domain)).toHaveLength(1);

    // A run inside the dead run's lease leaves it all as it is; the first one after it finishes, without asking again.
    await runCheck();
    expect(await Promise.all(users.map(async (user) => (await me(user)).emailDomainLapsed))).toEqual(halfway);
    at(start, 16 / (24 * 60));
    await runCheck();
    expect(lookupsOf(domain)).toHaveLength(1);
    for (const user of users) {
      const fresh = await signedIn(user);
      expect(await me(fresh)).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
      expect((await service.securityLog(fresh)).filter((event) => event.action === 'email_domain_lapsed')).toHaveLength(1);
    }
  });

  it('indexes addresses confirmed before the index existed, taking the account\'s creation for the confirmation', async () => {
    const domain = newDomain();
    const start = clock.now().getTime();
    const user = await service.confirmedUser(personAt(domain));
    const id = (await me(user)).id as string;
    // As an account confirmed before this check existed is stored: no confirmation time, no index entry.
    const { resource: account } = await container('accounts').item(id, id).read();
    delete account.emailConfirmedAt;
    await container('accounts').item(id, id).replace(account);
    await container('emailDomains').item(`address:${id}`, domain).delete();
    const { resource: progress } = await container('emailDomains').item('progress', 'progress').read();
    await container('emailDomains').item('progress', 'progress').replace({ ...progress, backfill: { afterId: '', done: false } });

    // Registered again after the account was made: the confirmation may have come before, so it counts as lapsed.
    // A second after the account was made, however long registering it took on a busy machine.
    service.rdap.reregistered(domain, new Date(Date.parse(account.createdAt) + 1000));
    at(start, 1);
    await runCheck();
    expect(lookupsOf(domain)).toHaveLength(1);
    expect(await me(await signedIn(user))).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
  });
});

describe("an organization's address", () => {
  it('lapses the same way, its admins are told, and an admin sends a new confirmation link', async () => {
    const domain = newDomain();
    service.rdap.healthy(domain, clock.now());
    const admin = await service.confirmedUser();
    const collaborator = await service.confirmedUser();
    const organization = await service.confirmedOrganization(admin, uniqueName('org'), personAt(domain).email);
    await service.inviteAndAccept(organization.name, admin, collaborator);
    const view = async () => (await service.call('GET', `/api/organizations/${organization.name}`, { token: admin.sessionToken })).body;
    await runCheck();
    expect(await view()).toMatchObject({ emailConfirmed: true, emailDomainLapsed: false });

    // Registries give event times to the second: a second on, so it surely falls after the confirmation.
    service.rdap.reregistered(domain, new Date(clock.now().getTime() + 1000));
    at(clock.now().getTime(), 31);
    await runCheck();
    const fresh = await signedIn(admin);
    const orgView = await service.call('GET', `/api/organizations/${organization.name}`, { token: fresh.sessionToken });
    expect(orgView.body).toMatchObject({ emailConfirmed: false, emailDomainLapsed: true });
    await service.host.runTimer('deliverPendingEmails');
    const told = await service.waitForEmailTo(admin.person.email, `The email address of ${organization.name} no longer counts as confirmed`);
    expect(told.plainText).toContain(domain);
    expect(service.emailsTo(collaborator.person.email).filter((email) => /no longer counts as confirmed/.test(email.subject))).toEqual([]);
    expect(service.emailsTo(organization.emailAddress).filter((email) => /no longer counts/.test(email.subject))).toEqual([]);

    // Only an admin may send the link again; anyone else learns nothing.
    const path = `/api/organizations/${organization.name}/email/resend-confirmation`;
    expect(outcome(await service.call('POST', path, { token: (await signedIn(collaborator)).sessionToken }))).toBe('403 admin_required');
    expect(outcome(await service.call('POST', path, { token: (await service.confirmedUser()).sessionToken }))).toBe('404 not_found');
    const seen = service.emailCount(organization.emailAddress);
    expect(outcome(await service.call('POST', path, { token: fresh.sessionToken }))).toBe('202');
    const email = await service.nextEmailTo(organization.emailAddress, `Confirm the email address of ${organization.name}`, seen);
    expect(outcome(await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(email.links[0]) } }))).toBe('200');
    expect((await service.call('GET', `/api/organizations/${organization.name}`, { token: fresh.sessionToken })).body).toMatchObject({
      emailConfirmed: true,
      emailDomainLapsed: false,
    });
    // Confirmed: nothing waits to be confirmed.
    expect(outcome(await service.call('POST', path, { token: fresh.sessionToken }))).toBe('400 invalid_request');
  });

  it('can be confirmed by a link an admin asks for when it never was, within the limits', async () => {
    const admin = await service.confirmedUser();
    const organization = await service.createOrganization(admin);
    const path = `/api/organizations/${organization.name}/email/resend-confirmation`;
    // The link sent at creation was lost: an admin asks for another one, and the earlier one stops working.
    const first = await service.waitForEmailTo(organization.emailAddress, `Confirm the email address of ${organization.name}`);
    expect(outcome(await service.call('POST', path, { token: admin.sessionToken }))).toBe('202');
    expect(outcome(await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(first.links[0]) } }))).toBe('400 invalid_token');
    for (let i = 1; i < 5; i += 1) expect(outcome(await service.call('POST', path, { token: admin.sessionToken }))).toBe('202');
    const limited = await service.call('POST', path, { token: admin.sessionToken });
    expect(outcome(limited)).toBe('429 too_many_requests');
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});
