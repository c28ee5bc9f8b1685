/**
 * `npm run bench`: what each hot operation costs in CPU, next to a floor measured in the same run.
 *
 * - CPU per request: a process of its own (test/load/benchWorker.ts) loads the function app as the Functions
 *   worker does and invokes the registered handlers as the worker does (local/worker.ts: the trigger's data as
 *   the host sends it, then `@azure/functions`' own invocation model builds the HttpRequest and the
 *   InvocationContext and turns the answer into bytes). Beside it runs the floor (test/load/floor.ts): the same
 *   Cosmos DB requests with the same SDKs and nothing else. `process.cpuUsage()` around a run of a few hundred
 *   requests, one at a time, gives the CPU per request; service and floor alternate, run after run, and the
 *   table shows medians and the median of the ratios of the pairs of runs. The stand-ins (Cosmos DB, Communication Services, the identity
 *   platform) run in this process, so their work is not counted.
 * - Cosmos DB requests per operation, counted at the stand-in (keep-alive, as Cosmos DB is).
 * - Throughput at 16 concurrent clients over HTTP: the local host serving the app, and the floor behind a bare
 *   node:http server, both in the measured process.
 * - Cold start: a fresh `node` loading the app as the worker does, and one answering a first authenticated
 *   request (which loads the Cosmos DB SDK and makes the first point read), each minus a bare `node -e ''`.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startTestService, type TestService } from '../support/service';
import { idTokenFor, newPerson, register, uniqueName } from '../support/people';
import { createKey, pushOk } from '../support/packages';
import type { BenchAnswer, BenchMessage, Side } from './benchWorker';
import { OPERATIONS, requestFor, type OperationInput, type OperationName } from './requests';

/** Pairs of runs (service, floor): many short ones, so a busy moment of a shared machine hits both sides alike. */
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
/** Requests a run: about a third of a second of CPU each. */
const PER_RUN: Record<OperationName, number> = {
  'GET /api/me': 400,
  'Microsoft sign-in': 150,
  'push check (new version)': 150,
  registration: 40,
};
const HTTP_CLIENTS = 16;
const HTTP_REQUESTS = 3000;
const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 10);
/** While working on one operation: BENCH_OPERATIONS='GET /api/me' measures only it (and BENCH_COLD_STARTS=0 skips those). */
const MEASURED = OPERATIONS.filter((operation) => !process.env.BENCH_OPERATIONS || process.env.BENCH_OPERATIONS.split(',').includes(operation));

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The measured process, and a way to ask it for work. */
async function startMeasuredProcess(): Promise<{ ask(message: BenchMessage): Promise<BenchAnswer>; child: ChildProcess }> {
  const child = fork(path.join(__dirname, 'benchWorker.js'), [], { execArgv: ['--expose-gc'], env: process.env, stdio: 'inherit' });
  const answers: Array<(answer: BenchAnswer) => void> = [];
  child.on('message', (answer: BenchAnswer) => answers.shift()?.(answer));
  const next = () =>
    new Promise<BenchAnswer>((resolve, reject) => {
      answers.push((answer) => (answer.kind === 'failed' ? reject(new Error(answer.error)) : resolve(answer)));
    });
  await next();
  return {
    child,
    ask: (message) => {
      const answer = next();
      child.send(message);
      return answer;
    },
  };
}

async function inputFor(service: TestService, operation: OperationName, fixture: Fixture, count: number): Promise<OperationInput> {
  switch (operation) {
    case 'GET /api/me':
      return { sessionToken: fixture.sessionToken };
    case 'Microsoft sign-in':
      // Fresh each run: the service takes ID tokens issued within the last 10 minutes.
      return { idToken: idTokenFor(service, fixture.person) };
    case 'push check (new version)':
      return { apiKey: fixture.apiKey, packages: fixture.packages };
    case 'registration':
      return { idTokens: Array.from({ length: count }, () => idTokenFor(service, newPerson())) };
  }
}

interface Fixture {
  person: ReturnType<typeof newPerson>;
  sessionToken: string;
  apiKey: string;
  packages: string[];
}

async function prepare(service: TestService): Promise<Fixture> {
  const user = await register(service);
  const key = await createKey(service, user, { scopes: ['package:push', 'package:pushversion'] });
  const packages = Array.from({ length: 64 }, () => uniqueName('Bench.Pkg'));
  for (const id of packages) await pushOk(service, key, id);
  return { person: user.person, sessionToken: user.sessionToken, apiKey: key.key, packages };
}

interface CpuFigures {
  service: number;
  floor: number;
  ratio: number;
  cosmos: { service: number; floor: number };
}

async function measureCpu(
  service: TestService,
  fixture: Fixture,
  ask: (message: BenchMessage) => Promise<BenchAnswer>,
  operation: OperationName,
): Promise<CpuFigures> {
  const count = PER_RUN[operation];
  const runOnce = async (side: Side, runCount = count) => {
    const input = await inputFor(service, operation, fixture, runCount);
    const answer = await ask({ kind: 'run', side, operation, input, count: runCount });
    return (answer as Extract<BenchAnswer, { kind: 'ran' }>).cpuMicrosPerRequest;
  };
  const counted = async (side: Side) => {
    service.cosmos.reset();
    await runOnce(side, 20);
    return service.cosmos.documentRequests().length / 20;
  };
  // Warm-up: code compiled and optimised, connections open, keys fetched, on both sides.
  await runOnce('service');
  await runOnce('floor');
  const cosmos = { service: await counted('service'), floor: await counted('floor') };
  const figures: Array<{ service: number; floor: number }> = [];
  for (let run = 0; run < RUNS; run += 1) {
    // Alternate which goes first, so neither always inherits the other's leftovers.
    const [first, second]: Side[] = run % 2 === 0 ? ['service', 'floor'] : ['floor', 'service'];
    const a = await runOnce(first);
    const b = await runOnce(second);
    figures.push(first === 'service' ? { service: a, floor: b } : { service: b, floor: a });
  }
  return {
    service: median(figures.map((f) => f.service)),
    floor: median(figures.map((f) => f.floor)),
    ratio: median(figures.map((f) => f.service / f.floor)),
    cosmos,
  };
}

/** Requests per second with `clients` concurrent clients over keep-alive connections. */
async function throughput(baseUrl: string, operation: OperationName, input: OperationInput): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CLIENTS });
  const send = (i: number) => {
    const { method, path: requestPath, headers, body, expect } = requestFor(operation, input, i);
    const { host: _host, 'x-forwarded-for': _forwarded, ...clientHeaders } = headers;
    return new Promise<void>((resolve, reject) => {
      const req = http.request(`${baseUrl}${requestPath}`, { method, headers: clientHeaders, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === expect ? resolve() : reject(new Error(`${operation} over HTTP answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  };
  for (let i = 0; i < 200; i += 1) await send(i);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: HTTP_CLIENTS }, async () => {
      while (next < HTTP_REQUESTS) await send(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return HTTP_REQUESTS / seconds;
}

/**
 * Wall time of a fresh process, median of COLD_STARTS, the kinds interleaved so a busy moment hits all alike.
 * Asynchronous: the stand-ins the first request reads from answer from this process meanwhile.
 */
async function coldStarts(commands: Record<string, string[]>): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
  for (let i = 0; i < COLD_STARTS; i += 1) {
    for (const [name, args] of Object.entries(commands)) {
      const started = performance.now();
      await promisify(execFile)(process.execPath, args, { env: process.env });
      times[name].push(performance.now() - started);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([name, values]) => [name, median(values)]));
}

const micros = (value: number) => `${Math.round(value).toLocaleString('en-US')} µs`;

async function main(): Promise<void> {
  const service = await startTestService();
  const fixture = await prepare(service);
  const measured = await startMeasuredProcess();

  const cpu = new Map<OperationName, CpuFigures>();
  for (const operation of MEASURED) {
    cpu.set(operation, await measureCpu(service, fixture, measured.ask, operation));
    console.error(`${operation}: ${JSON.stringify(cpu.get(operation))}`);
  }

  const urls = (await measured.ask({ kind: 'serve' })) as Extract<BenchAnswer, { kind: 'serving' }>;
  const rates = new Map<OperationName, { service: number; floor: number }>();
  for (const operation of MEASURED.filter((name) => name !== 'registration')) {
    const input = await inputFor(service, operation, fixture, 0);
    rates.set(operation, { service: await throughput(urls.service, operation, input), floor: await throughput(urls.floor, operation, input) });
    console.error(`${operation} over HTTP: ${JSON.stringify(rates.get(operation))}`);
  }
  measured.child.kill();

  const entry = path.join(__dirname, 'coldStart.js');
  const cold = COLD_STARTS === 0 ? undefined : await coldStarts({
    bare: ['-e', ''],
    load: [entry, 'load'],
    firstRequest: [entry, 'me', fixture.sessionToken],
  });
  await service.stop();

  console.log(`\n${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}).`);
  console.log(`CPU per request: median of ${RUNS} runs of each, one request at a time; ratio: median of the pairs' own ratios.\n`);
  console.log('| operation | CPU per request, this service | floor | ratio | Cosmos requests (service / floor) | req/s at 16 clients over HTTP (service / floor) |');
  console.log('|---|---|---|---|---|---|');
  for (const operation of MEASURED) {
    const figures = cpu.get(operation)!;
    const rate = rates.get(operation);
    console.log(
      `| ${operation} | ${micros(figures.service)} | ${micros(figures.floor)} | ${figures.ratio.toFixed(2)}× | ${figures.cosmos.service} / ${figures.cosmos.floor} | ${rate ? `${Math.round(rate.service)} / ${Math.round(rate.floor)}` : '—'} |`,
    );
  }
  if (!cold) return;
  console.log(
    `\nCold start (median of ${COLD_STARTS} fresh processes): bare Node ${cold.bare.toFixed(0)} ms; loading the function app ` +
      `${(cold.load - cold.bare).toFixed(0)} ms over bare Node; the first authenticated request (load, Cosmos DB SDK, first point read) ` +
      `answered ${(cold.firstRequest - cold.bare).toFixed(0)} ms over bare Node.`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
