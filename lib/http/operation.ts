import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import '../shared/startup';
import { Problem, type DocumentedProblem } from '../shared/problems';
import { describeOperation, type DocumentedResponse } from './openapi';
import { authenticate, authenticateSiteAdmin, type Caller } from '../accounts/sessions';
import { authenticateApiKey, type ApiKeyDocument } from '../packages/apiKeys';
import { expiryWarning, WARNING_HEADER } from '../packages/keyExpiry';
import { isPreconditionFailed, isTransientStoreError } from '../shared/storage/cosmos';
import type { Log } from '../shared/log';

export const MAX_BODY_BYTES = 64 * 1024;
/** The header NuGet clients send their API key in. */
export const API_KEY_HEADER = 'X-NuGet-ApiKey';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * Who may call: anyone; a full session; or also the restricted session a password sign-in gives, which
 * only serves to link a Microsoft account (and what the contract lists with it); an API key; either a key (when
 * the request carries one) or a full session; a site admin (support), the full session of an unlocked account
 * named in SITE_ADMINS, every `/api/site-admin/...` route; or `bearer`, a Bearer token the operation checks
 * itself (the GitHub Actions OIDC token of the trusted publishing exchange), taken from the one Authorization
 * header as NuGet.org's token API takes it.
 */
export type AuthMode = 'none' | 'session' | 'session-or-recovery' | 'api-key' | 'session-or-api-key' | 'site-admin' | 'bearer';

/**
 * How failures are answered: RFC 9457 problems (every route of the contract but one), or `nuget`, the shape
 * of NuGet.org's token API that NuGet's clients and the NuGet/login action read: `{ error }` with a sentence.
 * There a refusal of the request is 401 (with `WWW-Authenticate: Bearer`) or 400, whatever problem it was;
 * a rate limit (429) and the service's own trouble (503, 500) keep their status.
 */
export type ErrorShape = 'problem' | 'nuget';

interface BaseContext<Body, Query, Params> {
  body: Body;
  query: Query;
  params: Params;
  request: HttpRequest;
  clientAddress: string;
  log: InvocationContext;
}

type Parsed<Schema> = Schema extends z.ZodType ? z.infer<Schema> : undefined;

export interface OperationSpec<
  Schema extends z.ZodType | undefined,
  Query extends z.ZodObject | undefined,
  Auth extends AuthMode,
  Params extends z.ZodObject | undefined = undefined,
> {
  method: HttpMethod;
  /** The route below the `api` prefix, in the Functions host's template syntax. */
  route: string;
  summary: string;
  description?: string;
  auth: Auth;
  /** The JSON body; a schema that accepts `undefined` (`.optional()`) also takes a request without one. */
  body?: Schema;
  /** Query parameters, each a string; unknown ones are refused like unknown body fields. */
  query?: Query;
  /**
   * The route's path parameters, each a string: every `{name}` of the route, checked like body fields before
   * the handler runs, so no identifier reaches storage unchecked.
   */
  params?: Params;
  responses: Record<number, DocumentedResponse>;
  problems: readonly DocumentedProblem[];
  /** Default `problem`. */
  errorShape?: ErrorShape;
  /** Checks of the request's headers, after the caller is authenticated and before the body is read. */
  checkHeaders?(request: HttpRequest): void;
  handle(
    context: BaseContext<Parsed<Schema>, Parsed<Query>, Params extends z.ZodObject ? z.infer<Params> : Record<string, never>> &
      (Auth extends 'none'
        ? object
        : Auth extends 'api-key'
          ? { apiKey: ApiKeyDocument }
          : Auth extends 'session-or-api-key'
            ? { apiKey: ApiKeyDocument; caller?: undefined } | { caller: Caller; apiKey?: undefined }
            : Auth extends 'bearer'
              ? { bearerToken: string }
              : { caller: Caller }),
  ): Promise<Reply>;
}

export const ok = (body: unknown): Reply => ({ status: 200, body });
export const created = (body: unknown): Reply => ({ status: 201, body });
export const accepted = (body?: unknown): Reply => ({ status: 202, body });
export const noContent = (): Reply => ({ status: 204 });

/**
 * Registers the HTTP function `name` with the Functions host from its spec: it parses and checks the body,
 * authenticates the caller, answers failures as RFC 9457 problems, and records the operation (`name` is its
 * operationId) for the OpenAPI document.
 */
export function operation<
  Schema extends z.ZodType | undefined,
  Query extends z.ZodObject | undefined,
  Auth extends AuthMode,
  Params extends z.ZodObject | undefined = undefined,
>(name: string, spec: OperationSpec<Schema, Query, Auth, Params>): void {
  assertParamsDeclared(name, spec.route, spec.params);
  describeOperation({ name, ...spec });
  // Made once: a strict copy of a schema is a new schema, and building one per call costs what validating does.
  const strictParams = spec.params?.strict();
  const strictQuery = spec.query?.strict();
  app.http(name, {
    methods: [spec.method],
    route: spec.route,
    authLevel: 'anonymous',
    handler: async (request, log) => {
      // Once a key has proved itself, every answer (a refusal too) warns if it expires soon, as NuGet.org's does.
      let warning: Record<string, string> | undefined;
      try {
        // Strangers learn nothing about a route's body before they prove who they are.
        const byKey = spec.auth === 'api-key' || (spec.auth === 'session-or-api-key' && request.headers.has(API_KEY_HEADER));
        const bearerToken = spec.auth === 'bearer' ? bearerTokenOf(request) : undefined;
        const caller =
          spec.auth === 'site-admin'
            ? await authenticateSiteAdmin(request)
            : !byKey && spec.auth !== 'none' && spec.auth !== 'bearer'
              ? await authenticate(request, spec.auth === 'session-or-recovery')
              : undefined;
        const apiKey = byKey ? await authenticateApiKey(request.headers.get(API_KEY_HEADER)) : undefined;
        const expiring = apiKey && expiryWarning(apiKey);
        if (expiring) warning = { [WARNING_HEADER]: expiring };
        spec.checkHeaders?.(request);
        const params = readParams(request, strictParams);
        const body = await readBody(request, spec.body);
        const query = strictQuery ? readQuery(request, strictQuery) : undefined;
        const reply = await spec.handle({
          body,
          query,
          caller,
          apiKey,
          bearerToken,
          params,
          request,
          // Worked out only for the operations that record it.
          get clientAddress() {
            return clientAddressOf(request);
          },
          log,
          // The auth mode decides which of caller and apiKey is set; TypeScript cannot follow that through.
        } as unknown as Parameters<typeof spec.handle>[0]);
        return toResponse(warning ? { ...reply, headers: { ...warning, ...reply.headers } } : reply);
      } catch (error) {
        const problem = asProblem(error, log);
        return spec.errorShape === 'nuget' ? nugetErrorResponse(problem) : problemResponse(problem, warning);
      }
    },
  });
}

function asProblem(error: unknown, log: Log): Problem {
  if (error instanceof Problem) return error;
  // A write guarded by an ETag lost to a concurrent change more often than its retries allow: the caller may
  // look again and retry, as for any conflict.
  if (isPreconditionFailed(error)) {
    log.warn('A write lost every retry to concurrent changes', error);
    return new Problem('concurrent_change', 'Someone changed this at the same moment. Reload it and try again.');
  }
  if (isTransientStoreError(error)) {
    log.warn('Storage is throttling or unavailable', error);
    return new Problem('service_unavailable', 'The service is busy. Try again in a few seconds.', { 'Retry-After': '5' });
  }
  log.error('Unhandled error', error);
  return new Problem('internal_error', 'The request could not be completed. Try again later.');
}

/**
 * The platform adds Access-Control-Allow-Origin for the frontend's origin only, so every answer varies by
 * Origin (the platform itself says so only when it allows several origins).
 */
const SECURITY_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', Vary: 'Origin' };

/**
 * A JSON body as bytes with its content type: `jsonBody` would have the library build the headers twice, and
 * the WHATWG Response it builds reads bytes back more cheaply than text.
 */
function toResponse(reply: Reply): HttpResponseInit {
  return reply.body === undefined
    ? { status: reply.status, headers: { ...SECURITY_HEADERS, ...reply.headers } }
    : { status: reply.status, body: Buffer.from(JSON.stringify(reply.body)), headers: { ...SECURITY_HEADERS, 'Content-Type': 'application/json', ...reply.headers } };
}

function problemResponse(problem: Problem, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status: problem.status,
    body: JSON.stringify(problem),
    headers: { ...SECURITY_HEADERS, 'Content-Type': 'application/problem+json', ...headers, ...problem.headers },
  };
}

/** A problem in NuGet.org's token API shape (see `ErrorShape`). */
function nugetErrorResponse(problem: Problem): HttpResponseInit {
  const status = problem.status === 401 || problem.status === 429 || problem.status >= 500 ? problem.status : 400;
  return {
    status,
    body: Buffer.from(JSON.stringify({ error: problem.detail })),
    headers: {
      ...SECURITY_HEADERS,
      'Content-Type': 'application/json',
      ...problem.headers,
      ...(status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}),
    },
  };
}

const bearerRefused = (detail: string) => new Problem('unauthorized', detail, { 'WWW-Authenticate': 'Bearer' });

/**
 * The Bearer token of the one Authorization header, refused in NuGet.org's words and order
 * (NuGetGallery's TokenApiController): none, several (the host joins repeated headers with a comma, which
 * no token has), another scheme, an empty token, or another credential beside it.
 */
function bearerTokenOf(request: HttpRequest): string {
  const header = request.headers.get('authorization');
  if (header === null) throw bearerRefused('The Authorization header is missing.');
  if (header.includes(',')) throw bearerRefused('Only one Authorization header is allowed.');
  const match = /^Bearer(?:\s+(.*))?$/is.exec(header.trim());
  if (!match) throw bearerRefused("The Authorization header value must start with 'Bearer '.");
  const token = (match[1] ?? '').trim();
  if (token === '') throw bearerRefused('The bearer token is missing from the Authorization header.');
  if (request.headers.has(API_KEY_HEADER)) throw bearerRefused('Only Bearer token authentication is accepted.');
  return token;
}

/**
 * The platform's front end appends the address it saw to X-Forwarded-For, so the last entry is the one a
 * client cannot forge.
 */
function clientAddressOf(request: HttpRequest): string {
  const forwarded = request.headers.get('x-forwarded-for')?.split(',').pop()?.trim();
  if (!forwarded) return 'unknown';
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(forwarded);
  if (bracketed) return bracketed[1];
  return /^[\d.]+:\d+$/.test(forwarded) ? forwarded.replace(/:\d+$/, '') : forwarded;
}

const noBody = z.object({}).strict();

/** The `{name}` parameters of a route template (`{name}`, `{name:constraint}`, `{name?}`, `{*name}`). */
function routeParameterNames(route: string): string[] {
  return [...route.matchAll(/\{\*?(\w+)(?::[^}?]+)?\??\}/g)].map(([, name]) => name);
}

/** A route's parameters and its declared schema name the same things, or the app does not start. */
function assertParamsDeclared(name: string, route: string, params: z.ZodObject | undefined): void {
  const inRoute = routeParameterNames(route).sort();
  const declared = Object.keys(params?.shape ?? {}).sort();
  if (JSON.stringify(inRoute) !== JSON.stringify(declared)) {
    throw new Error(`Operation ${name}: the route '${route}' has the parameters [${inRoute.join(', ')}] but declares [${declared.join(', ')}]`);
  }
}

/**
 * Path parameters as the host decoded them, checked against the operation's schema. The host leaves a
 * malformed or non-UTF-8 percent-encoding as it was sent (so is `%2F`); no identifier of this API contains
 * `%`, so such a parameter is bad input. `schema` is strict: a parameter it does not name is bad input too.
 */
function readParams(request: HttpRequest, schema: z.ZodObject | undefined): unknown {
  const params = { ...request.params };
  const malformed = Object.keys(params).find((name) => params[name].includes('%'));
  if (malformed !== undefined) {
    throw new Problem('invalid_request', `The path parameter '${malformed}' is not valid: its percent-encoding is malformed, or it holds a '%', which no name or id here has.`);
  }
  if (!schema) return {};
  const result = schema.safeParse(params, { reportInput: true });
  if (!result.success) throw invalidField(result.error.issues, 'path parameter');
  return result.data;
}

/**
 * Without HTTP streams the Functions host passes a body on only when Content-Length is given; one sent in
 * chunks (Transfer-Encoding) reaches the function empty, so say what to do rather than call it missing.
 */
function sentInChunks(request: HttpRequest): boolean {
  return request.headers.has('transfer-encoding') && !request.headers.has('content-length');
}

async function readBody(request: HttpRequest, schema: z.ZodType | undefined): Promise<unknown> {
  // Bodies sent with a GET or DELETE that declares none carry nothing the operation reads.
  if (!schema && (request.method === 'GET' || request.method === 'DELETE')) return undefined;
  const declaredLength = Number(request.headers.get('content-length') ?? 0);
  if (declaredLength > MAX_BODY_BYTES) throw tooLarge();
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > MAX_BODY_BYTES) throw tooLarge();
  const text = bytes.toString('utf8');
  if (text.trim() === '') {
    if (!schema || schema.safeParse(undefined).success) return undefined;
    if (bytes.length === 0 && sentInChunks(request)) {
      throw new Problem('length_required', 'Send the request body with a Content-Length header: a body sent in chunks does not reach the service.');
    }
    throw new Problem('invalid_request', 'The request body is required: send a JSON object.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Problem('invalid_request', 'The request body is not valid JSON.');
  }
  // reportInput keeps each issue's value, so a field sent with the wrong type is not described as missing.
  const result = (schema ?? noBody).safeParse(parsed, { reportInput: true });
  if (!result.success) throw invalidField(result.error.issues);
  return schema ? result.data : undefined;
}

/** The query string, checked against the operation's strict schema (a parameter it does not name is bad input). */
function readQuery(request: HttpRequest, schema: z.ZodObject): unknown {
  const result = schema.safeParse(Object.fromEntries(request.query), { reportInput: true });
  if (!result.success) throw invalidField(result.error.issues, 'query parameter');
  return result.data;
}

function tooLarge(): Problem {
  return new Problem('payload_too_large', `The request body must not exceed ${MAX_BODY_BYTES / 1024} KiB.`);
}

/** Names the first offending field in words a person (and a frontend developer) can act on. */
function invalidField(issues: readonly z.core.$ZodIssue[], kind = 'field'): Problem {
  const issue = pickIssue(issues);
  const field = fieldName(issue);
  if (field === undefined) {
    return new Problem('invalid_request', 'The request body must be a JSON object.');
  }
  return new Problem('invalid_request', `The ${kind} '${field}' ${describeIssue(issue)}.`);
}

function pickIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  // What the caller sent wrong comes before what they left out: that is the mistake they can see.
  const first = issues.find((i) => i.code === 'unrecognized_keys' || i.input !== undefined) ?? issues[0];
  if (first.code !== 'invalid_union') return first;
  // Of the shapes a body may take, explain the one it resembles: the branch without unknown fields.
  const branch =
    first.errors.find((branchIssues) => !branchIssues.some((i) => i.code === 'unrecognized_keys')) ?? first.errors[0];
  return branch && branch.length > 0 ? pickIssue(branch) : first;
}

function fieldName(issue: z.core.$ZodIssue): string | undefined {
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  return path.length === 0 ? undefined : path.map(String).join('.');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return 'is not recognised';
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${article(issue.expected)}`;
    case 'too_small':
      return issue.origin === 'string'
        ? `must be at least ${issue.minimum} characters`
        : issue.origin === 'array'
          ? `must have at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`
          : `must be at least ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'string'
        ? `must be at most ${issue.maximum} characters`
        : issue.origin === 'array'
          ? `must have at most ${issue.maximum} items`
          : `must be at most ${issue.maximum}`;
    case 'invalid_format':
      if (issue.format === 'email') return 'must be an email address';
      // A pattern's own message says what it wants (zod's default one names the pattern).
      if (issue.format === 'regex') return issue.message.replace(/^Invalid string: /, '');
      return `must be a valid ${issue.format}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return issue.message.replace(/^Invalid input: /, '');
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
