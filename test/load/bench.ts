/**
 * `npm run bench`: what each hot operation costs in CPU, next to a floor measured in the same run.
 *
 * - CPU per request: a process of its own (test/load/benchWorker.ts) loads the function app as the Functions
 *   worker does and invokes the registered handlers as the worker does (local/worker.ts: the trigger's data as
 *   the host sends it, then `@azure/functions`' own invocation model builds the HttpRequest and the
 *   InvocationContext and turns the answer into bytes). Beside it runs the floor (test/load/floor.ts): the same
 *   Cosmos DB requests with the same SDKs and nothing else. One more row: a handler that does nothing, registered
 *   and invoked as ours are, against nothing done by hand: the invocation model's own cost. `process.cpuUsage()` around a run of a few hundred
 *   requests, one at a time, gives the CPU per request; service and floor alternate, run after run, and the
 *   table shows medians and the median of the ratios of the pairs of runs. The stand-ins (Cosmos DB, Communication Services, the identity
 *   platform) run in this process, so their work is not counted.
 * - Cosmos DB requests per operation, counted at the stand-in (keep-alive, as Cosmos DB is).
 * - Throughput at 16 concurrent clients over HTTP: the local host serving the app, and the floor behind a bare
 *   node:http server, both in the measured process.
 * - Cold start: a fresh `node` loading the app as the worker does, and one answering a first authenticated
 *   request (which loads the Cosmos DB SDK and makes the first point read), each minus a bare `node -e ''`.
 * - Cost against size: a push into a package already holding 10, 1,000, 10,000 and 100,000 versions, and
 *   `GET /api/me` for an account that made 1 key and one that made 10,000, each against the smallest of its kind:
 *   CPU per request as above, and the Cosmos DB requests and the bytes they carried, counted at the stand-in (it
 *   charges 1 request unit a request, whatever it reads or writes). The data is written straight to the store in
 *   the service's shape (the keys as accounts stored them before, then moved by the service's own timer), and each
 *   run's pushes are taken off again, so every run pushes into a package of the size its row says.
 *   `BENCH_SIZES_ONLY=1` measures this table alone.
 *
 * `BENCH_CPU_PROFILE_DIR=dir`: the measured process writes its CPU profile there (`node --cpu-prof`) as it ends.
 */
import { execFile, fork } from 'node:child_process';
import { promisify } from 'node:util';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startTestService, type TestService } from '../support/service';
import { idTokenFor, newPerson, register, uniqueName } from '../support/people';
import { createKey, pushOk, storeApiKeysOnDocument, storeVersionItems } from '../support/packages';
import { container } from '../../lib/shared/storage/cosmos';
import type { BenchAnswer, BenchMessage, Side } from './benchWorker';
import { DOING_NOTHING, OPERATIONS, requestFor, type BenchedName, type OperationInput, type OperationName } from './requests';

/** Pairs of runs (service, floor): many short ones, so a busy moment of a shared machine hits both sides alike. */
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
/** Requests a run: about a third of a second of CPU each. */
const PER_RUN: Record<BenchedName, number> = {
  'GET /api/me': 400,
  'Microsoft sign-in': 150,
  'push check (new version)': 150,
  registration: 40,
  [DOING_NOTHING]: 1500,
};
const HTTP_CLIENTS = 16;
const HTTP_REQUESTS = 3000;
const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 10);
/** BENCH_SIZES_ONLY=1: only the table of cost against size. */
const SIZES_ONLY = process.env.BENCH_SIZES_ONLY === '1';
/**
 * While working on one operation: BENCH_OPERATIONS='GET /api/me' measures only it, without the table of cost against
 * size (and BENCH_COLD_STARTS=0 skips the cold starts).
 */
const BENCHED: BenchedName[] = [...OPERATIONS, DOING_NOTHING];
const MEASURED = SIZES_ONLY
  ? []
  : BENCHED.filter((operation) => !process.env.BENCH_OPERATIONS || process.env.BENCH_OPERATIONS.split(',').includes(operation));
const MEASURE_SIZES = SIZES_ONLY || !process.env.BENCH_OPERATIONS;
/** The sizes of the table: versions a package already holds, and keys an account made. */
const VERSIONS_HELD = [10, 1_000, 10_000, 100_000];
const KEYS_MADE = 10_000;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The measured process, and a way to ask it for work. */
async function startMeasuredProcess(): Promise<{ ask(message: BenchMessage): Promise<BenchAnswer>; stop(): Promise<void> }> {
  const profile = process.env.BENCH_CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE_DIR}`] : [];
  const child = fork(path.join(__dirname, 'benchWorker.js'), [], { execArgv: ['--expose-gc', ...profile], env: process.env, stdio: 'inherit' });
  const answers: Array<(answer: BenchAnswer) => void> = [];
  child.on('message', (answer: BenchAnswer) => answers.shift()?.(answer));
  const next = () =>
    new Promise<BenchAnswer>((resolve, reject) => {
      answers.push((answer) => (answer.kind === 'failed' ? reject(new Error(answer.error)) : resolve(answer)));
    });
  await next();
  return {
    // Let go of it, and it exits (writing its profile, if asked to).
    stop: () => new Promise<void>((resolve) => child.once('exit', () => resolve()).disconnect()),
    ask: (message) => {
      const answer = next();
      child.send(message);
      return answer;
    },
  };
}

async function inputFor(service: TestService, operation: BenchedName, fixture: Fixture, count: number): Promise<OperationInput> {
  switch (operation) {
    case 'GET /api/me':
    case DOING_NOTHING:
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
  /** The session of an account that made one key: `apiKey`. */
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

type Ran = Extract<BenchAnswer, { kind: 'ran' }>;

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
  operation: BenchedName,
): Promise<CpuFigures> {
  const count = PER_RUN[operation];
  const runOnce = async (side: Side, runCount = count) => {
    const input = await inputFor(service, operation, fixture, runCount);
    const answer = await ask({ kind: 'run', side, operation, input, count: runCount });
    return (answer as Ran).cpuMicrosPerRequest;
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

// ---------------------------------------------------------------------------------------------------------
// Cost against size
// ---------------------------------------------------------------------------------------------------------

/** One row of the size table: an operation on data of one size. */
interface SizeCase {
  name: string;
  /** The row the others of its kind are set against: the smallest. */
  smallest: string;
  operation: OperationName;
  input(run: number): OperationInput;
  /** Puts the data back as it was before a run (a push adds versions). */
  afterRun?(run: number, count: number): Promise<void>;
}

/** Versions as nightly builds are numbered, about as long as those that filled the package document before. */
const ciVersion = (i: number) => `1.2.3-ci.20261206.${i}`;

/**
 * A package of each size in VERSIONS_HELD: its first version pushed, the rest written straight to the store as the
 * push writes them (test/support/packages.ts). Run `run` pushes `9.{run}.{i}` into it, which are taken off after.
 */
async function packageCases(service: TestService, fixture: Fixture): Promise<SizeCase[]> {
  const cases: SizeCase[] = [];
  const label = (held: number) => `push into a package holding ${held.toLocaleString('en-US')} versions`;
  for (const held of VERSIONS_HELD) {
    const id = uniqueName('Bench.Size');
    await pushOk(service, fixture.apiKey, id, ciVersion(0));
    await storeVersionItems(id, Array.from({ length: held - 1 }, (_, i) => ({ version: ciVersion(i + 1) })));
    const stem = (run: number) => `9.${run}`;
    cases.push({
      name: label(held),
      smallest: label(VERSIONS_HELD[0]),
      operation: 'push check (new version)',
      input: (run) => ({ apiKey: fixture.apiKey, packages: [id], versionStem: stem(run) }),
      afterRun: async (run, count) => {
        const pushed = Array.from({ length: count }, (_, i) => `${stem(run)}.${i}`);
        for (let i = 0; i < pushed.length; i += 50) {
          await Promise.all(pushed.slice(i, i + 50).map((version) => container('packageVersions').item(version, id.toLowerCase()).delete()));
        }
      },
    });
  }
  return cases;
}

/**
 * `GET /api/me` for the fixture's account, which made one key, and for one that made KEYS_MADE: stored on its
 * document as accounts kept them before, then moved to items of their own by the service's timer, as it moves them.
 */
async function accountCases(service: TestService, fixture: Fixture): Promise<SizeCase[]> {
  const many = await register(service);
  await storeApiKeysOnDocument({ id: many.account.id, username: many.username }, KEYS_MADE);
  await service.host.runTimer('moveApiKeyLists');
  const { resource: document } = await container('accounts').item(many.account.id, many.account.id).read();
  if (document.apiKeyIds !== undefined) throw new Error('moveApiKeyLists left the keys on the account document');
  const one = 'GET /api/me, an account that made 1 key';
  return [
    { name: one, smallest: one, operation: 'GET /api/me', input: () => ({ sessionToken: fixture.sessionToken }) },
    { name: `GET /api/me, an account that made ${KEYS_MADE.toLocaleString('en-US')} keys`, smallest: one, operation: 'GET /api/me', input: () => ({ sessionToken: many.sessionToken }) },
  ];
}

interface SizeFigures {
  cpu: number;
  /** Median of the runs' own ratios to the smallest case of its kind. */
  ratio: number;
  requests: number;
  bytes: { sent: number; answered: number };
  answerBytes: number;
}

/**
 * Each case run after run, the cases in turn (forwards, then backwards), so a busy moment of a shared machine hits
 * all alike: run 0 warms up, run 1 (20 requests) is counted at the stand-in, the next RUNS are measured.
 */
async function measureSizes(service: TestService, ask: (message: BenchMessage) => Promise<BenchAnswer>, cases: SizeCase[]): Promise<Map<SizeCase, SizeFigures>> {
  const runOnce = async (sizeCase: SizeCase, run: number, count = PER_RUN[sizeCase.operation]) => {
    const answer = (await ask({ kind: 'run', side: 'service', operation: sizeCase.operation, input: sizeCase.input(run), count })) as Ran;
    return { answer, afterwards: () => sizeCase.afterRun?.(run, count) };
  };
  for (const sizeCase of cases) await (await runOnce(sizeCase, 0)).afterwards();
  const counted = new Map<SizeCase, Omit<SizeFigures, 'cpu' | 'ratio'>>();
  for (const sizeCase of cases) {
    service.cosmos.reset();
    const { answer, afterwards } = await runOnce(sizeCase, 1, 20);
    const { sent, answered } = service.cosmos.documentBytes();
    counted.set(sizeCase, { requests: service.cosmos.documentRequests().length / 20, bytes: { sent: sent / 20, answered: answered / 20 }, answerBytes: answer.answerBytesPerRequest });
    await afterwards();
  }
  const runs: Array<Map<string, number>> = [];
  for (let run = 2; run < RUNS + 2; run += 1) {
    const cpu = new Map<string, number>();
    for (const sizeCase of run % 2 === 0 ? cases : [...cases].reverse()) {
      const { answer, afterwards } = await runOnce(sizeCase, run);
      cpu.set(sizeCase.name, answer.cpuMicrosPerRequest);
      await afterwards();
    }
    runs.push(cpu);
  }
  return new Map(
    cases.map((sizeCase) => [
      sizeCase,
      {
        cpu: median(runs.map((run) => run.get(sizeCase.name)!)),
        ratio: median(runs.map((run) => run.get(sizeCase.name)! / run.get(sizeCase.smallest)!)),
        ...counted.get(sizeCase)!,
      },
    ]),
  );
}

const micros = (value: number) => `${Math.round(value).toLocaleString('en-US')} µs`;
const byteCount = (value: number) => `${Math.round(value).toLocaleString('en-US')} B`;

function printSizes(figures: Map<SizeCase, SizeFigures>): void {
  console.log(`\nCost against size: median of ${RUNS} runs of each, one request at a time; against the smallest: median of the runs' own ratios.\n`);
  console.log('| | CPU per request | against the smallest | Cosmos DB requests | bytes sent to / answered by Cosmos DB | answer |');
  console.log('|---|---|---|---|---|---|');
  for (const [sizeCase, f] of figures) {
    console.log(
      `| ${sizeCase.name} | ${micros(f.cpu)} | ${f.ratio.toFixed(2)}× | ${f.requests} | ${byteCount(f.bytes.sent)} / ${byteCount(f.bytes.answered)} | ${byteCount(f.answerBytes)} |`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const service = await startTestService();
  const fixture = await prepare(service);
  const sizeCases = MEASURE_SIZES ? [...(await packageCases(service, fixture)), ...(await accountCases(service, fixture))] : [];
  const measured = await startMeasuredProcess();

  const cpu = new Map<BenchedName, CpuFigures>();
  for (const operation of MEASURED) {
    cpu.set(operation, await measureCpu(service, fixture, measured.ask, operation));
    console.error(`${operation}: ${JSON.stringify(cpu.get(operation))}`);
  }
  const sizes = await measureSizes(service, measured.ask, sizeCases);

  const rates = new Map<BenchedName, { service: number; floor: number }>();
  const overHttp = MEASURED.filter((name): name is Exclude<OperationName, 'registration'> => name !== 'registration' && name !== DOING_NOTHING);
  if (overHttp.length > 0) {
    const urls = (await measured.ask({ kind: 'serve' })) as Extract<BenchAnswer, { kind: 'serving' }>;
    for (const operation of overHttp) {
      const input = await inputFor(service, operation, fixture, 0);
      rates.set(operation, { service: await throughput(urls.service, operation, input), floor: await throughput(urls.floor, operation, input) });
      console.error(`${operation} over HTTP: ${JSON.stringify(rates.get(operation))}`);
    }
  }
  await measured.stop();

  const entry = path.join(__dirname, 'coldStart.js');
  const cold = COLD_STARTS === 0 || SIZES_ONLY ? undefined : await coldStarts({
    bare: ['-e', ''],
    load: [entry, 'load'],
    firstRequest: [entry, 'me', fixture.sessionToken],
  });
  await service.stop();

  console.log(`\n${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}).`);
  if (MEASURED.length > 0) {
    console.log(`CPU per request: median of ${RUNS} runs of each, one request at a time; ratio: median of the pairs' own ratios.\n`);
    console.log('| operation | CPU per request, this service | floor | ratio | Cosmos requests (service / floor) | req/s at 16 clients over HTTP (service / floor) |');
    console.log('|---|---|---|---|---|---|');
    for (const operation of MEASURED) {
      const figures = cpu.get(operation)!;
      const rate = rates.get(operation);
      // Set against nothing, a ratio says nothing: the difference is the figure.
      const ratio = operation === DOING_NOTHING ? '—' : `${figures.ratio.toFixed(2)}×`;
      console.log(
        `| ${operation} | ${micros(figures.service)} | ${micros(figures.floor)} | ${ratio} | ${figures.cosmos.service} / ${figures.cosmos.floor} | ${rate ? `${Math.round(rate.service)} / ${Math.round(rate.floor)}` : '—'} |`,
      );
    }
    const nothing = cpu.get(DOING_NOTHING);
    if (nothing) console.log(`\nThe invocation model's own CPU: ${micros(nothing.service - nothing.floor)} an invocation (the handler doing nothing, less nothing done by hand).`);
  }
  if (sizes.size > 0) printSizes(sizes);
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
