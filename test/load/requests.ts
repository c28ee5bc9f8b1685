/**
 * The hot operations of `npm run bench`, as requests: what a client sends, with the headers the platform's
 * front end adds on the way to the Functions host, so the service and the floor read the same input.
 */
export const OPERATIONS = ['GET /api/me', 'Microsoft sign-in', 'push check (new version)', 'registration'] as const;
export type OperationName = (typeof OPERATIONS)[number];

/**
 * Not an operation of the service: a handler that does nothing, registered with `@azure/functions` and invoked as the
 * worker invokes ours, on `GET /api/me`'s request. What it costs is the invocation model's own (test/load/benchWorker.ts).
 */
export const DOING_NOTHING = 'a handler doing nothing';
export const DOING_NOTHING_ROUTE = 'bench/nothing';
/** What `npm run bench` measures a row of: an operation, or the invocation model alone. */
export type BenchedName = OperationName | typeof DOING_NOTHING;

/** What the orchestrator hands the measured process for one run of an operation. */
export interface OperationInput {
  sessionToken?: string;
  idToken?: string;
  /** Registration: one fresh ID token a request. */
  idTokens?: string[];
  apiKey?: string;
  packages?: string[];
  /**
   * Push: the `i`th request of the run pushes `{versionStem}.{i}`, so the orchestrator knows which versions a run added
   * (and can take them off again); without it, versions no other push used.
   */
  versionStem?: string;
}

export interface BenchRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The status a correct answer has. */
  expect: number;
}

let versions = 0;

/** Headers Azure's front end and the Functions host pass on with every request (as a function sees them). */
function platformHeaders(body: Buffer | undefined): Record<string, string> {
  return {
    host: 'gallery-accounts.azurewebsites.net',
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    accept: 'application/json',
    'accept-encoding': 'gzip, deflate, br',
    'max-forwards': '10',
    'x-forwarded-for': '203.0.113.7:51234',
    'x-forwarded-proto': 'https',
    'x-arr-ssl': '2048|256|CN=Microsoft Azure RSA TLS Issuing CA 03|CN=*.azurewebsites.net',
    'x-site-deployment-id': 'gallery-accounts',
    'x-original-url': '/api',
    'client-ip': '203.0.113.7:51234',
    'disguised-host': 'gallery-accounts.azurewebsites.net',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
  };
}

function request(method: string, path: string, headers: Record<string, string>, body: unknown, expect: number): BenchRequest {
  const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return { method, path, headers: { ...platformHeaders(bytes), ...headers }, body: bytes, expect };
}

/** The `i`th request of a run of `operation`. */
export function requestFor(operation: BenchedName, input: OperationInput, i: number): BenchRequest {
  switch (operation) {
    case 'GET /api/me':
      return request('GET', '/api/me', { authorization: `Bearer ${input.sessionToken}` }, undefined, 200);
    case DOING_NOTHING:
      return request('GET', `/api/${DOING_NOTHING_ROUTE}`, { authorization: `Bearer ${input.sessionToken}` }, undefined, 200);
    case 'Microsoft sign-in':
      return request('POST', '/api/auth/microsoft', {}, { idToken: input.idToken }, 200);
    case 'push check (new version)': {
      versions += 1;
      const id = input.packages![i % input.packages!.length];
      const version = input.versionStem === undefined ? `1.0.${process.pid}.${versions}` : `${input.versionStem}.${i}`;
      return request('PUT', '/api/packages', { 'x-nuget-apikey': input.apiKey! }, { id, version }, 200);
    }
    case 'registration':
      return request('POST', '/api/accounts', {}, { idToken: input.idTokens![i], username: `bench-${process.pid}-${(versions += 1)}` }, 201);
  }
}
