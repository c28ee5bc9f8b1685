/**
 * `npm run soak`: a few minutes of moderate mixed load (SOAK_SECONDS, default 180; 8 clients) on the
 * service in a process of its own (what `npm start` runs), with the stand-ins in this one so their growing
 * data does not count. Prints the service's resident memory every 15 seconds and the error count; exits
 * non-zero on any error or on memory that keeps growing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { callerFor, startTestService } from '../support/service';
import { startServiceProcess } from '../support/process';
import { OPERATION_NAMES, operations } from './workload';

const CLIENTS = 8;
const SAMPLE_EVERY_MS = 15_000;

function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function main(): Promise<void> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 180);
  const standIns = await startTestService();
  const { url, process: child } = await startServiceProcess(path.join(__dirname, '..', '..', 'local', 'start.js'), process.env);
  const ops = await operations({ ...standIns, call: callerFor(url) });
  const deadline = Date.now() + seconds * 1000;
  const samples: number[] = [];
  let completed = 0;
  const errors: string[] = [];
  const sampler = setInterval(() => {
    samples.push(residentMiB(child.pid!));
    standIns.cosmos.reset();
    console.log(`${samples.length * 15} s: ${completed} requests, service memory ${samples.at(-1)!.toFixed(1)} MiB, ${errors.length} errors`);
  }, SAMPLE_EVERY_MS);
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let i = client; Date.now() < deadline; i += CLIENTS) {
        const name = OPERATION_NAMES[i % OPERATION_NAMES.length];
        try {
          await ops[name](i);
          completed += 1;
        } catch (error) {
          errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }),
  );
  clearInterval(sampler);
  child.kill();
  await standIns.stop();
  // From the second minute on the heap has warmed up; a leak keeps growing with the requests served.
  const warm = samples[Math.min(3, samples.length - 1)];
  const last = samples.at(-1)!;
  const growth = (last - warm) / warm;
  console.log(`\n${completed} requests in ${seconds} s, ${errors.length} errors; service memory ${warm.toFixed(1)} → ${last.toFixed(1)} MiB (${(growth * 100).toFixed(0)}%) after warming up.`);
  if (errors.length > 0) console.log(errors.slice(0, 10).join('\n'));
  if (errors.length > 0 || growth > 0.25) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
