/**
 * A small stand-in for the Azure Functions host, for machines where Core Tools cannot be installed. It
 * loads the same function files the real host loads, serves their HTTP routes under the route prefix,
 * runs timers on their schedules and on `POST /admin/functions/{name}`, and answers CORS as the
 * platform's CORS setting does.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import Module from 'node:module';
import path from 'node:path';
import { HttpRequest, HttpResponse, InvocationContext, type HttpHandler, type HttpResponseInit, type TimerHandler } from '@azure/functions';
import { CronExpressionParser } from 'cron-parser';
import { appStartHooks, registeredFunctions, type RegisteredFunction } from './functionsCore';

const CORE_MODULE = '@azure/functions-core';
/** The platform's own ceiling is far higher; this only keeps a runaway client from filling memory. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

// In Azure the worker provides @azure/functions-core; here this host does.
const moduleInternals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolveFilename = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request: string, ...rest: unknown[]) {
  return request === CORE_MODULE ? require.resolve('./functionsCore') : resolveFilename.call(this, request, ...rest);
};

export interface DevRoute {
  /** A path prefix outside the API, such as `/dev/identity`. */
  prefix: string;
  handler: http.RequestListener;
}

export interface LocalHostOptions {
  port: number;
  hostname?: string;
  /** Origins allowed to call the API from a browser (the platform's CORS setting). */
  corsOrigins: string[];
  runSchedules: boolean;
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

/** host.json sits at the project root, whether this file runs from source or from dist/. */
function routePrefix(): string {
  let directory = __dirname;
  while (!existsSync(path.join(directory, 'host.json'))) {
    if (directory === path.dirname(directory)) throw new Error('host.json not found above ' + __dirname);
    directory = path.dirname(directory);
  }
  const hostJson = JSON.parse(readFileSync(path.join(directory, 'host.json'), 'utf8')) as {
    extensions?: { http?: { routePrefix?: string } };
  };
  return hostJson.extensions?.http?.routePrefix ?? 'api';
}

/** Loads every function file, as the real host does from package.json's `main` glob, then runs appStart hooks. */
export async function loadFunctionApp(): Promise<readonly RegisteredFunction[]> {
  const directory = path.resolve(__dirname, '..', 'functions');
  const extension = path.extname(__filename);
  for (const file of readdirSync(directory).sort()) {
    if (file.endsWith(extension) && !file.endsWith('.d.ts')) require(path.join(directory, file));
  }
  for (const hook of appStartHooks) await hook({ hookData: {}, appHookData: {} });
  return registeredFunctions;
}

/** The host's route templates: `{name}`, `{name:constraint}`, `{name?}` and a trailing `{*rest}`. */
function compileRoute(prefix: string, fn: RegisteredFunction): Route {
  const paramNames: string[] = [];
  let literalSegments = 0;
  const segments = [prefix, ...(fn.trigger.route ?? fn.name).split('/')].filter(Boolean).map((segment) => {
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

async function readRequestBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function invocationContext(functionName: string, log: (line: string) => void): InvocationContext {
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName,
    logHandler: (level, ...args) =>
      log(`[${functionName}] ${level}: ${args.map((a) => (a instanceof Error ? a.stack ?? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`),
  });
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? ((line: string) => console.log(line));
  const functions = await loadFunctionApp();
  const prefix = routePrefix();
  const routes = functions
    .filter((fn) => /^httpTrigger$/i.test(fn.trigger.type))
    .map((fn) => compileRoute(prefix, fn))
    .sort((a, b) => b.literalSegments - a.literalSegments);
  const timers = new Map(functions.filter((fn) => /^timerTrigger$/i.test(fn.trigger.type)).map((fn) => [fn.name, fn]));
  const running = new Map<string, Promise<void>>();
  const schedules = new Map<string, NodeJS.Timeout>();
  let closed = false;

  function runTimer(name: string, isPastDue = false): Promise<void> {
    const fn = timers.get(name);
    if (!fn) return Promise.reject(new Error(`No timer function named ${name}`));
    // Like the real host's singleton lock: a timer never runs beside itself.
    const current = running.get(name);
    if (current) return current;
    const run = (async () => {
      const timer = { isPastDue, schedule: { adjustForDST: true }, scheduleStatus: { last: new Date().toISOString(), next: '', lastUpdated: new Date().toISOString() } };
      try {
        await (fn.handler as TimerHandler)(timer, invocationContext(name, log));
      } catch (error) {
        log(`[${name}] failed: ${error instanceof Error ? error.stack : String(error)}`);
      } finally {
        running.delete(name);
      }
    })();
    running.set(name, run);
    return run;
  }

  function schedule(fn: RegisteredFunction): void {
    if (closed) return;
    const next = CronExpressionParser.parse(fn.trigger.schedule ?? '').next().getTime();
    const handle = setTimeout(() => {
      void runTimer(fn.name).finally(() => schedule(fn));
    }, Math.max(0, next - Date.now()));
    handle.unref();
    schedules.set(fn.name, handle);
  }
  if (options.runSchedules) timers.forEach(schedule);

  function corsHeaders(origin: string | undefined): Record<string, string> {
    if (!origin || !options.corsOrigins.includes(origin)) return {};
    return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  }

  async function serveApi(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const cors = corsHeaders(req.headers.origin);
    const pathMatches = routes.filter((route) => route.pattern.test(url.pathname));
    if (req.method === 'OPTIONS' && pathMatches.length > 0) {
      const preflight = Object.keys(cors).length
        ? {
            ...cors,
            'Access-Control-Allow-Methods': [...new Set(pathMatches.flatMap((r) => [...r.methods]))].join(', '),
            'Access-Control-Allow-Headers': 'Authorization, Content-Type',
            'Access-Control-Max-Age': '600',
          }
        : {};
      res.writeHead(204, preflight).end();
      return;
    }
    const route = pathMatches.find((r) => r.methods.has(req.method ?? 'GET'));
    if (!route) {
      res.writeHead(404, cors).end();
      return;
    }
    const body = await readRequestBody(req);
    if (!body) {
      res.writeHead(413, cors).end();
      return;
    }
    const values = route.pattern.exec(url.pathname)?.slice(1) ?? [];
    const params = Object.fromEntries(
      route.paramNames.flatMap((name, i) => (values[i] === undefined ? [] : [[name, decodeURIComponent(values[i])]])),
    );
    const headers = headerRecord(req.headers);
    // Like the platform's front end: the address it saw is appended, and the function trusts only that one.
    const peer = req.socket.remoteAddress ?? 'unknown';
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${peer}` : peer;
    const request = new HttpRequest({
      method: req.method,
      url: url.toString(),
      headers,
      query: Object.fromEntries(url.searchParams),
      params,
      body: body.length > 0 ? { bytes: body } : undefined,
    });
    let response: HttpResponse;
    try {
      const result = await (route.fn.handler as HttpHandler)(request, invocationContext(route.fn.name, log));
      response = result instanceof HttpResponse ? result : new HttpResponse((result ?? {}) as HttpResponseInit);
    } catch (error) {
      log(`[${route.fn.name}] failed: ${error instanceof Error ? error.stack : String(error)}`);
      res.writeHead(500, cors).end();
      return;
    }
    const responseHeaders: Record<string, string> = { ...cors };
    response.headers.forEach((value, name) => {
      responseHeaders[name] = value;
    });
    res.writeHead(response.status ?? 200, responseHeaders).end(Buffer.from(await response.arrayBuffer()));
  }

  function serveAdmin(req: http.IncomingMessage, res: http.ServerResponse, name: string): void {
    if (req.method !== 'POST' || !timers.has(name)) {
      res.writeHead(404).end();
      return;
    }
    req.resume();
    void runTimer(name);
    res.writeHead(202).end();
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const admin = /^\/admin\/functions\/([^/]+)$/.exec(url.pathname);
    const devRoute = options.devRoutes?.find((route) => url.pathname === route.prefix || url.pathname.startsWith(`${route.prefix}/`));
    const serving = admin
      ? Promise.resolve(serveAdmin(req, res, decodeURIComponent(admin[1])))
      : devRoute
        ? Promise.resolve(devRoute.handler(req, res))
        : serveApi(req, res, url);
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
      schedules.forEach(clearTimeout);
      await Promise.all(running.values());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
