import http from 'node:http';
import { MAX_BODY_BYTES } from '../lib/http/operation';
import { PROBLEMS, problemType, type ProblemCode } from '../lib/shared/problems';
import { FRONTEND_ORIGIN, type ApiResponse } from './support/service';
import { register } from './support/people';
import { answersNuGetErrors, sentenceOf, sessionFor, useSweep } from './support/sweep';

/* eslint-disable @typescript-eslint/no-explicit-any -- the OpenAPI document is walked as plain JSON */

const sweep = useSweep();

interface HttpRoute {
  name: string;
  method: string;
  /** As the OpenAPI document writes it: `/` + the route template. */
  template: string;
  /** What a client calls, path parameters filled in. */
  path: string;
}

/** The example the OpenAPI document gives a path parameter: a value its schema accepts. */
function parameterExample(template: string, method: string, name: string): string {
  const parameters: any[] = sweep.openApi.paths?.[template]?.[method.toLowerCase()]?.parameters ?? [];
  return parameters.find((p) => p.in === 'path' && p.name === name)?.schema?.examples?.[0] ?? 'sample-value';
}

/** Every (method, route) the host serves, read from the registrations so a new route is covered at once. */
function httpRoutes(): HttpRoute[] {
  return sweep.service.host.functions
    .filter((fn) => /^httpTrigger$/i.test(fn.trigger.type))
    .flatMap((fn) => {
      const route = fn.trigger.route ?? fn.name;
      return (fn.trigger.methods ?? ['GET', 'POST']).map((method) => ({
        name: fn.name,
        method: method.toUpperCase(),
        template: `/${route}`,
        // `{id}`, `{id:constraint}`, `{id?}` and `{*rest}` all take a harmless value: the documented example.
        path: `/api/${route.replace(/\{\*?(\w+)(?::[^}?]+)?\??\}/g, (_all, name: string) => parameterExample(`/${route}`, method, name))}`,
      }));
    });
}

function documented(route: HttpRoute): any {
  return sweep.openApi.paths?.[route.template]?.[route.method.toLowerCase()];
}

/** Top-level fields the documented request body knows, across the shapes it may take. */
function documentedFields(route: HttpRoute): string[] {
  const schema = documented(route)?.requestBody?.content?.['application/json']?.schema;
  if (!schema) return [];
  const shapes: any[] = [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])];
  return shapes.flatMap((shape) => Object.keys(shape.properties ?? {}));
}

/** Routes a JSON body can be sent to: every POST, PUT and PATCH, and a DELETE that documents one. */
function routesTakingABody(): HttpRoute[] {
  return httpRoutes().filter(
    (route) => ['POST', 'PUT', 'PATCH'].includes(route.method) || (route.method === 'DELETE' && documented(route)?.requestBody),
  );
}

function needsApiKey(route: HttpRoute): boolean {
  return Boolean(documented(route)?.security?.some((scheme: object) => 'apiKey' in scheme));
}

function needsSession(route: HttpRoute): boolean {
  const security = documented(route)?.security;
  // An undocumented route gets a token too: hostile bodies must be refused either way.
  return security === undefined || (security.length > 0 && !needsApiKey(route));
}

/**
 * The credentials a route documents: a session token (a site admin's where it asks for one; any Bearer token
 * where it takes a CI provider's OIDC token) or an API key, so the body is what gets judged.
 */
const credentialsFor = (route: HttpRoute, token = sessionFor(sweep, documented(route)?.security)) => ({
  token: needsSession(route) ? token : undefined,
  headers: needsApiKey(route) ? { 'X-NuGet-ApiKey': sweep.apiKey } : undefined,
});

/** Stack frames, file paths and library or SDK wording: none of it belongs in an answer. */
const LEAKS = [
  /\bat \S+ \(/,
  /\.(?:ts|js):\d+/,
  /node_modules/,
  /\/work\//,
  /\\src\\|[A-Z]:\\/,
  /zod/i,
  /cosmos/i,
  /jsonwebtoken/i,
  /\bError\b/,
  /expected \w+, received/i,
  /Unexpected (?:token|end)/i,
  /JSON at position/i,
  /\bundefined\b|\bNaN\b|\[object Object\]/,
];

/** Everything wrong with a problem answer, as sentences naming the route, so one failure reads on its own. */
function problemComplaints(label: string, response: ApiResponse, code: ProblemCode): string[] {
  const complaints: string[] = [];
  const say = (what: string) => complaints.push(`${label}: ${what} (got ${response.status} ${response.text.slice(0, 300)})`);
  if (response.status >= 500) say('answered a server error');
  if (response.status !== PROBLEMS[code].status) say(`status is not ${PROBLEMS[code].status}`);
  if (!/^application\/problem\+json\b/.test(response.headers.get('content-type') ?? '')) {
    say(`content-type is ${response.headers.get('content-type')}, not application/problem+json`);
  }
  if (response.headers.get('cache-control') !== 'no-store') say('Cache-Control is not no-store');
  const body = response.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    say('the body is not a JSON object');
    return complaints;
  }
  if (JSON.stringify(Object.keys(body).sort()) !== JSON.stringify(['code', 'detail', 'status', 'title', 'type'])) {
    say(`the body's fields are ${Object.keys(body).join(', ')}, not type, title, status, detail, code`);
  }
  if (body.code !== code) say(`code is not ${code}`);
  if (body.status !== response.status) say('status in the body differs from the HTTP status');
  if (body.type !== problemType(code)) say(`type is not ${problemType(code)}`);
  if (body.title !== PROBLEMS[code].title) say('title is not the fixed title of its code');
  if (typeof body.detail !== 'string' || !/^[A-Z].*[.!]$/s.test(body.detail)) say('detail is not a sentence');
  for (const leak of LEAKS) if (leak.test(response.text)) say(`it shows internals (${leak})`);
  return complaints;
}

/**
 * Everything wrong with an error answer in NuGet.org's token API shape (the one route the contract gives
 * it): `{ error }` with a sentence, as JSON, under the status NuGet's clients expect, never cached, nothing
 * internal shown.
 */
function nugetComplaints(label: string, response: ApiResponse, status: number): string[] {
  const complaints: string[] = [];
  const say = (what: string) => complaints.push(`${label}: ${what} (got ${response.status} ${response.text.slice(0, 300)})`);
  if (response.status !== status) say(`status is not ${status}`);
  if (!/^application\/json\b/.test(response.headers.get('content-type') ?? '')) say(`content-type is ${response.headers.get('content-type')}, not application/json`);
  if (response.headers.get('cache-control') !== 'no-store') say('Cache-Control is not no-store');
  if (status === 401 && response.headers.get('www-authenticate') !== 'Bearer') say('a 401 without WWW-Authenticate: Bearer');
  if (JSON.stringify(Object.keys(response.body ?? {})) !== '["error"]') say('the body is not { error }');
  else if (typeof response.body.error !== 'string' || !/^[A-Z].*[.!]$/s.test(response.body.error)) say('error is not a sentence');
  for (const leak of LEAKS) if (leak.test(response.text)) say(`it shows internals (${leak})`);
  return complaints;
}

/**
 * What is wrong with the route's answer to a request it must refuse as `code`: a problem, or where the
 * route answers NuGet.org's shape, `{ error }` under 401 for what is 401 and 400 for any other refusal.
 */
function errorComplaints(route: HttpRoute, label: string, response: ApiResponse, code: ProblemCode): string[] {
  if (!answersNuGetErrors(documented(route))) return problemComplaints(label, response, code);
  return nugetComplaints(label, response, PROBLEMS[code].status === 401 ? 401 : 400);
}

async function send(route: HttpRoute, rawBody: string): Promise<ApiResponse> {
  const credentials = credentialsFor(route);
  return sweep.service.call(route.method, route.path, {
    rawBody,
    headers: { 'Content-Type': 'application/json', ...credentials.headers },
    token: credentials.token,
  });
}

describe('every route that takes a body refuses hostile input with a problem naming what is wrong', () => {
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(Object.prototype.constructor).toBe(Object);
  });

  it('sweeps the routes the host registered, including the known body-taking ones', () => {
    const swept = routesTakingABody().map((route) => `${route.method} ${route.template}`);
    expect(swept).toEqual(
      expect.arrayContaining(['POST /accounts', 'POST /auth/microsoft', 'POST /auth/confirm-email', 'PATCH /me', 'POST /auth/sign-out-everywhere', 'POST /v2/token']),
    );
    expect(routesTakingABody().filter((route) => answersNuGetErrors(documented(route))).map((route) => route.template)).toEqual(['/v2/token']);
  });

  const notAnObject: Array<[string, string]> = [
    ['malformed JSON', '{"idToken": "abc",'],
    ['JSON with trailing garbage', '{} {}'],
    ['a JSON array', '[{"idToken": "abc"}]'],
    ['null', 'null'],
    ['a JSON string', '"idToken"'],
    ['a JSON number', '5'],
    ['true', 'true'],
    ['arrays nested 30,000 deep', `${'['.repeat(30000)}${']'.repeat(30000)}`],
  ];

  it.each(notAnObject)('%s: 400 invalid_request', async (_label, rawBody) => {
    const complaints: string[] = [];
    for (const route of routesTakingABody()) {
      const response = await send(route, rawBody);
      const label = `${route.method} ${route.path}`;
      complaints.push(...errorComplaints(route, label, response, 'invalid_request'));
      if (/The field '/.test(sentenceOf(response))) complaints.push(`${label}: names a field of a body that has none`);
    }
    expect(complaints).toEqual([]);
  });

  const objects: Array<[string, string]> = [
    ['an unknown field', '{"unknownField": 1}'],
    ['__proto__ pollution', '{"__proto__": {"polluted": true}}'],
    ['constructor pollution', '{"constructor": {"prototype": {"polluted": true}}}'],
    ['a number for idToken', '{"idToken": 5}'],
    ['an object for token', '{"token": {"length": 43}}'],
    ['a boolean for emailAddress', '{"emailAddress": true}'],
    ['an array for username', '{"username": ["admin"]}'],
    ['null for username', '{"username": null}'],
    ['a $ne operator for username', '{"username": {"$ne": null}}'],
    ['a $gt operator for idToken', '{"idToken": {"$gt": ""}}'],
    ['a $regex operator for token', '{"token": {"$regex": ".*"}}'],
  ];

  it.each(objects)('%s: 400 invalid_request naming the field', async (_label, rawBody) => {
    const sent = Object.keys(JSON.parse(rawBody) as object);
    const complaints: string[] = [];
    for (const route of routesTakingABody()) {
      const response = await send(route, rawBody);
      const label = `${route.method} ${route.path}`;
      complaints.push(...errorComplaints(route, label, response, 'invalid_request'));
      const detail = sentenceOf(response);
      const field = /^The field '([^']+)' /.exec(detail)?.[1]?.split('.')[0];
      if (field === undefined) {
        complaints.push(`${label}: detail '${detail}' names no field`);
      } else if (!sent.includes(field) && !documentedFields(route).includes(field)) {
        complaints.push(`${label}: detail '${detail}' names a field neither sent nor documented`);
      } else if (sent.includes(field) && /is required\.$/.test(detail)) {
        complaints.push(`${label}: detail '${detail}' calls a field that was sent missing`);
      }
    }
    expect(complaints).toEqual([]);
  });

  it('a body over 64 KiB: 413 payload_too_large', async () => {
    const rawBody = JSON.stringify({ idToken: 'a'.repeat(MAX_BODY_BYTES) });
    const complaints: string[] = [];
    for (const route of routesTakingABody()) {
      const response = await send(route, rawBody);
      complaints.push(...errorComplaints(route, `${route.method} ${route.path}`, response, 'payload_too_large'));
      if (!/64 KiB/.test(sentenceOf(response))) complaints.push(`${route.method} ${route.path}: detail does not give the limit`);
    }
    expect(complaints).toEqual([]);
  });

  it('counts the limit in bytes: exactly 64 KiB is read, one byte more is refused', async () => {
    const padTo = (bytes: number) => {
      const shell = JSON.stringify({ token: '' });
      return JSON.stringify({ token: 'a'.repeat(bytes - Buffer.byteLength(shell)) });
    };
    const atLimit = await sweep.service.call('POST', '/api/auth/confirm-email', { rawBody: padTo(MAX_BODY_BYTES) });
    expect(atLimit.status).toBe(400);
    expect(atLimit.body).toMatchObject({ code: 'invalid_request', detail: "The field 'token' must be at most 512 characters." });

    const overLimit = await sweep.service.call('POST', '/api/auth/confirm-email', { rawBody: padTo(MAX_BODY_BYTES + 1) });
    expect(overLimit.status).toBe(413);
    expect(overLimit.body.code).toBe('payload_too_large');

    // Multi-byte characters count as the bytes they take, not as one character each.
    const wide = JSON.stringify({ token: 'é'.repeat(MAX_BODY_BYTES / 2) });
    expect(wide.length).toBeLessThan(MAX_BODY_BYTES);
    expect((await sweep.service.call('POST', '/api/auth/confirm-email', { rawBody: wide })).body.code).toBe('payload_too_large');
  });

  /** Sends `parts` as a chunked body (no Content-Length), as a streaming client does. */
  async function postInChunks(path: string, parts: string[]) {
    const url = new URL(path, sweep.service.url);
    return new Promise<{ status: number; contentType: string | undefined; body: string }>((resolve, reject) => {
      const request = http.request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'], body }));
      });
      request.on('error', reject);
      for (const part of parts) request.write(part);
      request.end();
    });
  }

  // Without HTTP streams the Functions host passes a body on only with a Content-Length
  // (GrpcMessageConversionExtensions.ToRpcHttp): a chunked body reaches the function empty, large or small.
  it('refuses a body sent in chunks without a Content-Length, oversized or not, with 411 length_required', async () => {
    const oversized = await postInChunks('/api/auth/microsoft', ['{"idToken": "', ...Array<string>(20).fill('a'.repeat(4096)), '"}']);
    const small = await postInChunks('/api/auth/microsoft', ['{"idToken": ', '"abc"}']);
    for (const answer of [oversized, small]) {
      expect(answer.status).toBe(411);
      expect(answer.contentType).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'length_required', detail: expect.stringMatching(/Content-Length/) });
    }
    // The same small body with its length is read.
    const sized = await sweep.service.call('POST', '/api/auth/microsoft', { rawBody: '{"idToken": "abc"}' });
    expect(sized.status).toBe(401);
  });

  it('names the field and what it must be when a known field has the wrong type', async () => {
    const microsoft = await sweep.service.call('POST', '/api/auth/microsoft', { body: { idToken: 5 } });
    expect(microsoft.status).toBe(400);
    expect(microsoft.body).toMatchObject({ code: 'invalid_request', detail: "The field 'idToken' must be a string." });

    const injected = await sweep.service.call('PATCH', '/api/me', { body: { username: { $ne: null } }, token: sweep.sessionToken });
    expect(injected.status).toBe(400);
    expect(injected.body).toMatchObject({ code: 'invalid_request', detail: "The field 'username' must be a string." });

    const registration = await sweep.service.call('POST', '/api/accounts', { body: { idToken: 'x', username: { $ne: null } } });
    expect(registration.status).toBe(400);
    expect(registration.body).toMatchObject({ code: 'invalid_request', detail: "The field 'username' must be a string." });
  });

  it('names an unknown field beside otherwise valid ones, and a missing one', async () => {
    const unknown = await sweep.service.call('POST', '/api/auth/confirm-email', { body: { token: 'A'.repeat(43), isAdmin: true } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ code: 'invalid_request', detail: "The field 'isAdmin' is not recognised." });

    const missing = await sweep.service.call('POST', '/api/accounts', { body: { idToken: 'x' } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ code: 'invalid_request', detail: "The field 'username' is required." });

    const empty = await sweep.service.call('POST', '/api/accounts', { rawBody: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.code).toBe('invalid_request');
  });
});

describe('problems', () => {
  it('are RFC 9457 JSON with the fixed title of their code, and are never cached', async () => {
    const unauthorized = await sweep.service.call('GET', '/api/me');
    expect(problemComplaints('GET /api/me', unauthorized, 'unauthorized')).toEqual([]);
    expect(unauthorized.headers.get('www-authenticate')).toBe('Bearer');
    expect(unauthorized.headers.get('x-content-type-options')).toBe('nosniff');

    const invalid = await sweep.service.call('POST', '/api/accounts', { body: { idToken: 'x', username: 'ab' } });
    expect(problemComplaints('POST /api/accounts', invalid, 'invalid_username')).toEqual([]);
  });

  it('leave successful answers uncached too, since they carry personal data', async () => {
    const me = await sweep.service.call('GET', '/api/me', { token: sweep.sessionToken });
    expect(me.status).toBe(200);
    expect(me.headers.get('cache-control')).toBe('no-store');
    expect(me.headers.get('content-type')).toMatch(/^application\/json/);
  });
});

describe('CORS, as the platform answers it', () => {
  const corsHeaders = (response: ApiResponse) => [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));

  it('answers the frontend’s preflight with 204, echoing the method and headers it asks for', async () => {
    const preflight = await sweep.service.call('OPTIONS', '/api/accounts', {
      headers: { Origin: FRONTEND_ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(FRONTEND_ORIGIN);
    const allowedHeaders = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    expect(allowedHeaders).toEqual(['authorization', 'content-type']);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('POST');
  });

  it('lets a frontend that adds tracing headers through (Application Insights, OpenTelemetry)', async () => {
    const preflight = await sweep.service.call('OPTIONS', '/api/me', {
      headers: {
        Origin: FRONTEND_ORIGIN,
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization,traceparent,tracestate,request-id,request-context',
      },
    });
    expect(preflight.status).toBe(204);
    expect((preflight.headers.get('access-control-allow-headers') ?? '').split(',')).toEqual(
      expect.arrayContaining(['traceparent', 'tracestate', 'request-id', 'request-context']),
    );
    const me = await sweep.service.call('GET', '/api/me', {
      token: sweep.sessionToken,
      headers: { Origin: FRONTEND_ORIGIN, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    });
    expect(me.status).toBe(200);
    expect(me.headers.get('access-control-allow-origin')).toBe(FRONTEND_ORIGIN);
  });

  it.each([
    ['a route that exists', '/api/accounts'],
    ['no route at all', '/api/nothing-here'],
    ['the host’s admin API', '/admin/functions/deliverPendingEmails'],
  ])('answers a preflight on %s, before any function sees it', async (_label, path) => {
    const preflight = await sweep.service.call('OPTIONS', path, {
      headers: { Origin: FRONTEND_ORIGIN, 'Access-Control-Request-Method': 'DELETE' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(FRONTEND_ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('DELETE');
  });

  it('treats an OPTIONS without Access-Control-Request-Method as an ordinary request', async () => {
    const options = await sweep.service.call('OPTIONS', '/api/accounts', { headers: { Origin: FRONTEND_ORIGIN } });
    expect(options.status).toBe(404);
    expect(options.headers.get('access-control-allow-origin')).toBe(FRONTEND_ORIGIN);
  });

  it('lets the frontend read answers, problems and 404s included', async () => {
    const health = await sweep.service.call('GET', '/api/health', { headers: { Origin: FRONTEND_ORIGIN } });
    expect(health.headers.get('access-control-allow-origin')).toBe(FRONTEND_ORIGIN);
    expect(health.headers.get('vary')).toMatch(/\bOrigin\b/i);

    const problem = await sweep.service.call('POST', '/api/accounts', { rawBody: 'nope', headers: { Origin: FRONTEND_ORIGIN } });
    expect(problem.status).toBe(400);
    expect(problem.headers.get('access-control-allow-origin')).toBe(FRONTEND_ORIGIN);

    const me = await sweep.service.call('GET', '/api/me', { token: sweep.sessionToken, headers: { Origin: FRONTEND_ORIGIN } });
    expect(me.status).toBe(200);
    expect(me.headers.get('access-control-allow-origin')).toBe(FRONTEND_ORIGIN);

    const missing = await sweep.service.call('GET', '/api/nothing-here', { headers: { Origin: FRONTEND_ORIGIN } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('access-control-allow-origin')).toBe(FRONTEND_ORIGIN);
  });

  it.each(['https://evil.example', 'https://gallery.example.evil.example', 'http://gallery.example', 'null'])(
    'gives the origin %s no CORS headers, on preflight or on requests',
    async (origin) => {
      const preflight = await sweep.service.call('OPTIONS', '/api/accounts', {
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' },
      });
      expect(preflight.status).toBe(204);
      expect(corsHeaders(preflight)).toEqual([]);

      const me = await sweep.service.call('GET', '/api/me', { token: sweep.sessionToken, headers: { Origin: origin } });
      expect(corsHeaders(me)).toEqual([]);
      const problem = await sweep.service.call('POST', '/api/accounts', { body: {}, headers: { Origin: origin } });
      expect(corsHeaders(problem)).toEqual([]);
    },
  );
});

describe('routes', () => {
  it.each([
    ['GET', '/api/nothing-here'],
    ['POST', '/api/nothing-here'],
    ['GET', '/api'],
    ['GET', '/'],
    ['GET', '/api/accounts'],
    ['DELETE', '/api/health'],
    ['GET', '/api/me/../../etc/passwd'],
  ])('%s %s answers 404', async (method, path) => {
    const response = await sweep.service.call(method, path);
    expect(response.status).toBe(404);
  });

  it.each([
    ['a truncated escape', '/api/packages/Contoso%2'],
    ['an escape of no hex digits', '/api/packages/Contoso%ZZCore'],
    ['a cut-off UTF-8 sequence', '/api/packages/%E0%A4%A'],
    ['an encoded overlong slash', '/api/packages/%C0%AF'],
    ['an encoded slash, which the host leaves encoded', '/api/packages/Contoso%2FCore'],
    ['a percent sign, encoded', '/api/packages/100%25'],
  ])('a path parameter with %s answers 400 invalid_request naming it', async (_label, path) => {
    const response = await sweep.service.call('GET', path);
    expect(problemComplaints(`GET ${path}`, response, 'invalid_request')).toEqual([]);
    expect(response.body.detail).toMatch(/^The path parameter 'id' /);
  });

  it('reads a percent-encoded path as the host decodes it', async () => {
    // `%2E` is a dot and `%65` an e: the same package id, and the same route, as written plainly.
    const plain = await sweep.service.call('GET', '/api/packages/Contoso.Core');
    const encoded = await sweep.service.call('GET', '/api/packag%65s/Contoso%2ECore');
    expect(plain.status).toBe(404);
    expect(encoded.status).toBe(404);
    expect(encoded.body).toEqual(plain.body);
  });

  it.each([
    ['an encoded NUL, which Kestrel refuses before routing', '/api/%00', 400],
    ['a stray percent sign in a literal segment', '/api/me%', 404],
    ['a malformed escape in a function name for the admin API', '/admin/functions/%E0%A4%A', 404],
  ])('a path with %s answers %d, not a server error', async (_label, path, status) => {
    const response = await sweep.service.call(path.startsWith('/admin') ? 'POST' : 'GET', path, path.startsWith('/admin') ? { body: {} } : {});
    expect(response.status).toBe(status);
  });

  it('GET /api/health answers 200 { status: "ok" }', async () => {
    const response = await sweep.service.call('GET', '/api/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });
});

describe('the OpenAPI document', () => {
  const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  const operations = () =>
    Object.entries(sweep.openApi.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => httpMethods.includes(method))
        .map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
    );

  it('is OpenAPI 3.1.0, served as JSON', async () => {
    const response = await sweep.service.call('GET', '/api/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(sweep.openApi.openapi).toBe('3.1.0');
    expect(sweep.openApi.servers).toEqual([{ url: '/api' }]);
  });

  it('describes exactly the routes the host serves, no more and no fewer', () => {
    const served = httpRoutes().map((route) => `${route.method} ${route.template}`).sort();
    const described = operations().map(({ method, path }) => `${method} ${path}`).sort();
    expect(described).toEqual(served);

    const names = httpRoutes().map((route) => route.name).sort();
    expect(operations().map(({ operation }) => operation.operationId).sort()).toEqual(names);
  });

  it('documents a request body exactly where the route reads one, and rejects unknown fields in it', async () => {
    const mismatches: string[] = [];
    for (const route of httpRoutes().filter((r) => r.method !== 'GET')) {
      // A fresh account each time: an empty body may be all a route needs (sign-out-everywhere ends the session).
      // Site admins' routes get the sweep's site admin, whose session none of them ends.
      const siteAdmins = documented(route)?.security?.some((scheme: any) => scheme.session?.includes('site_admin'));
      const fresh = needsSession(route) && !siteAdmins ? (await register(sweep.service)).sessionToken : undefined;
      const credentials = fresh ? credentialsFor(route, fresh) : credentialsFor(route);
      // NuGet.org's token API looks at the content type before the body, as NuGet's clients send it.
      const nuget = answersNuGetErrors(documented(route));
      const empty = await sweep.service.call(route.method, route.path, nuget ? { ...credentials, headers: { 'Content-Type': 'application/json' } } : credentials);
      const refusedEmpty =
        empty.status === 400 && (nuget ? /The request body is required/.test(empty.body?.error) : empty.body?.code === 'invalid_request');
      const requestBody = documented(route)?.requestBody;
      // A body that may be left out (support's optional reason) is read only when sent: an unknown field shows it.
      const optional = requestBody?.required === false;
      const unknown = optional ? await sweep.service.call(route.method, route.path, { ...credentials, body: { unknownField: 1 } }) : undefined;
      const readsBody = optional ? unknown!.status === 400 && /'unknownField'/.test(unknown!.body?.detail) && !refusedEmpty : refusedEmpty;
      if (readsBody !== Boolean(requestBody)) {
        mismatches.push(`${route.method} ${route.template}: ${readsBody ? 'reads a body it does not document' : 'documents a body it does not read as documented'}`);
      }
      if (!requestBody) continue;
      const schema = requestBody.content?.['application/json']?.schema;
      // A body of several shapes (a union, or one told apart by a field such as a policy's `provider`): each closed.
      const shapes: any[] = schema?.anyOf ?? schema?.oneOf ?? [schema];
      if (shapes.some((shape) => shape?.type !== 'object' || shape.additionalProperties !== false)) {
        mismatches.push(`${route.method} ${route.template}: its request body schema is not a closed JSON object`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('gives every problem response only codes the sweep.service defines, under their own status', () => {
    const statusesOf = (code: ProblemCode): number[] => {
      const problem: { status: number; alsoAs?: readonly number[] } = PROBLEMS[code];
      return [problem.status, ...(problem.alsoAs ?? [])];
    };
    const known = Object.keys(PROBLEMS);
    expect(sweep.openApi.components.schemas.Problem.properties.code.enum).toEqual(known);
    const wrong: string[] = [];
    for (const { method, path, operation } of operations()) {
      for (const [status, response] of Object.entries(operation.responses as Record<string, any>)) {
        if (Number(status) < 400) continue;
        // The answers of 400 or more the contract gives another shape: 503 { status: "unavailable", detail }, and
        // NuGet.org's token API's { error }, which answers a refusal 400 or 401 only.
        if (`${method} ${path} ${status}` === 'GET /health 503') {
          if (!response.content?.['application/json']?.schema?.properties?.detail) wrong.push('GET /health 503: not documented as { status, detail }');
          continue;
        }
        if (answersNuGetErrors(operation)) {
          if (!response.content?.['application/json']?.schema?.properties?.error) wrong.push(`${method} ${path} ${status}: not documented as { error }`);
          if (![400, 401, 429, 503].includes(Number(status))) wrong.push(`${method} ${path} ${status}: NuGet's token API answers no such status`);
          continue;
        }
        const schema = response.content?.['application/problem+json']?.schema;
        const refinement = schema?.allOf?.find((part: any) => part.properties?.code);
        const codes: unknown[] = refinement?.properties.code.enum ?? [];
        if (codes.length === 0) wrong.push(`${method} ${path} ${status}: no problem+json schema with a code enum`);
        // What a generated client needs to type the route's problems by code and status.
        if (refinement && (!['code', 'status'].every((field) => refinement.required?.includes(field)) || refinement.properties.status?.const !== Number(status))) {
          wrong.push(`${method} ${path} ${status}: code and status are not required, or status is not ${status}`);
        }
        for (const code of codes) {
          if (!known.includes(code as string)) wrong.push(`${method} ${path} ${status}: unknown code ${String(code)}`);
          else if (!statusesOf(code as ProblemCode).includes(Number(status))) wrong.push(`${method} ${path} ${status}: ${String(code)} is not a ${status}`);
        }
      }
      if (operation.requestBody && !operation.responses['400']) wrong.push(`${method} ${path}: takes a body but documents no 400`);
      if (operation.security?.length && !operation.responses['401']) wrong.push(`${method} ${path}: needs a session but documents no 401`);
      if (!answersNuGetErrors(operation) && !operation.responses['500']) wrong.push(`${method} ${path}: documents no 500 internal_error`);
    }
    expect(wrong).toEqual([]);
  });

  it('documents X-NuGet-Warning on every answer of a route an API key calls, and on no other', () => {
    const byKey = operations().filter(({ operation }) => operation.security?.some((scheme: any) => 'apiKey' in scheme));
    expect(byKey.map(({ method, path }) => `${method} ${path}`)).toEqual(expect.arrayContaining(['PUT /packages']));
    for (const { operation } of operations()) {
      const warns = Object.values(operation.responses as Record<string, any>).map((response) => Boolean(response.headers?.['X-NuGet-Warning']));
      expect(new Set(warns)).toEqual(new Set([byKey.some((keyed) => keyed.operation === operation)]));
    }
  });
});

describe('running a timer function on demand', () => {
  it('POST /admin/functions/deliverPendingEmails with {} answers 202 and runs it', async () => {
    const response = await sweep.service.call('POST', '/admin/functions/deliverPendingEmails', { body: {} });
    expect(response.status).toBe(202);
    await sweep.service.host.idle();
  });

  // FunctionsController.Invoke binds [FromBody] FunctionInvocation: JSON only, and an object.
  it.each([
    ['no content type', {}, '{}', 415],
    ['text/plain (what fetch sends with a string)', { 'Content-Type': 'text/plain;charset=UTF-8' }, '{}', 415],
    ['JSON, but no body', { 'Content-Type': 'application/json' }, '', 400],
    ['JSON, but not an object', { 'Content-Type': 'application/json' }, '"run"', 400],
    ['malformed JSON', { 'Content-Type': 'application/json' }, '{', 400],
  ])('answers %s as the host does', async (_label, headers, rawBody, status) => {
    const response = await sweep.service.call('POST', '/admin/functions/deliverPendingEmails', { headers, rawBody });
    expect(response.status).toBe(status);
  });

  it('takes a JSON object with a charset and an input', async () => {
    const response = await sweep.service.call('POST', '/admin/functions/deliverPendingEmails', {
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      rawBody: '{"input":""}',
    });
    expect(response.status).toBe(202);
    await sweep.service.host.idle();
  });

  it.each([
    ['POST', '/admin/functions/noSuchFunction'],
    ['POST', '/admin/functions/health'],
    ['GET', '/admin/functions/deliverPendingEmails'],
  ])('%s %s answers 404', async (method, path) => {
    const response = await sweep.service.call(method, path, method === 'POST' ? { body: {} } : {});
    expect(response.status).toBe(404);
  });
});
