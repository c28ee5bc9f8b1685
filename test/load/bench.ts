/**
 * `npm run bench`: throughput and latency of the hot operations on the local host against the Cosmos DB
 * stand-in, each next to a bare `@azure/cosmos` point read against the same stand-in, so figures compare
 * across machines; Cosmos DB requests per operation, counted at the stand-in; and the time to load the
 * function app into a fresh Node process next to bare Node.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { CosmosClient } from '@azure/cosmos';
import { startTestService } from '../support/service';
import { register } from '../support/people';
import { measure, OPERATION_NAMES, operations } from './workload';

const LEVELS = [1, 16, 64];
const REQUESTS_AT = (concurrency: number) => (concurrency === 1 ? 150 : concurrency * 25);

function loadTime(args: string[], env: NodeJS.ProcessEnv, runs = 5): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    execFileSync(process.execPath, args, { env, stdio: 'ignore' });
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

async function main(): Promise<void> {
  const service = await startTestService();
  const ops = await operations(service);
  const { COSMOS_ENDPOINT, COSMOS_KEY, COSMOS_DATABASE } = process.env;
  const bare = new CosmosClient({ endpoint: COSMOS_ENDPOINT!, key: COSMOS_KEY!, connectionPolicy: { enableEndpointDiscovery: false } })
    .database(COSMOS_DATABASE!)
    .container('accounts');
  const someAccount = (await service.call('GET', '/api/me', { token: (await register(service)).sessionToken })).body.id as string;
  const pointRead = async () => {
    await bare.item(someAccount, someAccount).read();
  };
  await measure(pointRead, 16, 200);

  const names = OPERATION_NAMES;
  const cosmosRequests: Record<string, number> = {};
  for (const name of names) {
    ops.mint(20);
    await measure(ops[name], 1, 5);
    service.cosmos.reset();
    await measure(ops[name], 1, 20);
    cosmosRequests[name] = service.cosmos.documentRequests().length / 20;
  }

  console.log(`\nNode ${process.version}, ${require('node:os').cpus().length} cores; load generator and host in one process.\n`);
  console.log('| operation | clients | req/s | p50 ms | p99 ms | p50 ÷ point read p50 | Cosmos requests |');
  console.log('|---|---|---|---|---|---|---|');
  for (const concurrency of LEVELS) {
    const baseline = await measure(pointRead, concurrency, REQUESTS_AT(concurrency));
    console.log(
      `| bare point read | ${concurrency} | ${baseline.rps.toFixed(0)} | ${baseline.p50.toFixed(2)} | ${baseline.p99.toFixed(2)} | 1.0 | 1 |`,
    );
    for (const name of names) {
      ops.mint(name === 'registration' ? REQUESTS_AT(concurrency) : 0);
      const result = await measure(ops[name], concurrency, REQUESTS_AT(concurrency));
      console.log(
        `| ${name} | ${concurrency} | ${result.rps.toFixed(0)} | ${result.p50.toFixed(2)} | ${result.p99.toFixed(2)} | ${(result.p50 / baseline.p50).toFixed(1)} | ${cosmosRequests[name]} |`,
      );
    }
  }

  const root = path.resolve(__dirname, '..', '..');
  const bareNode = loadTime(['-e', '0'], process.env);
  const app = loadTime(['-e', `require(${JSON.stringify(path.join(root, 'local', 'host.js'))}).loadFunctionApp()`], process.env);
  console.log(`\nLoading the function app into a fresh Node process: ${app.toFixed(0)} ms (bare Node: ${bareNode.toFixed(0)} ms; median of 5).`);
  await service.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
