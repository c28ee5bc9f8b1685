/**
 * `npm run soak`: a few minutes of moderate mixed load (SOAK_SECONDS, default 180; 8 clients) on the local
 * host against the stand-ins. Prints the heap after a forced collection every 15 seconds and the error
 * count; exits non-zero on any error or on a heap that keeps growing.
 */
import { startTestService } from '../test/support/service';
import { OPERATION_NAMES, operations } from './workload';

const CLIENTS = 8;
const SAMPLE_EVERY_MS = 15_000;

function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function main(): Promise<void> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 180);
  const service = await startTestService();
  const ops = await operations(service);
  const deadline = Date.now() + seconds * 1000;
  const samples: number[] = [heapMiB()];
  let completed = 0;
  const errors: string[] = [];
  const sampler = setInterval(() => {
    samples.push(heapMiB());
    console.log(`${Math.round((Date.now() - deadline) / 1000 + seconds)} s: ${completed} requests, heap ${samples.at(-1)!.toFixed(1)} MiB, ${errors.length} errors`);
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
  await service.stop();
  // Growth between the first sample under load and the last: a leak grows with the requests served.
  const warm = samples[1] ?? samples[0];
  const growth = (samples.at(-1)! - warm) / warm;
  console.log(`\n${completed} requests in ${seconds} s, ${errors.length} errors; heap ${warm.toFixed(1)} → ${samples.at(-1)!.toFixed(1)} MiB (${(growth * 100).toFixed(0)}%).`);
  if (errors.length > 0) console.log(errors.slice(0, 10).join('\n'));
  if (errors.length > 0 || growth > 0.5) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
