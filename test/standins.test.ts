import * as crypto from 'node:crypto';
import { EmailClient, type EmailClientOptions, type EmailMessage } from '@azure/communication-email';
import { CosmosClient } from '@azure/cosmos';
import * as jwt from 'jsonwebtoken';
import { createCosmosStandIn } from '../local/standins/cosmos';
import { createAcsEmailStandIn, type AcsEmailStandIn } from '../local/standins/acsEmail';
import { createIdentityStandIn, PERSONAL_ACCOUNT_TENANT, type IdentityStandIn } from './standins/identity';
import { listenOnLoopback, type LoopbackServer } from '../local/standins/listen';

describe('Cosmos DB stand-in with the real CosmosClient', () => {
  it('keeps connections alive as Cosmos DB does, so the SDK reuses one connection for request after request', async () => {
    const standIn = createCosmosStandIn();
    let connections = 0;
    standIn.on('connection', () => (connections += 1));
    const answers: Array<string | undefined> = [];
    standIn.on('request', (_req, res: import('node:http').ServerResponse) => res.on('finish', () => answers.push(String(res.getHeader('connection')))));
    const server = await listenOnLoopback(standIn);
    try {
      const key = crypto.randomBytes(32).toString('base64');
      const client = new CosmosClient({ endpoint: server.url, key, connectionPolicy: { enableEndpointDiscovery: false } });
      const { database } = await client.databases.createIfNotExists({ id: 'keep-alive' });
      const { container } = await database.containers.createIfNotExists({ id: 'items', partitionKey: { paths: ['/id'] } });
      await container.items.create({ id: 'a' });
      for (let i = 0; i < 10; i += 1) expect((await container.item('a', 'a').read()).resource?.id).toBe('a');
      expect(answers.length).toBeGreaterThan(10);
      expect(new Set(answers)).toEqual(new Set(['keep-alive']));
      expect(connections).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('ACS email stand-in with the real EmailClient', () => {
  const accessKey = crypto.randomBytes(32).toString('base64');
  // Retries off so each injected failure surfaces as exactly one rejection.
  const clientOptions: EmailClientOptions = { retryOptions: { maxRetries: 0 }, allowInsecureConnection: true };
  const message: EmailMessage = {
    senderAddress: 'donotreply@gallery.test',
    recipients: { to: [{ address: 'ada@example.com', displayName: 'Ada' }] },
    content: {
      subject: 'Confirm your email',
      plainText: 'Open https://gallery.test/confirm?token=abc. Thanks!',
      html: '<a href="https://gallery.test/confirm?token=abc">Confirm</a>',
    },
  };
  let acs: AcsEmailStandIn;
  let server: LoopbackServer;

  beforeEach(async () => {
    acs = createAcsEmailStandIn({ accessKey });
    server = await listenOnLoopback(acs.handle);
  });
  afterEach(() => server.close());

  function client(key = accessKey): EmailClient {
    return new EmailClient(`endpoint=${server.url}/;accesskey=${key}`, clientOptions);
  }

  async function send(emailClient: EmailClient, operationId?: string) {
    return (await emailClient.beginSend(message, { operationId })).pollUntilDone();
  }

  test('delivers an email once when the same operation is sent twice', async () => {
    const operationId = crypto.randomUUID();

    await expect(send(client(), operationId)).resolves.toMatchObject({ id: operationId, status: 'Succeeded' });
    await expect(send(client(), operationId)).resolves.toMatchObject({ id: operationId, status: 'Succeeded' });

    expect(acs.sendAttempts).toBe(2);
    expect(acs.delivered).toHaveLength(1);
    expect(acs.delivered[0]).toMatchObject({
      operationId,
      from: 'donotreply@gallery.test',
      to: ['ada@example.com'],
      subject: 'Confirm your email',
      links: ['https://gallery.test/confirm?token=abc'],
    });
  });

  test('serves under a path prefix, as when mounted in the development server', async () => {
    // EmailClient refuses an endpoint with a path, so reaching a mounted stand-in takes a policy
    // that adds the prefix before the request is signed (the poll URL already carries it).
    const prefix = '/dev/acs';
    const host = await listenOnLoopback((req, res) => {
      if (req.url?.startsWith(`${prefix}/`)) acs.handle(req, res);
      else res.writeHead(404).end();
    });
    const mounted = new EmailClient(`endpoint=${host.url}/;accesskey=${accessKey}`, {
      ...clientOptions,
      additionalPolicies: [{
        position: 'perCall',
        policy: {
          name: 'mountUnderPrefix',
          sendRequest: (request, next) => {
            const url = new URL(request.url);
            if (!url.pathname.startsWith(prefix)) url.pathname = prefix + url.pathname;
            request.url = url.toString();
            return next(request);
          },
        },
      }],
    });

    try {
      await expect(send(mounted)).resolves.toMatchObject({ status: 'Succeeded' });
      expect(acs.delivered).toHaveLength(1);
    } finally {
      await host.close();
    }
  });

  test('rejects a request signed with the wrong key', async () => {
    const wrongKey = crypto.randomBytes(32).toString('base64');

    await expect(send(client(wrongKey))).rejects.toMatchObject({ statusCode: 401 });
    expect(acs.delivered).toHaveLength(0);
  });

  test('fails the requested number of sends, then delivers', async () => {
    acs.failNextSends(1);

    await expect(send(client())).rejects.toMatchObject({ statusCode: 503 });
    await expect(send(client())).resolves.toMatchObject({ status: 'Succeeded' });
    expect(acs.sendAttempts).toBe(2);
    expect(acs.delivered).toHaveLength(1);
  });

  test('fails every send during an outage', async () => {
    acs.setOutage(true);
    await expect(send(client())).rejects.toMatchObject({ statusCode: 503 });
    acs.setOutage(false);
    await expect(send(client())).resolves.toMatchObject({ status: 'Succeeded' });
  });
});

describe('identity stand-in with jsonwebtoken', () => {
  const clientId = crypto.randomUUID();
  let identity: IdentityStandIn;
  let server: LoopbackServer;

  beforeEach(async () => {
    identity = createIdentityStandIn({ clientId });
    server = await listenOnLoopback(identity.handle);
    identity.setLoginHost(server.url);
  });
  afterEach(() => server.close());

  async function fetchKeys(path = `${PERSONAL_ACCOUNT_TENANT}/discovery/v2.0/keys`): Promise<crypto.JsonWebKey[]> {
    const response = await fetch(`${server.url}/${path}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { keys: crypto.JsonWebKey[] }).keys;
  }

  async function verify(token: string, issuer = `${server.url}/${PERSONAL_ACCOUNT_TENANT}/v2.0`, audience = clientId): Promise<jwt.JwtPayload> {
    const [jwk] = await fetchKeys();
    const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    const payload = jwt.verify(token, key, { algorithms: ['RS256'], issuer, audience });
    if (typeof payload === 'string') throw new Error('expected a JSON payload');
    return payload;
  }

  test('mints tokens that verify against its key sets, v2.0 and v1.0 alike', async () => {
    const token = identity.mint({ email: 'ada@example.com', name: 'Ada' });

    expect(jwt.decode(token, { complete: true })?.header).toEqual({ alg: 'RS256', typ: 'JWT', kid: (await fetchKeys())[0].kid });
    expect(await fetchKeys(`${PERSONAL_ACCOUNT_TENANT}/discovery/keys`)).toEqual(await fetchKeys());
    expect(await verify(token)).toMatchObject({
      ver: '2.0',
      tid: PERSONAL_ACCOUNT_TENANT,
      email: 'ada@example.com',
      preferred_username: 'ada@example.com',
      name: 'Ada',
      acr: 'urn:microsoft:policies:mfa',
    });
    expect(identity.jwksRequests).toBe(4);
  });

  test('leaves out a claim overridden with undefined', async () => {
    expect(await verify(identity.mint({ email: undefined }))).not.toHaveProperty('email');
  });

  test('signs foreign tokens with a key the key sets do not hold', async () => {
    await expect(verify(identity.mint({}, { signWith: 'foreign' }))).rejects.toThrow('invalid signature');
  });

  test.each(['HS256', 'none'] as const)('mints %s tokens that RS256 verification refuses', async (algorithm) => {
    const token = identity.mint({}, { algorithm });

    expect(jwt.decode(token, { complete: true })?.header.alg).toBe(algorithm);
    await expect(verify(token)).rejects.toThrow();
  });

  test('serves only the new key after rotation', async () => {
    const [before] = await fetchKeys();
    identity.rotateKeys();
    const after = await fetchKeys();

    expect(after).toHaveLength(1);
    expect(after[0].kid).not.toBe(before.kid);
    expect(jwt.decode(identity.mint(), { complete: true })?.header.kid).toBe(after[0].kid);
  });

  test('answers 503 for keys during an outage', async () => {
    identity.setOutage(true);
    const response = await fetch(`${server.url}/common/discovery/v2.0/keys`);
    expect(response.status).toBe(503);
  });
});
