/**
 * `GET /api/health` and who creates the database: `npm start` outside production creates the database and its
 * containers on any Cosmos DB endpoint (the stand-in, the emulator's https://, an empty account); in production
 * nothing creates them, and the health probe names what is missing until it is there. Each service runs as
 * `npm start` does, in a process of its own, so its settings are its own.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { CosmosClient } from '@azure/cosmos';
import { CONTAINERS } from '../lib/shared/storage/containers';
import { createAcsEmailStandIn } from '../local/standins/acsEmail';
import { createCosmosStandIn, createCosmosStandInWithTls } from '../local/standins/cosmos';
import { listenOnLoopback, type LoopbackServer } from '../local/standins/listen';
import { startServiceProcess } from './support/process';
import { SETTINGS_IN_AZURE } from './support/settings';

const ENTRY = path.resolve(__dirname, '..', 'dist', 'local', 'start.js');
const running: ChildProcess[] = [];
const servers: LoopbackServer[] = [];

afterEach(async () => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** The settings a production deployment has, pointing at loopback stand-ins. */
async function productionSettings(cosmosUrl: string, database: string): Promise<NodeJS.ProcessEnv> {
  const accessKey = randomBytes(32).toString('base64');
  const acs = await listenOnLoopback(createAcsEmailStandIn({ accessKey }).handle);
  servers.push(acs);
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    ...SETTINGS_IN_AZURE,
    COSMOS_ENDPOINT: cosmosUrl,
    COSMOS_KEY: randomBytes(32).toString('base64'),
    COSMOS_DATABASE: database,
    COMMUNICATION_SERVICES_ENDPOINT: undefined,
    COMMUNICATION_SERVICES_CONNECTION_STRING: `endpoint=${acs.url}/;accesskey=${accessKey}`,
  };
}

async function health(url: string): Promise<{ status: number; body: { status: string; detail?: string } }> {
  const response = await fetch(`${url}/api/health`);
  return { status: response.status, body: (await response.json()) as { status: string; detail?: string } };
}

describe('in production', () => {
  it('creates nothing, answers 503 naming what is missing until it exists, then 200, and then stops checking', async () => {
    const server = createCosmosStandIn();
    let cosmosRequests = 0;
    server.on('request', () => (cosmosRequests += 1));
    const cosmos = await listenOnLoopback(server);
    servers.push(cosmos);
    const name = `prod-${randomUUID()}`;
    const env = await productionSettings(cosmos.url, name);
    const service = await startServiceProcess(ENTRY, env);
    running.push(service.process);
    const client = new CosmosClient({ endpoint: cosmos.url, key: env.COSMOS_KEY!, connectionPolicy: { enableEndpointDiscovery: false } });

    expect(await health(service.url)).toEqual({
      status: 503,
      body: { status: 'unavailable', detail: `The Cosmos DB database '${name}' does not exist.` },
    });
    // The app did not create it, and serves nothing that needs it.
    await expect(client.database(name).read()).rejects.toMatchObject({ code: 404 });

    const { database } = await client.databases.create({ id: name });
    const containers = Object.entries(CONTAINERS);
    const missingTwo = await health(service.url);
    expect(missingTwo.status).toBe(503);
    expect(missingTwo.body.detail).toBe(
      `The Cosmos DB containers ${containers.map(([id]) => `'${id}'`).join(', ')} do not exist in database '${name}'.`,
    );

    const [[lastId, last], ...others] = containers;
    for (const [id, { partitionKey }] of others) await database.containers.create({ id, partitionKey: { paths: [partitionKey] } });
    expect((await health(service.url)).body.detail).toBe(`The Cosmos DB container '${lastId}' does not exist in database '${name}'.`);

    await database.containers.create({ id: lastId, partitionKey: { paths: ['/wrong'] } });
    expect((await health(service.url)).body.detail).toBe(`The Cosmos DB container '${lastId}' has the partition key /wrong, not ${last.partitionKey}.`);
    await database.container(lastId).delete();
    await database.containers.create({ id: lastId, partitionKey: { paths: [last.partitionKey] } });

    expect(await health(service.url)).toEqual({ status: 200, body: { status: 'ok' } });
    // Ready once is ready: later probes cost Cosmos DB nothing.
    const before = cosmosRequests;
    for (let i = 0; i < 3; i += 1) expect((await health(service.url)).status).toBe(200);
    expect(cosmosRequests).toBe(before);
  });

  it('answers 503 when Cosmos DB does not answer at all', async () => {
    const closed = await listenOnLoopback(createCosmosStandIn());
    await closed.close();
    const service = await startServiceProcess(ENTRY, await productionSettings(closed.url, 'accounts'));
    running.push(service.process);
    const answer = await health(service.url);
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ status: 'unavailable', detail: expect.stringMatching(/^Cosmos DB did not answer the health check/) });
  }, 60000);
});

describe('npm start outside production', () => {
  it('creates the database and containers on an https:// endpoint, as for the Cosmos DB emulator', async () => {
    // The stand-in's own self-signed certificate, which the emulator's users accept the same way.
    const server = createCosmosStandInWithTls();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    servers.push({
      url: `https://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    });

    const service = await startServiceProcess(ENTRY, {
      PATH: process.env.PATH,
      COSMOS_ENDPOINT: `https://127.0.0.1:${port}`,
      COSMOS_KEY: randomBytes(32).toString('base64'),
      NODE_TLS_REJECT_UNAUTHORIZED: '0',
    });
    running.push(service.process);

    expect(await health(service.url)).toEqual({ status: 200, body: { status: 'ok' } });
    const post = (route: string, body: unknown) =>
      fetch(`${service.url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const { idToken } = (await (await post('/dev/identity/token', { email: 'emulator@example.com' })).json()) as { idToken: string };
    const signIn = await post('/api/auth/microsoft', { idToken });
    expect(signIn.status).toBe(200);
    expect(await signIn.json()).toEqual({ status: 'registration_required', emailAddress: 'emulator@example.com' });
  });
});
