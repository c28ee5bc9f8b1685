import { useTestService, type TestServiceHandle } from './service';

/** What a sweep over every route needs: a session, an API key, and the OpenAPI document that lists the routes. */
export interface SweepFixture {
  sessionToken: string;
  apiKey: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the OpenAPI document is walked as plain JSON
  openApi: any;
}

export interface Sweep extends SweepFixture {
  service: TestServiceHandle;
}

/**
 * Runs the service for a file that sweeps every route; like the service handle, the sweep is returned at
 * once and its fixture filled in before the first test.
 */
export function useSweep(): Sweep {
  const service = useTestService();
  const sweep = { service } as Sweep;
  beforeAll(async () => {
    const user = await service.register();
    const apiKey = (await service.createKey(user)).key;
    const openApi = (await service.call('GET', '/api/openapi.json')).body;
    Object.assign(sweep, { sessionToken: user.sessionToken, apiKey, openApi });
  });
  return sweep;
}
