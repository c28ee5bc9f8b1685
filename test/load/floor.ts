/**
 * The floor `npm run bench` measures the service against: each hot operation written by hand with the same
 * libraries and the same Cosmos DB requests, and nothing else (no framework, no schema library, no adapter):
 * what a request must cost at the least. Its answers have the service's shape, so both do the same work.
 * The settings come from the environment, as the service's do.
 */
import { createHash, createPublicKey, createSecretKey, randomBytes, randomUUID, timingSafeEqual, type KeyObject } from 'node:crypto';
import { CosmosClient, type Container } from '@azure/cosmos';
import { EmailClient } from '@azure/communication-email';
import jwt, { type JwtPayload } from 'jsonwebtoken';

export interface FloorRequest {
  headers: Record<string, string>;
  body?: Buffer;
}

export interface FloorReply {
  status: number;
  body: Buffer;
}

const SESSION = { issuer: 'urn:gallery-accounts', audience: 'urn:gallery-accounts:api', typ: 'session+jwt' };

interface Account {
  id: string;
  username: string;
  emailAddress: string;
  emailConfirmed: boolean;
  pendingEmailAddress: string | null;
  microsoftAccount: { tid: string; oid: string; email: string | null; accountType: string; twoFactor: string } | null;
  passwordHash: string | null;
  sessionVersion: number;
  organizations: unknown[];
  createdAt: string;
  deletion: unknown;
}

const view = (a: Account) => ({
  id: a.id,
  username: a.username,
  kind: 'user',
  emailAddress: a.emailAddress,
  emailConfirmed: a.emailConfirmed,
  pendingEmailAddress: a.pendingEmailAddress,
  microsoftAccount: a.microsoftAccount && { email: a.microsoftAccount.email, accountType: a.microsoftAccount.accountType, twoFactor: a.microsoftAccount.twoFactor },
  hasPassword: a.passwordHash !== null,
  organizations: a.organizations,
  createdAt: a.createdAt,
  deletion: a.deletion,
});

const NO_BODY = Buffer.alloc(0);
const json = (status: number, body: unknown): FloorReply => ({ status, body: Buffer.from(JSON.stringify(body)) });
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export async function createFloor() {
  const env = process.env as Record<string, string>;
  const cosmos = new CosmosClient({
    endpoint: env.COSMOS_ENDPOINT,
    key: env.COSMOS_KEY,
    connectionPolicy: { enableEndpointDiscovery: false, retryOptions: { maxRetryAttemptCount: 5, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 10 } },
  });
  const database = cosmos.database(env.COSMOS_DATABASE);
  const containers = Object.fromEntries(
    ['accounts', 'claims', 'tokens', 'outbox', 'audit', 'apiKeys', 'packages', 'packageVersions', 'rateLimits'].map((name) => [name, database.container(name)]),
  ) as Record<string, Container>;
  const email = new EmailClient(env.COMMUNICATION_SERVICES_CONNECTION_STRING, { retryOptions: { maxRetries: 0 }, allowInsecureConnection: true });
  const sessionKey = createSecretKey(Buffer.from(env.SESSION_SIGNING_KEY, 'utf8'));
  const signingKeys = new Map<string, KeyObject>();

  /** The tenant's signing keys, fetched once (the service caches them too). */
  async function signingKey(tid: string, kid: string): Promise<KeyObject> {
    const cached = signingKeys.get(kid);
    if (cached) return cached;
    const { keys } = (await (await fetch(`${env.MICROSOFT_LOGIN_HOST}/${tid}/discovery/v2.0/keys`)).json()) as { keys: Array<{ kid: string }> };
    for (const jwk of keys) signingKeys.set(jwk.kid, createPublicKey({ key: jwk as never, format: 'jwk' }));
    return signingKeys.get(kid)!;
  }

  /** A new window's rate-limit counter, as the service counts a first call: an increment that finds none, then a create. */
  async function countFirstCall(name: string, key: string): Promise<void> {
    const id = `${name}:${sha256(key).slice(0, 32)}:${Math.floor(Date.now() / 3_600_000) * 3600}`;
    try {
      await containers.rateLimits.item(id, id).patch([{ op: 'incr', path: '/count', value: 1 }]);
    } catch {
      await containers.rateLimits.items.create({ id, count: 1, ttl: 7200 });
    }
  }

  async function verifyIdToken(idToken: string) {
    const [header, payload] = idToken.split('.', 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    const claims = jwt.verify(idToken, await signingKey(payload.tid, header.kid), {
      algorithms: ['RS256'],
      issuer: `${env.MICROSOFT_LOGIN_HOST}/${payload.tid}/v2.0`,
      audience: env.MICROSOFT_CLIENT_ID,
    }) as JwtPayload;
    return { tid: claims.tid as string, oid: claims.oid as string, email: claims.email as string, name: claims.name as string };
  }

  const issueSession = (account: Account) =>
    jwt.sign({ sv: account.sessionVersion, scp: 'full' }, sessionKey, {
      algorithm: 'HS256',
      header: { alg: 'HS256', typ: SESSION.typ },
      subject: account.id,
      issuer: SESSION.issuer,
      audience: SESSION.audience,
      expiresIn: 3600,
    });

  const bodyOf = (request: FloorRequest) => JSON.parse(request.body!.toString('utf8'));

  return {
    /** Nothing, by hand: beside the handler doing nothing, what is left is the invocation model's own cost. */
    async nothing(): Promise<FloorReply> {
      return { status: 200, body: NO_BODY };
    },

    /** GET /api/me: verify the session (HS256), one point read, the account as JSON. */
    async me(request: FloorRequest): Promise<FloorReply> {
      const claims = jwt.verify(request.headers.authorization.slice('Bearer '.length), sessionKey, {
        algorithms: ['HS256'],
        issuer: SESSION.issuer,
        audience: SESSION.audience,
      }) as JwtPayload;
      const { resource: account } = await containers.accounts.item(claims.sub!, claims.sub!).read<Account>();
      if (!account || account.sessionVersion !== claims.sv) return json(401, {});
      return json(200, view(account));
    },

    /** A linked Microsoft sign-in: RS256 with the cached key, the claim and the account read, the audit write, a session. */
    async signIn(request: FloorRequest): Promise<FloorReply> {
      const identity = await verifyIdToken(bodyOf(request).idToken);
      const claimId = `microsoft:${identity.tid}:${identity.oid}`;
      const { resource: claim } = await containers.claims.item(claimId, claimId).read<{ accountId: string }>();
      const { resource: account } = await containers.accounts.item(claim!.accountId, claim!.accountId).read<Account>();
      await containers.audit.items.create({
        id: randomUUID(),
        accountId: account!.id,
        action: 'signed_in',
        at: new Date().toISOString(),
        clientAddress: request.headers['x-forwarded-for'],
        details: { method: 'microsoft' },
      });
      return json(200, { status: 'signed_in', sessionToken: issueSession(account!), account: view(account!) });
    },

    /**
     * The push check of a new version: the key read and checked, the package read, then the version's item and the
     * push's audit record created at the same moment (the package document is not written; creating the item is the
     * duplicate check). The bench pushes four-number releases, whose sort key is each number's digit count less one
     * and its digits, then `~`.
     */
    async push(request: FloorRequest): Promise<FloorReply> {
      const secret = request.headers['x-nuget-apikey'];
      const keyId = /^gak1\.([0-9a-f]{32})\./.exec(secret)![1];
      const { resource: key } = await containers.apiKeys.item(keyId, keyId).read();
      if (!key || !timingSafeEqual(Buffer.from(sha256(secret), 'hex'), Buffer.from(key.secretHash, 'hex'))) return json(401, {});
      const { id, version } = bodyOf(request) as { id: string; version: string };
      const { resource: pkg } = await containers.packages.item(id.toLowerCase(), id.toLowerCase()).read();
      if (!pkg.owners.some((o: { accountId: string }) => o.accountId === key.ownerAccountId)) return json(403, {});
      const sortKey = `${version
        .split('.')
        .map((n) => `${n.length - 1}${n}`)
        .join('')}~`;
      const now = new Date().toISOString();
      const [created] = await Promise.allSettled([
        containers.packageVersions.items.create({ id: version.toLowerCase(), packageId: pkg.id, version, sortKey, listed: true, pushedAt: now }),
        containers.audit.items.create({
          id: `push:${pkg.id}:${version.toLowerCase()}`,
          accountId: key.ownerAccountId,
          action: 'package_pushed',
          at: now,
          clientAddress: request.headers['x-forwarded-for'],
          details: { package: pkg.displayId, version, keyId: key.id },
          // The record carries the push's notice to the owners until the outbox timer queues it.
          notice: 'pending',
        }),
      ]);
      if (created.status === 'rejected') return json(409, {});
      return json(200, { id: pkg.displayId, version, owners: pkg.owners.map((o: { username: string }) => o.username), listed: true });
    },

    /**
     * Registration: RS256, the two rate-limit counters, the three claims, the confirmation token, the outbox email, the account, the audit
     * record, the email handed to ACS and marked sent, a session.
     */
    async register(request: FloorRequest): Promise<FloorReply> {
      const { idToken, username } = bodyOf(request) as { idToken: string; username: string };
      const identity = await verifyIdToken(idToken);
      const accountId = randomUUID();
      const now = new Date().toISOString();
      // The two limits on emails a caller aims (per Microsoft account, per address), each new for a new person.
      await countFirstCall('registration:microsoft-account', `${identity.tid}:${identity.oid}`);
      await countFirstCall('registration:address', identity.email.toLowerCase());
      for (const id of [`microsoft:${identity.tid}:${identity.oid}`, `username:${username.toLowerCase()}`, `email:${identity.email.toLowerCase()}`]) {
        await containers.claims.items.create({ id, accountId, claimedAt: now });
      }
      const secret = randomBytes(32).toString('base64url');
      await containers.tokens.items.create({ id: sha256(secret), purpose: 'confirm-email', accountId, emailAddress: identity.email, expiresAt: now, ttl: 90000 });
      const link = `${env.PUBLIC_BASE_URL}/account/confirm-email?token=${secret}`;
      const message = {
        to: identity.email,
        subject: 'Confirm your email address',
        plainText: `Hello ${username},\n\nPlease confirm this email address.\n\nConfirm your email address: ${link}\n`,
        html: `<p>Hello ${username},</p><p>Please confirm this email address.</p><p><a href="${link}">Confirm your email address</a></p>`,
      };
      const { resource: queued } = await containers.outbox.items.create({
        id: randomUUID(),
        ...message,
        status: 'pending',
        cause: { container: 'accounts', id: accountId },
        createdAt: now,
        attempts: 0,
        nextAttemptAt: now,
        leaseUntil: now,
        sentAt: null,
        lastError: null,
      });
      const account: Account = {
        id: accountId,
        username,
        emailAddress: identity.email,
        emailConfirmed: false,
        pendingEmailAddress: null,
        microsoftAccount: { tid: identity.tid, oid: identity.oid, email: identity.email, accountType: 'personal', twoFactor: 'verified' },
        passwordHash: null,
        sessionVersion: 1,
        organizations: [],
        createdAt: now,
        deletion: null,
      };
      await containers.accounts.items.create(account);
      await containers.audit.items.create({ id: randomUUID(), accountId, action: 'account_registered', at: now, clientAddress: request.headers['x-forwarded-for'] });
      await email.beginSend(
        {
          senderAddress: env.EMAIL_SENDER_ADDRESS,
          recipients: { to: [{ address: message.to }] },
          content: { subject: message.subject, plainText: message.plainText, html: message.html },
        },
        { operationId: queued!.id },
      );
      await containers.outbox
        .item(queued!.id, queued!.id)
        .replace({ ...queued, status: 'sent', attempts: 1, leaseUntil: null, sentAt: now }, { accessCondition: { type: 'IfMatch', condition: queued!._etag } });
      return json(201, { account: view(account), sessionToken: issueSession(account) });
    },
  };
}

export type Floor = Awaited<ReturnType<typeof createFloor>>;
