import type { TestService } from './service';
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
