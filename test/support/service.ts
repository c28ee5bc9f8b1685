import { randomBytes, randomUUID } from 'node:crypto';
import type http from 'node:http';
import { startLocalHost, type LocalHost } from '../../local/host';
import { provisionContainers } from '../../lib/shared/storage/cosmos';
import { createAcsEmailStandIn, type AcsEmailStandIn } from '../../local/standins/acsEmail';
import { createCosmosStandIn, inFrontOfStandIn } from '../../local/standins/cosmos';
import { createRdapStandIn, type RdapStandIn } from '../../local/standins/rdap';
import { createIdentityStandIn, type IdentityStandIn } from '../standins/identity';
import { createGitHubActionsStandIn, type GitHubActionsStandIn } from '../standins/githubActions';
import { createGitLabStandIn, type GitLabStandIn } from '../standins/gitlab';
import { listenOnLoopback, type LoopbackServer } from '../../local/standins/listen';
import { holdTime } from './heldTime';
import {
  acceptInvitation,
  confirmedOrganization,
  confirmedUser,
  confirmOrganizationEmail,
  confirmRegistrationEmail,
  createOrganization,
  emailCount,
  invite,
  inviteAndAccept,
  nextEmailTo,
  organizationAudit,
  organizationsOf,
  removeMember,
  unconfirmedUser,
} from './organizations';
import {
  acceptOwnership,
  apiKeysOf,
  createKey,
  editKey,
  getPackage,
  inviteOwner,
  myPackages,
  push,
  pushOk,
  rejectOwnership,
  releasePrefix,
  removeOwner,
  requestKey,
  reservePrefix,
  setListed,
  setTrustedPublishingOnly,
  withdrawOwnerInvitation,
} from './packages';
import { changeEmailAddress, idTokenFor, recoverySession, register, signIn } from './people';
import { deliverNotices, noticesTo, setNotifications } from './notices';
import { deleteAsSupport, lockAccount, lookUpAccount, releaseUsername, revokeLeakedKey, securityLog, setPasswordByEmail, unlockAccount } from './support';
import { emailsTo, waitForEmailTo } from './waitFor';
import {
  addGitLabPublisher,
  addTrustedPublisher,
  exchangeToken,
  expectTokenRefusedForAnyone,
  pipelineToken,
  removeTrustedPublisher,
  requestGitLabPublisher,
  requestTrustedPublisher,
  trustedPublishersOf,
  trustedPublishingKey,
  workflowToken,
} from './trustedPublishing';

export const FRONTEND_ORIGIN = 'https://gallery.example';
export const CLIENT_ID = 'test-client-id';
/** The `aud` GitHub Actions OIDC tokens are asked for (TRUSTED_PUBLISHING_AUDIENCE): the gallery's origin, as infra/ sets it. */
export const TRUSTED_PUBLISHING_AUDIENCE = FRONTEND_ORIGIN;

export interface ApiResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- responses are asserted field by field
  body: any;
  text: string;
}

/** A response as a person reads it: the status, and the problem's code if any (`403 site_admin_required`). */
export const outcome = (response: Pick<ApiResponse, 'status' | 'body'>): string => `${response.status} ${response.body?.code ?? ''}`.trim();

export interface CallOptions {
  body?: unknown;
  /** Sent as is, for malformed bodies. */
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
}

/** Counts what the service asks of Cosmos DB, so tests can hold hot paths to their budget. */
export interface CosmosRequestLog {
  /** Document reads, writes and queries since the last reset (metadata look-ups are counted apart). */
  documentRequests(): string[];
  /** Those of the document requests that were queries (a query is a POST to `/docs`, as a create is). */
  queries(): string[];
  /**
   * Bytes the document requests since the last reset carried: sent to the store (what is written, or the query) and
   * answered by it (what is read). Cosmos DB charges request units by them; the stand-in charges 1 a request.
   */
  documentBytes(): { sent: number; answered: number };
  reset(): void;
  /** The next request whose `METHOD url` matches fails with `status`, as a Cosmos DB fault would. */
  failNext(match: RegExp, status?: number, times?: number): void;
  /** What happens when a request matches: for a kill test, stop the process before Cosmos DB sees it. */
  onRequest(match: RegExp, react: () => void): void;
  /** Drops every injected fault still waiting. */
  clearFaults(): void;
  /**
   * The next request whose `METHOD url` matches waits until `release()`, to put a race in a chosen order;
   * `reached` resolves once it has arrived and is waiting.
   */
  holdNext(match: RegExp): HeldRequest;
}

export interface HeldRequest {
  reached: Promise<void>;
  release(): void;
}

export interface TestService {
  url: string;
  /** The Cosmos DB database this service's instances share (`COSMOS_DATABASE`). */
  database: string;
  host: LocalHost;
  mailbox: AcsEmailStandIn;
  identity: IdentityStandIn;
  /** GitHub Actions' OIDC issuer (GITHUB_OIDC_ISSUER): repositories, and the tokens their workflow runs get. */
  github: GitHubActionsStandIn;
  /** GitLab's ID token issuer (GITLAB_OIDC_ISSUER): projects, and the tokens their pipeline jobs get. */
  gitlab: GitLabStandIn;
  /** RDAP (RDAP_BOOTSTRAP_URL): the bootstrap file and the registries' servers, whose domains a test sets up. */
  rdap: RdapStandIn;
  cosmos: CosmosRequestLog;
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  /** With `runSchedules`: lets `ms` of the service's time pass, each timer running when its schedule says. */
  passTime(ms: number): Promise<void>;
  stop(): Promise<void>;
}

/** Adds the request's body and the answer's to `bytes` as they pass (the SDK sends a body's length with it). */
function countBytes(req: http.IncomingMessage, res: http.ServerResponse, bytes: { sent: number; answered: number }): void {
  bytes.sent += Number(req.headers['content-length'] ?? 0);
  const { write, end } = res;
  const count = (chunk: unknown) => {
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) bytes.answered += Buffer.byteLength(chunk);
  };
  res.write = ((chunk: unknown, ...rest: unknown[]) => (count(chunk), Reflect.apply(write, res, [chunk, ...rest]))) as typeof res.write;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => (count(chunk), Reflect.apply(end, res, [chunk, ...rest]))) as typeof res.end;
}

function countingCosmos(): { server: http.Server; log: CosmosRequestLog } {
  let requests: string[] = [];
  let queries: string[] = [];
  let bytes = { sent: 0, answered: 0 };
  const faults: Array<{ match: RegExp; status: number; times: number }> = [];
  const reactions: Array<{ match: RegExp; react: () => void }> = [];
  const holds: Array<{ match: RegExp; arrived: () => void; released: Promise<void> }> = [];
  // A recorder (and fault injector) in front of the stand-in's own request handler.
  const server = inFrontOfStandIn(createCosmosStandIn(), async (req, res, standIn) => {
    const line = `${req.method} ${req.url}`;
    const hold = holds.findIndex(({ match }) => match.test(line));
    if (hold !== -1) {
      const [{ arrived, released }] = holds.splice(hold, 1);
      arrived();
      await released;
    }
    requests.push(line);
    // A query is a POST to `/docs` like a create; only its content type tells them apart.
    if (/^application\/query\+json/i.test(req.headers['content-type'] ?? '')) queries.push(line);
    if (/\/docs(\/|$)/.test(line)) countBytes(req, res, bytes);
    const reaction = reactions.findIndex(({ match }) => match.test(line));
    if (reaction !== -1) {
      const [{ react }] = reactions.splice(reaction, 1);
      react();
      // The request never reaches the store: like a process killed before its write left the machine.
      req.resume();
      res.destroy();
      return;
    }
    const fault = faults.find(({ match }) => match.test(line));
    if (!fault) return standIn(req, res);
    fault.times -= 1;
    if (fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
    req.resume();
    // Throttling answers say when to retry, as Cosmos DB does; kept short so retries stay quick here.
    const retryAfter = fault.status === 429 ? { 'x-ms-retry-after-ms': '5' } : {};
    res
      .writeHead(fault.status, { 'content-type': 'application/json', ...retryAfter })
      .end(JSON.stringify({ code: 'InjectedFault', message: 'injected' }));
  });
  return {
    server,
    log: {
      documentRequests: () => requests.filter((line) => /\/docs(\/|$)/.test(line)),
      queries: () => queries.filter((line) => /\/docs(\/|$)/.test(line)),
      documentBytes: () => ({ ...bytes }),
      reset: () => {
        requests = [];
        queries = [];
        bytes = { sent: 0, answered: 0 };
      },
      failNext: (match, status = 500, times = 1) => {
        faults.push({ match, status, times });
      },
      onRequest: (match, react) => {
        reactions.push({ match, react });
      },
      clearFaults: () => {
        faults.length = 0;
        reactions.length = 0;
      },
      holdNext: (match) => {
        let release = () => undefined as void;
        let arrived = () => undefined as void;
        const released = new Promise<void>((resolve) => (release = resolve));
        const reached = new Promise<void>((resolve) => (arrived = resolve));
        holds.push({ match, arrived, released });
        return { reached, release };
      },
    },
  };
}

/** `service.call` for a host at `baseUrl`: JSON in, the status, headers and parsed body out. */
export function callerFor(baseUrl: string): TestService['call'] {
  return async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  };
}

/**
 * The whole service as a frontend sees it: the local host serving every function file, on the real SDKs,
 * against loopback stand-ins for Cosmos DB, Communication Services and the Microsoft identity platform.
 */
export interface TestServiceOptions {
  /**
   * Run timer functions on their schedules, as `npm start` does (tests usually trigger them by hand), by a time
   * the test holds: the service's clock stands still but for `service.passTime(ms)`.
   */
  runSchedules?: boolean;
  /**
   * Further settings (such as `SITE_ADMINS`), merged into the environment over the harness's own before the
   * service reads it: the settings module caches what it read first.
   */
  settings?: Record<string, string>;
}

export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const cosmos = countingCosmos();
  const accessKey = randomBytes(32).toString('base64');
  const mailbox = createAcsEmailStandIn({ accessKey });
  const identity = createIdentityStandIn({ clientId: CLIENT_ID });
  const github = createGitHubActionsStandIn({ audience: TRUSTED_PUBLISHING_AUDIENCE });
  const gitlab = createGitLabStandIn({ audience: TRUSTED_PUBLISHING_AUDIENCE });
  const rdap = createRdapStandIn();
  const servers: LoopbackServer[] = [
    await listenOnLoopback(cosmos.server),
    await listenOnLoopback(mailbox.handle),
    await listenOnLoopback(identity.handle),
    await listenOnLoopback(github.handle),
    await listenOnLoopback(gitlab.handle),
    await listenOnLoopback(rdap.handle),
  ];
  const [cosmosServer, acsServer, loginServer, githubServer, gitlabServer, rdapServer] = servers;
  identity.setLoginHost(loginServer.url);
  github.setIssuer(githubServer.url);
  gitlab.setIssuer(gitlabServer.url);
  rdap.setOrigin(rdapServer.url);
  Object.assign(process.env, {
    COSMOS_ENDPOINT: cosmosServer.url,
    COSMOS_KEY: randomBytes(32).toString('base64'),
    COSMOS_DATABASE: `test-${randomUUID()}`,
    COMMUNICATION_SERVICES_CONNECTION_STRING: `endpoint=${acsServer.url}/;accesskey=${accessKey}`,
    EMAIL_SENDER_ADDRESS: 'DoNotReply@gallery.example',
    MICROSOFT_CLIENT_ID: CLIENT_ID,
    MICROSOFT_LOGIN_HOST: loginServer.url,
    SESSION_SIGNING_KEY: randomBytes(48).toString('base64'),
    PUBLIC_BASE_URL: FRONTEND_ORIGIN,
    TRUSTED_PUBLISHING_AUDIENCE,
    GITHUB_OIDC_ISSUER: githubServer.url,
    GITLAB_OIDC_ISSUER: gitlabServer.url,
    RDAP_BOOTSTRAP_URL: rdap.bootstrapUrl(),
    ...options.settings,
  });
  await provisionContainers();
  const time = options.runSchedules ? holdTime() : undefined;
  const host = await startLocalHost({
    port: 0,
    corsOrigins: [FRONTEND_ORIGIN],
    runSchedules: time !== undefined,
    scheduleClock: time,
    log: () => undefined,
  });
  cosmos.log.reset();

  const call = callerFor(host.url);

  return {
    url: host.url,
    database: process.env.COSMOS_DATABASE!,
    host,
    mailbox,
    identity,
    github,
    gitlab,
    rdap,
    cosmos: cosmos.log,
    call,
    passTime: async (ms) => {
      if (!time) throw new Error('The service runs on real time: start it with runSchedules to let time pass');
      await time.passTime(ms);
    },
    stop: async () => {
      await host.close();
      rdap.close();
      time?.release();
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

/** A helper that acts on the service as a frontend, a CI job or support would; the service comes first. */
type Helper = (service: TestService, ...rest: never[]) => unknown;

/** The helpers with the service already given. */
export type Bound<Helpers extends Record<string, Helper>> = {
  [Name in keyof Helpers]: Helpers[Name] extends (service: TestService, ...rest: infer Rest) => infer Result ? (...rest: Rest) => Result : never;
};

/** Gives each helper `service` as its first argument: `bound.register(person)` is `register(service, person)`. */
export function bindHelpers<Helpers extends Record<string, Helper>>(service: TestService, helpers: Helpers): Bound<Helpers> {
  return Object.fromEntries(
    Object.entries(helpers).map(([name, helper]) => [name, (...rest: never[]) => helper(service, ...rest)]),
  ) as Bound<Helpers>;
}

/** Every helper in test/support that takes the service first, as a test file's handle carries them. */
const HELPERS = {
  register,
  idTokenFor,
  signIn,
  changeEmailAddress,
  recoverySession,
  emailsTo,
  waitForEmailTo,
  nextEmailTo,
  emailCount,
  confirmRegistrationEmail,
  confirmedUser,
  unconfirmedUser,
  createOrganization,
  confirmOrganizationEmail,
  confirmedOrganization,
  invite,
  acceptInvitation,
  inviteAndAccept,
  removeMember,
  organizationsOf,
  organizationAudit,
  requestKey,
  createKey,
  apiKeysOf,
  editKey,
  push,
  pushOk,
  getPackage,
  setListed,
  setTrustedPublishingOnly,
  inviteOwner,
  acceptOwnership,
  rejectOwnership,
  withdrawOwnerInvitation,
  removeOwner,
  myPackages,
  reservePrefix,
  releasePrefix,
  lookUpAccount,
  lockAccount,
  unlockAccount,
  deleteAsSupport,
  releaseUsername,
  revokeLeakedKey,
  securityLog,
  setPasswordByEmail,
  startSecondInstance,
  deliverNotices,
  deliverNoticesOnTwoInstances,
  noticesTo,
  setNotifications,
  requestTrustedPublisher,
  addTrustedPublisher,
  trustedPublishersOf,
  removeTrustedPublisher,
  workflowToken,
  requestGitLabPublisher,
  addGitLabPublisher,
  pipelineToken,
  exchangeToken,
  expectTokenRefusedForAnyone,
  trustedPublishingKey,
};

/** What a test file holds: the running service, and the helpers bound to it (`service.confirmedUser()`). */
export type TestServiceHandle = TestService & Bound<typeof HELPERS>;

/**
 * Runs the service for the tests of one file: started before the first, stopped after the last; clock and
 * other spies are undone after each test. The handle is returned at once and filled in before the first test.
 */
export function useTestService(options: TestServiceOptions = {}): TestServiceHandle {
  const service = {} as TestServiceHandle;
  Object.assign(service, bindHelpers(service, HELPERS));
  let started: TestService | undefined;
  beforeAll(async () => {
    started = await startTestService(options);
    Object.assign(service, started);
  });
  afterAll(async () => {
    await started?.stop();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });
  return service;
}

/**
 * Another instance of the same function app, as a scale-out would run: the same settings, Cosmos DB stand-in
 * and database, but every module of the app loaded afresh in its own module registry, so it shares no memory
 * with the first (its own settings cache, Cosmos client, clock object, registered functions).
 */
export interface SecondInstance {
  url: string;
  host: LocalHost;
  /** This instance's own `clock` (lib/shared/clock.ts): spy on it to move this instance's time. */
  clock: typeof import('../../lib/shared/clock').clock;
  call: TestService['call'];
  stop(): Promise<void>;
}

export async function startSecondInstance(service: TestService): Promise<SecondInstance> {
  if (process.env.COSMOS_DATABASE !== service.database) {
    throw new Error('The environment no longer points at this service: start the second instance from its own test file.');
  }
  let started: Omit<SecondInstance, 'call' | 'stop'> | undefined;
  // Async: the host requires the function files (and they their lib modules) while it starts, and those
  // requires must land in the isolated registry too.
  await jest.isolateModulesAsync(async () => {
    const { startLocalHost: startIsolatedHost } = require('../../local/host') as typeof import('../../local/host');
    const { clock } = require('../../lib/shared/clock') as typeof import('../../lib/shared/clock');
    const host = await startIsolatedHost({ port: 0, corsOrigins: [FRONTEND_ORIGIN], runSchedules: false, log: () => undefined });
    started = { url: host.url, host, clock };
  });
  const instance = started!;
  return { ...instance, call: callerFor(instance.url), stop: () => instance.host.close() };
}

/**
 * Runs the outbox timer on this instance and on a second one at the same moment, as a scale-out would (the
 * second's clock as far ahead as the first's run), so a test can show that nothing is delivered twice.
 */
export async function deliverNoticesOnTwoInstances(service: TestService): Promise<void> {
  const second = await startSecondInstance(service);
  try {
    jest.spyOn(second.clock, 'now').mockReturnValue(new Date(Date.now() + 5 * 60 * 1000));
    await Promise.all([deliverNotices(service), second.host.runTimer('deliverPendingEmails')]);
  } finally {
    await second.stop();
  }
}
