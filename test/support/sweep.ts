import { uniqueName } from './people';
import { useTestService, type ApiResponse, type TestServiceHandle } from './service';

/** What a sweep over every route needs: sessions, an API key, and the OpenAPI document that lists the routes. */
export interface SweepFixture {
  sessionToken: string;
  /** A site admin's session, for the routes only site admins reach. */
  siteAdminToken: string;
  apiKey: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the OpenAPI document is walked as plain JSON
  openApi: any;
}

export interface Sweep extends SweepFixture {
  service: TestServiceHandle;
}

const SITE_ADMIN = uniqueName('sweep-admin');

/**
 * Runs the service for a file that sweeps every route; like the service handle, the sweep is returned at
 * once and its fixture filled in before the first test.
 */
export function useSweep(): Sweep {
  const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });
  const sweep = { service } as Sweep;
  beforeAll(async () => {
    const user = await service.register();
    const siteAdmin = await service.register(undefined, SITE_ADMIN);
    const apiKey = (await service.createKey(user)).key;
    const openApi = (await service.call('GET', '/api/openapi.json')).body;
    Object.assign(sweep, { sessionToken: user.sessionToken, siteAdminToken: siteAdmin.sessionToken, apiKey, openApi });
  });
  return sweep;
}

/**
 * The session a route's documented security asks for: a site admin's where the requirement names the
 * `site_admin` role (so the sweep reaches what such a route does with its input), anyone's otherwise.
 */
export function sessionFor(sweep: SweepFixture, security: Array<Record<string, string[]>> | undefined): string {
  return security?.some((scheme) => scheme.session?.includes('site_admin')) ? sweep.siteAdminToken : sweep.sessionToken;
}

/**
 * Whether an operation answers its errors in the shape of NuGet.org's token API, `{ error }` (POST /v2/token,
 * which NuGet's clients read), as its documented 400 says, rather than as RFC 9457 problems.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the OpenAPI document is walked as plain JSON
export const answersNuGetErrors = (operation: any): boolean => Boolean(operation?.responses?.['400']?.content?.['application/json']?.schema?.properties?.error);

/** What an error answer says: a problem's `detail`, or the `error` of NuGet's shape. */
export const sentenceOf = (response: Pick<ApiResponse, 'body'>): string => response.body?.detail ?? response.body?.error ?? '';
