import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { useTestService } from './support/service';
import type { Member } from './support/organizations';
import { newPerson, uniqueName } from './support/people';
import { startServiceProcess } from './support/process';
import { tokenIn } from './support/waitFor';

/**
 * The service killed in the middle of a request (SIGKILL: no clean-up runs), then started again. Each test
 * runs the compiled app (`npm run build`) in a child process on the same stand-ins as the in-process host,
 * kills it as it sends a chosen Cosmos DB write, and checks what a user sees afterwards.
 */
const service = useTestService();

interface Instance {
  url: string;
  process: ChildProcess;
}

const running: ChildProcess[] = [];

afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
  service.cosmos.clearFaults();
});

/** `npm start`'s entry point with this test's settings, on a port of its own. */
async function startInstance(): Promise<Instance> {
  const instance = await startServiceProcess(path.resolve(__dirname, '..', 'dist', 'local', 'start.js'), process.env);
  running.push(instance.process);
  return instance;
}

/** Kills `instance` as it sends the first Cosmos DB request matching `match`; that request never arrives. */
function killOn(instance: Instance, match: RegExp): void {
  service.cosmos.onRequest(match, () => instance.process.kill('SIGKILL'));
}

async function callOn(instance: Instance, method: string, urlPath: string, options: { body?: unknown; token?: string } = {}) {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  try {
    const response = await fetch(`${instance.url}${urlPath}`, { method, headers, body: JSON.stringify(options.body ?? {}) });
    return { status: response.status, body: await response.json().catch(() => undefined) };
  } catch {
    return { status: 0, body: undefined };
  }
}

describe('killed in the middle of', () => {
  it('a registration: the person registers again at once, and gets one confirmation', async () => {
    const person = newPerson();
    const username = uniqueName();
    const doomed = await startInstance();
    killOn(doomed, /^POST .*\/colls\/accounts\/docs$/);
    const cut = await callOn(doomed, 'POST', '/api/accounts', { body: { idToken: service.idTokenFor(person), username } });
    expect(cut.status).toBe(0);

    const restarted = await startInstance();
    const again = await callOn(restarted, 'POST', '/api/accounts', { body: { idToken: service.idTokenFor(person), username } });
    expect(again.status).toBe(201);
    const signIn = await callOn(restarted, 'POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(person) } });
    expect(signIn.body).toMatchObject({ status: 'signed_in', account: { username } });

    // The dead attempt's queued confirmation never goes out: its account never came to be.
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 15 * 60 * 1000));
    await service.host.runTimer('deliverPendingEmails');
    jest.restoreAllMocks();
    await service.waitForEmailTo(person.email, 'Confirm your email address');
    expect(service.emailsTo(person.email)).toHaveLength(1);
  });

  it('an invitation accept: accepting again after the restart finishes it', async () => {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const token = await service.invite(name, admin, member);
    const memberId = (await service.call('GET', '/api/me', { token: member.sessionToken })).body.id;

    const doomed = await startInstance();
    killOn(doomed, new RegExp(`^PUT .*/colls/accounts/docs/${memberId}$`));
    const cut = await callOn(doomed, 'POST', `/api/organizations/${name}/members/accept`, { token: member.sessionToken, body: { token } });
    expect(cut.status).toBe(0);

    const restarted = await startInstance();
    const again = await callOn(restarted, 'POST', `/api/organizations/${name}/members/accept`, { token: member.sessionToken, body: { token } });
    expect(again.status).toBe(200);
    expect(await service.organizationsOf(member)).toEqual([{ name, role: 'collaborator' }]);
    expect((await service.call('GET', `/api/organizations/${name}`, { token: member.sessionToken })).body.members).toHaveLength(2);
  });

  it('a transform accept: accepting again after the restart finishes it', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const key = await service.createKey(account, { scopes: ['package:push', 'package:pushversion'] });
    const packageId = uniqueName('Crash.Transform');
    await service.pushOk(key, packageId);
    expect((await service.call('POST', '/api/me/transform', { token: account.sessionToken, body: { adminUsername: admin.username } })).status).toBe(202);
    const email = await service.waitForEmailTo(admin.person.email, /administer it as an organization/);
    const adminId = (await service.call('GET', '/api/me', { token: admin.sessionToken })).body.id;

    const doomed = await startInstance();
    killOn(doomed, new RegExp(`^PUT .*/colls/accounts/docs/${adminId}$`));
    const body = { token: tokenIn(email.links[0]) };
    expect((await callOn(doomed, 'POST', '/api/organizations/transform/accept', { token: admin.sessionToken, body })).status).toBe(0);

    const restarted = await startInstance();
    expect((await callOn(restarted, 'POST', '/api/organizations/transform/accept', { token: admin.sessionToken, body })).status).toBe(200);
    expect(await service.organizationsOf(admin)).toEqual([{ name: account.username, role: 'admin' }]);
    expect((await service.getPackage(packageId)).body.owners).toEqual([account.username]);
    expect((await service.call('GET', '/api/me/api-keys', { token: admin.sessionToken })).body).toHaveLength(1);
  });

  it('a deletion: the next run after the lease lapses finishes it', async () => {
    const user: Member = await service.confirmedUser();
    const key = await service.createKey(user);
    const packages = [uniqueName('Crash.A'), uniqueName('Crash.B')];
    for (const id of packages) await service.pushOk(key, id);
    expect((await service.call('DELETE', '/api/me', { token: user.sessionToken, body: { confirmUsername: user.username } })).status).toBe(202);
    const accountId = (await service.call('GET', '/api/me', { token: user.sessionToken })).body.id;

    // The child runs its timer by the admin endpoint, a day later by the request's schedule: move the request.
    const { resource: request } = await container('deletions').item(accountId, accountId).read();
    await container('deletions').item(accountId, accountId).replace({ ...request, scheduledFor: new Date(Date.now() - 1000).toISOString() });

    const doomed = await startInstance();
    killOn(doomed, new RegExp(`^PUT .*/colls/packages/docs/${packages[1].toLowerCase()}$`));
    await fetch(`${doomed.url}/admin/functions/processAccountDeletions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    await new Promise<void>((resolve) => doomed.process.once('exit', () => resolve()));

    const { resource: halfway } = await container('deletions').item(accountId, accountId).read();
    expect(halfway.status).toBe('processing');
    expect(halfway.leaseUntil).not.toBeNull();

    // Restarted, a run inside the dead run's lease leaves the request alone; one after it finishes.
    await service.host.runTimer('processAccountDeletions');
    expect((await container('deletions').item(accountId, accountId).read()).resource.completedSteps).toEqual(halfway.completedSteps);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 11 * 60 * 1000));
    await service.host.runTimer('processAccountDeletions');
    jest.restoreAllMocks();
    expect((await container('deletions').item(accountId, accountId).read()).resource.status).toBe('completed');
    for (const id of packages) expect((await service.getPackage(id)).body).toMatchObject({ owners: [], listed: false });
    expect(service.emailsTo(user.person.email).filter((e) => e.subject === 'Your account has been deleted')).toHaveLength(1);
  });
});
