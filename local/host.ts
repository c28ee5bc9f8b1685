/**
 * A small stand-in for the Azure Functions host, for machines where Core Tools cannot be installed. It
 * loads the same function files the real host loads (package.json's `main`), refuses what the real host
 * refuses (local/hostRules.ts), serves the HTTP routes under the route prefix with request bodies forwarded
 * as the host forwards them, runs timers on their schedules and on `POST /admin/functions/{name}` (with the
 * master key where told to ask for it, as in Azure), and answers CORS as the platform does.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { appStartHooks, registeredFunctions, type RegisteredFunction, type RpcHttpData } from './functionsCore';
import { corsFor, decodePath, functionAppErrors, isHttpFunction, routeOf } from './hostRules';
import { realTime, type ScheduleClock } from './scheduleClock';
import { httpTriggerData, invokeFunction, loadEntryPoints, projectRoot, timerTriggerData, type WorkerLog } from './worker';

/** The platform's own ceiling is far higher; this only keeps a runaway client from filling memory. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

export interface DevRoute {
  /** A path prefix outside the API, such as `/dev/identity`. */
  prefix: string;
  handler: http.RequestListener;
}

export interface LocalHostOptions {
  port: number;
  /** The function app: files loaded and host.json read from here (default: this project). */
  app?: FunctionAppFiles;
  hostname?: string;
  /** Origins allowed to call the API from a browser (the platform's CORS setting). */
  corsOrigins: string[];
  /** Run timer functions on their schedules, as `npm start` does. */
  runSchedules: boolean;
  /** The time those schedules run by: real time unless told otherwise (a test holding the time). */
  scheduleClock?: ScheduleClock;
  /**
   * Who may call the admin API. Left out, anyone, as under `func start`: Core Tools authenticates every request
   * as admin unless started with `--enableAuth` (azure-functions-core-tools src/Cli/func/Actions/HostActions/
   * Startup.cs, "Bypass all local auth", and WebHost/Security/CliAuthenticationHandler.cs). Given, only a
   * request carrying `masterKey`, as in Azure; without one the admin API answers every request 401.
   */
  adminAccess?: { masterKey: string | undefined };
  devRoutes?: DevRoute[];
  log?: (line: string) => void;
}

export interface LocalHost {
  url: string;
  functions: readonly RegisteredFunction[];
  /** Runs a timer function now and waits for it (the admin endpoint answers 202 without waiting). */
  runTimer(name: string): Promise<void>;
  /** Resolves once no timer run is in progress. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

interface Route {
  fn: RegisteredFunction;
  methods: Set<string>;
  pattern: RegExp;
  paramNames: string[];
  literalSegments: number;
}

export interface FunctionAppFiles {
  /** The folder holding host.json and package.json (the root of the deployed package). */
  root?: string;
  /** Entry point files to load instead of package.json's `main` (a deliberately wrong app in a test). */
  entryPoints?: string[];
}

function routePrefix(root: string): string {
  const hostJson = JSON.parse(readFileSync(path.join(root, 'host.json'), 'utf8')) as {
    extensions?: { http?: { routePrefix?: string } };
  };
  return hostJson.extensions?.http?.routePrefix ?? 'api';
}

/**
 * Loads the function app as the worker does (every entry point, reporting a failing file as the worker
 * does), refuses it where the real host would put a function in error, then runs the appStart hooks.
 */
export async function loadFunctionApp(app: FunctionAppFiles = {}): Promise<readonly RegisteredFunction[]> {
  loadEntryPoints(app.root ?? projectRoot(), app.entryPoints);
  const errors = functionAppErrors(registeredFunctions);
  if (errors.length > 0) {
    throw new Error(`The Azure Functions host would not run this function app as it is:\n${errors.join('\n')}`);
  }
  for (const hook of appStartHooks) await hook({ hookData: {}, appHookData: {} });
  return registeredFunctions;
}

/** The host's route templates: `{name}`, `{name:constraint}`, `{name?}` and a trailing `{*rest}`. */
function compileRoute(prefix: string, fn: RegisteredFunction): Route {
  const paramNames: string[] = [];
  let literalSegments = 0;
  const segments = [prefix, ...routeOf(fn).split('/')].filter(Boolean).map((segment) => {
    const param = /^\{(\*?)(\w+)(?::[^}?]+)?(\?)?\}$/.exec(segment);
    if (!param) {
      literalSegments += 1;
      return `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
    }
    paramNames.push(param[2]);
    if (param[1]) return '(?:/(.*))?';
    return param[3] ? '(?:/([^/]+))?' : '/([^/]+)';
  });
  return {
    fn,
    methods: new Set((fn.trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase())),
    pattern: new RegExp(`^${segments.join('')}/?$`, 'i'),
    paramNames,
    literalSegments,
  };
}

function headerRecord(headers: http.IncomingHttpHeaders): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) record[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return record;
}

/**
 * A request body, bounded. For a function, `onlyWithLength`: the host hands a body to an out-of-process
 * worker without HTTP streams only when Content-Length is present and positive
 * (src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs, ToRpcHttp); a body sent in
 * chunks is drained and the function gets none, though its headers still say it was sent. The host's own
 * admin API reads any body. Over the size limit the host answers 413 itself.
 */
async function readBody(req: http.IncomingMessage, onlyWithLength: boolean): Promise<Buffer | 'too large'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const keep = declared > 0 || !onlyWithLength;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (keep && size > MAX_REQUEST_BYTES) {
      req.resume();
      return 'too large';
    }
    if (keep) chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether the request carries the master key the way the real host reads one (AuthenticationLevelHandler
 * .GetAuthorizationKeyInfoAsync: the `x-functions-key` header, else the `code` query parameter; the header wins
 * even when empty), compared in constant time as Key.SecretValueEquals does. Digests make the comparison
 * the same length whatever was sent.
 */
function carriesMasterKey(req: http.IncomingMessage, url: URL, masterKey: string | undefined): boolean {
  const header = req.headers['x-functions-key'];
  const presented = header !== undefined ? [header].flat()[0] : url.searchParams.get('code');
  if (!masterKey || !presented) return false;
  return timingSafeEqual(digest(presented), digest(masterKey));
}

const workerLog = (functionName: string, log: (line: string) => void): WorkerLog => (level, message) => log(`[${functionName}] ${level}: ${message}`);

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? ((line: string) => console.log(line));
  const functions = await loadFunctionApp(options.app);
  const prefix = routePrefix(options.app?.root ?? projectRoot());
  const routes = functions
    .filter(isHttpFunction)
    .map((fn) => compileRoute(prefix, fn))
    .sort((a, b) => b.literalSegments - a.literalSegments);
  const timers = new Map(functions.filter((fn) => /^timerTrigger$/i.test(fn.trigger.type)).map((fn) => [fn.name, fn]));
  const running = new Map<string, Promise<void>>();
  const scheduleClock = options.scheduleClock ?? realTime;
  const schedules = new Map<string, () => void>();
  let closed = false;

  function runTimer(name: string, isPastDue = false): Promise<void> {
    const fn = timers.get(name);
    if (!fn) return Promise.reject(new Error(`No timer function named ${name}`));
    // Like the real host's singleton lock: a timer never runs beside itself.
    const current = running.get(name);
    if (current) return current;
    const run = (async () => {
      try {
        await invokeFunction(fn, timerTriggerData(isPastDue), workerLog(name, log));
      } catch (error) {
        log(`[${name}] failed: ${error instanceof Error ? error.stack : String(error)}`);
      } finally {
        running.delete(name);
      }
    })();
    running.set(name, run);
    return run;
  }

  /** The next time the schedule names after the last run ends, as the host's timer does (NCRONTAB, seconds first). */
  function schedule(fn: RegisteredFunction): void {
    if (closed) return;
    const next = CronExpressionParser.parse(fn.trigger.schedule ?? '', { currentDate: scheduleClock.now() }).next().toDate();
    schedules.set(fn.name, scheduleClock.wakeAt(next, () => runTimer(fn.name).finally(() => schedule(fn))));
  }
  if (options.runSchedules) timers.forEach(schedule);

  async function serveApi(req: http.IncomingMessage, res: http.ServerResponse, url: URL, requestPath: string, cors: Record<string, string>): Promise<void> {
    const route = routes.find((r) => r.methods.has(req.method ?? 'GET') && r.pattern.test(requestPath));
    if (!route) {
      req.resume();
      res.writeHead(404, cors).end();
      return;
    }
    const body = await readBody(req, true);
    if (body === 'too large') {
      res.writeHead(413, cors).end();
      return;
    }
    const values = route.pattern.exec(requestPath)?.slice(1) ?? [];
    const params = Object.fromEntries(route.paramNames.flatMap((name, i) => (values[i] === undefined ? [] : [[name, values[i]]])));
    const headers = headerRecord(req.headers);
    // Like the platform's front end: the address it saw is appended, and the function trusts only that one.
    const peer = req.socket.remoteAddress ?? 'unknown';
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${peer}` : peer;
    const data = httpTriggerData({ method: req.method ?? 'GET', url: url.toString(), headers, query: url.searchParams, params, body });
    let response: RpcHttpData | null | undefined;
    try {
      response = (await invokeFunction(route.fn, data, workerLog(route.fn.name, log)))?.http;
    } catch (error) {
      log(`[${route.fn.name}] failed: ${error instanceof Error ? error.stack : String(error)}`);
      res.writeHead(500, cors).end();
      return;
    }
    const status = Number(response?.statusCode ?? 200);
    res.writeHead(status, { ...response?.headers, ...cors }).end(response?.body?.bytes ?? undefined);
  }

  /**
   * `POST /admin/functions/{name}` as the host's FunctionsController.Invoke takes it: a JSON body
   * (`[FromBody] FunctionInvocation`: another content type is 415, no body or no object 400), then 404 for no
   * such function, else 202 while the run goes on.
   */
  async function serveAdmin(req: http.IncomingMessage, res: http.ServerResponse, url: URL, name: string, cors: Record<string, string>): Promise<void> {
    // Authorization comes first ([Authorize(Policy = AdminAuthLevel)] runs before the body is bound); the real
    // host's challenge is JwtBearer's, 401 with `WWW-Authenticate: Bearer` and no body.
    if (options.adminAccess && !carriesMasterKey(req, url, options.adminAccess.masterKey)) {
      req.resume();
      res.writeHead(401, { ...cors, 'WWW-Authenticate': 'Bearer' }).end();
      return;
    }
    const body = await readBody(req, false);
    if (req.method !== 'POST') {
      res.writeHead(404, cors).end();
      return;
    }
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!/^(application\/json|text\/json|application\/[\w.-]+\+json)$/.test(mediaType)) {
      res.writeHead(415, cors).end();
      return;
    }
    const invocation = body === 'too large' ? undefined : parseJson(body.toString('utf8'));
    if (typeof invocation !== 'object' || invocation === null || Array.isArray(invocation)) {
      res.writeHead(400, cors).end();
      return;
    }
    if (!timers.has(name)) {
      res.writeHead(404, cors).end();
      return;
    }
    void runTimer(name);
    res.writeHead(202, cors).end();
  }

  /** What the host itself answers before any function: its CORS, its admin API, and paths it refuses. */
  function serveHost(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const cors = corsFor(req.method, req.headers, options.corsOrigins);
    if (cors.preflight) {
      req.resume();
      res.writeHead(204, cors.preflight).end();
      return Promise.resolve();
    }
    const requestPath = decodePath(url.pathname);
    // Kestrel refuses a path with an encoded NUL (400 before any middleware).
    if (requestPath.includes('\0')) {
      req.resume();
      res.writeHead(400).end();
      return Promise.resolve();
    }
    const admin = /^\/admin\/functions\/([^/]+)$/.exec(requestPath);
    if (admin) return serveAdmin(req, res, url, admin[1], cors.headers);
    return serveApi(req, res, url, requestPath, cors.headers);
  }

  const server = http.createServer((req, res) => {
    const base = `http://${req.headers.host ?? 'localhost'}`;
    if (!URL.canParse(req.url ?? '/', base)) {
      res.writeHead(400).end();
      return;
    }
    const url = new URL(req.url ?? '/', base);
    const devRoute = options.devRoutes?.find((route) => url.pathname === route.prefix || url.pathname.startsWith(`${route.prefix}/`));
    const serving = devRoute ? Promise.resolve(devRoute.handler(req, res)) : serveHost(req, res, url);
    serving.catch((error: unknown) => {
      log(`local host: ${error instanceof Error ? error.stack : String(error)}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.hostname ?? '127.0.0.1', resolve);
  });
  const address = server.address() as { port: number };

  return {
    url: `http://${options.hostname ?? '127.0.0.1'}:${address.port}`,
    functions,
    runTimer: (name) => runTimer(name),
    idle: async () => {
      await Promise.all(running.values());
    },
    close: async () => {
      closed = true;
      schedules.forEach((cancel) => cancel());
      await Promise.all(running.values());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
