/**
 * What the Azure Functions Node.js worker does with a function app, for the local host and the bench: it
 * provides the module `@azure/functions-core`, loads the files package.json's `main` names, and invokes a
 * function through the programming model the app's library registered (`@azure/functions`' InvocationModel:
 * getArguments, invokeFunction, getResponse), with the trigger's data shaped as the host sends it
 * (Azure/azure-functions-nodejs-worker src/eventHandlers/InvocationHandler.ts and src/startApp.ts).
 * It loads nothing else, so a fresh process that loads an app through it costs what the worker's would.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { getProgrammingModel, type CoreInvocationContext, type RegisteredFunction, type RpcTypedData } from './functionsCore';

const CORE_MODULE = '@azure/functions-core';

// In Azure the worker provides @azure/functions-core; here this module does.
const moduleInternals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolveFilename = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request: string, ...rest: unknown[]) {
  return request === CORE_MODULE ? require.resolve('./functionsCore') : resolveFilename.call(this, request, ...rest);
};

/** This project's root: host.json sits there, whether this file runs from source or from dist/. */
export function projectRoot(): string {
  let directory = __dirname;
  while (!existsSync(path.join(directory, 'host.json'))) {
    if (directory === path.dirname(directory)) throw new Error('host.json not found above ' + __dirname);
    directory = path.dirname(directory);
  }
  return directory;
}

/** Files matching a glob of `*` wildcards within folder names (what `main` needs here; `**` is refused). */
function globFiles(root: string, pattern: string): string[] {
  if (pattern.includes('**')) throw new Error(`The local host reads no '**' in package.json's main: ${pattern}`);
  const toRegExp = (part: string) => new RegExp(`^${part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  let matches = [''];
  for (const part of pattern.split('/').filter(Boolean)) {
    const regExp = toRegExp(part);
    matches = matches.flatMap((dir) => {
      const full = path.join(root, dir);
      if (!existsSync(full)) return [];
      return readdirSync(full).filter((name) => regExp.test(name)).sort().map((name) => path.posix.join(dir, name));
    });
  }
  return matches;
}

/**
 * The entry points the Node.js worker loads: the files matching package.json's `main`, in order
 * (src/startApp.ts). `main` names the bundle of the function files (local/bundle.ts); run from TypeScript
 * sources (in the tests), the function files the bundle is built from stand in for it.
 */
export function entryPoints(root: string): string[] {
  const { main } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { main?: string };
  if (!main) throw new Error(`package.json in ${root} has no main: the worker would load no function`);
  const fromSources = path.extname(__filename) === '.ts';
  const files = globFiles(root, fromSources ? 'functions/*.ts' : main).filter((file) => !file.endsWith('.d.ts'));
  if (files.length === 0) throw new Error(`Worker was unable to load entry point "${main}": Found zero files matching the supplied pattern`);
  return files.map((file) => path.join(root, file));
}

/** Requires each entry point, reporting a file that fails in the worker's words. */
export function loadEntryPoints(root: string, files: string[] = entryPoints(root)): void {
  for (const file of files) {
    try {
      require(file);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`Worker was unable to load entry point "${path.relative(root, file)}": ${message}`, { cause: error });
    }
  }
}

export interface HttpRequestData {
  method: string;
  url: string;
  headers: Record<string, string>;
  query: URLSearchParams;
  params: Record<string, string>;
  body?: Buffer;
}

const nullable = (entries: Iterable<[string, string]>) => {
  const mapping: Record<string, { value: string }> = {};
  for (const [name, value] of entries) mapping[name] = { value };
  return mapping;
};

/**
 * An HTTP trigger's data as the host sends it to a worker that asks for nullable dictionaries and raw body
 * bytes, as the Node.js worker does (src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs,
 * ToRpcHttp): header names in lower case, a repeated query parameter's values joined by commas, the route's
 * parameters, and the body only when there is one.
 */
export function httpTriggerData(request: HttpRequestData): RpcTypedData {
  const query = new Map<string, string>();
  for (const [name, value] of request.query) query.set(name, query.has(name) ? `${query.get(name)},${value}` : value);
  const headers = Object.entries(request.headers).map(([name, value]): [string, string] => [name.toLowerCase(), value]);
  return {
    http: {
      method: request.method,
      url: request.url,
      nullableHeaders: nullable(headers),
      nullableQuery: nullable(query),
      nullableParams: nullable(Object.entries(request.params)),
      ...(request.body && request.body.length > 0 ? { body: { bytes: request.body } } : {}),
    },
  };
}

/** A timer trigger's data as the host sends it: the TimerInfo as JSON, in .NET's casing. */
export function timerTriggerData(isPastDue: boolean): RpcTypedData {
  const now = new Date().toISOString();
  return { json: JSON.stringify({ Schedule: { AdjustForDST: true }, ScheduleStatus: { Last: now, Next: now, LastUpdated: now }, IsPastDue: isPastDue }) };
}

export type WorkerLog = (level: string, message: string) => void;

/**
 * Invokes `fn` as the worker does on an invocation request: the programming model turns the trigger's data
 * into the handler's arguments (an HttpRequest, an InvocationContext), runs the handler, and turns its result
 * into what goes back to the host (for HTTP, the response's status, headers and body bytes). A handler that
 * throws fails the invocation.
 */
export async function invokeFunction(fn: RegisteredFunction, data: RpcTypedData, log: WorkerLog): Promise<RpcTypedData | undefined> {
  const model = getProgrammingModel();
  if (!model) throw new Error('No programming model registered: the app loaded no function library');
  const invocationId = randomUUID();
  const coreContext: CoreInvocationContext = {
    invocationId,
    request: {
      invocationId,
      functionId: fn.name,
      inputData: [{ name: fn.triggerName, data }],
      triggerMetadata: {},
      // The host's W3C trace context for the invocation (its ids are random, as the invocation id is).
      traceContext: { traceParent: `00-${invocationId.replace(/-/g, '')}-${invocationId.slice(0, 16).replace(/-/g, '0')}-00`, traceState: '', attributes: {} },
    },
    metadata: fn.metadata,
    log: (level, _category, message) => log(level, message),
  };
  const invocation = model.getInvocationModel(coreContext);
  const { context, inputs } = await invocation.getArguments();
  coreContext.state = 'invocation';
  let result: unknown;
  try {
    result = await invocation.invokeFunction(context, inputs, fn.handler as (...args: never[]) => unknown);
  } finally {
    coreContext.state = undefined;
  }
  return (await invocation.getResponse(context, result)).returnValue ?? undefined;
}
