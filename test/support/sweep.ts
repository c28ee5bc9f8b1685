import { useTestService, type TestService } from './service';
import { register } from './people';
import { createKey } from './packages';

/** What a sweep over every route needs: a session, an API key, and the OpenAPI document that lists the routes. */
export interface SweepFixture {
  sessionToken: string;
  apiKey: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the OpenAPI document is walked as plain JSON
  openApi: any;
}

export async function sweepFixture(service: TestService): Promise<SweepFixture> {
  const user = await register(service);
  const apiKey = (await createKey(service, user)).key;
  const openApi = (await service.call('GET', '/api/openapi.json')).body;
  return { sessionToken: user.sessionToken, apiKey, openApi };
}

export interface Sweep extends SweepFixture {
  service: TestService;
}

/** Runs the service for a file that sweeps every route, with its fixture ready before the first test. */
export function useSweep(): Sweep {
  const sweep = {} as Sweep;
  useTestService((service) => {
    sweep.service = service;
  });
  beforeAll(async () => {
    Object.assign(sweep, await sweepFixture(sweep.service));
  });
  return sweep;
}
