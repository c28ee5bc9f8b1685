/** The operations `npm run bench` and `npm run soak` put load on, the way the frontend and the pipeline call them. */
import type { TestService } from '../support/service';
import { idTokenFor, newPerson, register, uniqueName } from '../support/people';
import { createKey, pushOk } from '../support/packages';

export interface Result {
  rps: number;
  p50: number;
  p99: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `total` calls of `operation`, `concurrency` at a time; fails loudly on any unexpected answer. */
export async function measure(operation: (i: number) => Promise<void>, concurrency: number, total: number): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await operation(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: total / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

function expectStatus(status: number, wanted: number, what: string): void {
  if (status !== wanted) throw new Error(`${what} answered ${status}, not ${wanted}`);
}

export const OPERATION_NAMES = ['GET /api/me', 'Microsoft sign-in', 'push check (new version)', 'registration'] as const;

export async function operations(service: TestService) {
  const user = await register(service);
  const signInToken = idTokenFor(service, user.person);
  const key = await createKey(service, user, { scopes: ['package:push', 'package:pushversion'] });
  const packages = Array.from({ length: 64 }, () => uniqueName('Bench.Pkg'));
  for (const id of packages) await pushOk(service, key, id);
  let version = 0;
  const preMinted: string[] = [];
  const registrationToken = () => preMinted.pop() ?? idTokenFor(service, newPerson());
  return {
    mint: (count: number) => {
      for (let i = 0; i < count; i += 1) preMinted.push(idTokenFor(service, newPerson()));
    },
    'GET /api/me': async () => expectStatus((await service.call('GET', '/api/me', { token: user.sessionToken })).status, 200, 'GET /api/me'),
    'Microsoft sign-in': async () =>
      expectStatus((await service.call('POST', '/api/auth/microsoft', { body: { idToken: signInToken } })).status, 200, 'sign-in'),
    'push check (new version)': async (i: number) => {
      version += 1;
      const response = await service.call('PUT', '/api/packages', {
        headers: { 'X-NuGet-ApiKey': key.key },
        body: { id: packages[i % packages.length], version: `1.0.${version}` },
      });
      expectStatus(response.status, 200, 'push');
    },
    registration: async () => {
      const response = await service.call('POST', '/api/accounts', { body: { idToken: registrationToken(), username: uniqueName('bench') } });
      expectStatus(response.status, 201, 'registration');
    },
  };
}

