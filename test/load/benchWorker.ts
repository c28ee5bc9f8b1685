/**
 * The measured process of `npm run bench`, run by test/load/bench.ts: it loads the function app as the
 * Functions worker does (package.json's `main`, through local/worker.ts) and invokes the registered handlers as
 * the worker does, and beside it runs the floor (test/load/floor.ts). Nothing else runs here, so the CPU time
 * this process uses over a run is the cost of the requests of that run. Asked over IPC, it also serves both
 * over HTTP for the throughput figures.
 *
 * Beside the app's functions it registers one that does nothing (`DOING_NOTHING`), with `@azure/functions` as the
 * app's files register theirs, and before them: the app's copy of the library (in its bundle) then sets the
 * programming model last, and the worker invokes every function through that one model, this one too. Its CPU per
 * invocation, less the floor's doing nothing, is what the invocation model itself costs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { invokeFunction, httpTriggerData, loadEntryPoints, projectRoot } from '../../local/worker';
import { appStartHooks, getProgrammingModel, registeredFunctions, type RegisteredFunction, type RpcTypedData } from '../../local/functionsCore';
import { app } from '@azure/functions';
import { createFloor, type Floor, type FloorReply, type FloorRequest } from './floor';
import { DOING_NOTHING_ROUTE, requestFor, type BenchedName, type BenchRequest, type OperationInput } from './requests';

export type Side = 'service' | 'floor';

export type BenchMessage =
  | { kind: 'run'; side: Side; operation: BenchedName; input: OperationInput; count: number }
  | { kind: 'serve' };

export type BenchAnswer =
  | { kind: 'ready' }
  | { kind: 'ran'; cpuMicrosPerRequest: number; answerBytesPerRequest: number }
  | { kind: 'serving'; service: string; floor: string }
  | { kind: 'failed'; error: string };

const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

const routed = new Map<string, RegisteredFunction>();

function functionFor(method: string, path: string): RegisteredFunction {
  const route = path.replace(/^\/api\//, '');
  const fn = routed.get(`${method} ${route}`) ?? registeredFunctions.find((f) => f.trigger.route === route && f.trigger.methods?.includes(method));
  if (!fn) throw new Error(`No function serves ${method} ${path}`);
  routed.set(`${method} ${route}`, fn);
  return fn;
}

/** The bytes of an answer's body as the worker hands it back to the host. */
const bodyBytes = (body: RpcTypedData | null | undefined) => body?.bytes?.length ?? Buffer.byteLength(body?.string ?? '');

async function viaWorker(request: BenchRequest): Promise<{ status: number; bytes: number }> {
  const data = httpTriggerData({
    method: request.method,
    url: `https://${request.headers.host}${request.path}`,
    headers: request.headers,
    query: new URLSearchParams(),
    params: {},
    body: request.body,
  });
  const answer = await invokeFunction(functionFor(request.method, request.path), data, () => undefined);
  return { status: Number(answer?.http?.statusCode), bytes: bodyBytes(answer?.http?.body) };
}

function floorOperation(floor: Floor, method: string, path: string): (request: FloorRequest) => Promise<FloorReply> {
  if (method === 'GET' && path === `/api/${DOING_NOTHING_ROUTE}`) return floor.nothing;
  if (method === 'GET' && path === '/api/me') return floor.me;
  if (method === 'POST' && path === '/api/auth/microsoft') return floor.signIn;
  if (method === 'PUT' && path === '/api/packages') return floor.push;
  if (method === 'POST' && path === '/api/accounts') return floor.register;
  throw new Error(`The floor serves no ${method} ${path}`);
}

async function viaFloor(floor: Floor, request: BenchRequest): Promise<{ status: number; bytes: number }> {
  const reply = await floorOperation(floor, request.method, request.path)(request);
  return { status: reply.status, bytes: reply.body.length };
}

async function run(floor: Floor, message: Extract<BenchMessage, { kind: 'run' }>): Promise<Extract<BenchAnswer, { kind: 'ran' }>> {
  const requests = Array.from({ length: message.count }, (_, i) => requestFor(message.operation, message.input, i));
  let answerBytes = 0;
  collectGarbage();
  // One at a time: what a request costs by itself (the throughput figures show requests side by side).
  const started = process.cpuUsage();
  for (const request of requests) {
    const { status, bytes } = message.side === 'service' ? await viaWorker(request) : await viaFloor(floor, request);
    if (status !== request.expect) throw new Error(`${message.side} ${request.method} ${request.path} answered ${status}, not ${request.expect}`);
    answerBytes += bytes;
  }
  const used = process.cpuUsage(started);
  return { kind: 'ran', cpuMicrosPerRequest: (used.user + used.system) / message.count, answerBytesPerRequest: answerBytes / message.count };
}

async function readAll(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The floor behind a bare node:http server: what serving it over HTTP costs at the least. */
async function serveFloor(floor: Floor): Promise<string> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const headers = req.headers as Record<string, string>;
      headers['x-forwarded-for'] ??= req.socket.remoteAddress ?? '';
      const reply = await floorOperation(floor, req.method ?? 'GET', req.url ?? '/')({ headers, body });
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
    })().catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function main(): Promise<void> {
  app.get('benchDoingNothing', { route: DOING_NOTHING_ROUTE, authLevel: 'anonymous', handler: async () => ({}) });
  const ownModel = getProgrammingModel();
  loadEntryPoints(projectRoot());
  if (getProgrammingModel() === ownModel) throw new Error("The app's files did not set the programming model: the handler doing nothing would not be invoked as theirs are");
  for (const hook of appStartHooks) await hook({ hookData: {}, appHookData: {} });
  const floor = await createFloor();
  const send = (answer: BenchAnswer) => process.send!(answer);
  // The orchestrator let go: done (an exit, not a signal, so `--cpu-prof` writes its profile).
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: BenchMessage) => {
    const work =
      message.kind === 'run'
        ? run(floor, message)
        : (async (): Promise<BenchAnswer> => {
            const { startLocalHost } = await import('../../local/host');
            const host = await startLocalHost({ port: 0, corsOrigins: [], runSchedules: false, log: () => undefined });
            return { kind: 'serving', service: host.url, floor: await serveFloor(floor) };
          })();
    work.then(send, (error: unknown) => send({ kind: 'failed', error: error instanceof Error ? error.stack ?? error.message : String(error) }));
  });
  send({ kind: 'ready' });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
