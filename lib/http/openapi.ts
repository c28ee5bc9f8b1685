import { z } from 'zod';
import { PROBLEMS, problemType, type DocumentedProblem, type ProblemCode } from '../shared/problems';
import { WARNING_HEADER } from '../packages/keyExpiry';

/** A success answer as an operation documents it: its body's schema, and the headers it may carry (name: what it says). */
export interface DocumentedResponse {
  description: string;
  schema?: z.ZodType;
  headers?: Record<string, string>;
}

interface DescribedOperation {
  name: string;
  method: string;
  route: string;
  summary: string;
  description?: string;
  auth: 'none' | 'session' | 'session-or-recovery' | 'api-key' | 'session-or-api-key' | 'site-admin' | 'bearer';
  body?: z.ZodType;
  query?: z.ZodObject;
  params?: z.ZodObject;
  responses: Record<number, DocumentedResponse>;
  problems: readonly DocumentedProblem[];
  errorShape?: 'problem' | 'nuget';
}

/** Filled as the function files register their routes, so the document describes exactly what is served. */
const operations = new Map<string, DescribedOperation>();

export function describeOperation(operation: DescribedOperation): void {
  operations.set(operation.name, operation);
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' });
  return rest;
}

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(PROBLEMS) },
  },
};

function problemResponses(problems: readonly DocumentedProblem[]): Record<string, Record<string, unknown>> {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const problem of problems) {
    const { code, status } = typeof problem === 'string' ? { code: problem, status: PROBLEMS[problem].status } : problem;
    if (!byStatus.get(status)?.includes(code)) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, statusCodes]) => [
      String(status),
      {
        description: statusCodes.map((code) => `\`${code}\`: ${PROBLEMS[code].title}`).join('; '),
        content: {
          'application/problem+json': {
            // Required here as in Problem, so a generated client types each route's problems by their codes and status.
            schema: {
              allOf: [
                { $ref: '#/components/schemas/Problem' },
                {
                  type: 'object',
                  required: ['type', 'status', 'code'],
                  properties: {
                    type: { type: 'string', enum: statusCodes.map(problemType) },
                    status: { type: 'integer', const: status },
                    code: { type: 'string', enum: statusCodes },
                  },
                },
              ],
            },
          },
        },
      },
    ]),
  );
}

/** The security requirements of each way of calling: either of two, where a route takes a key or a session. */
const SECURITY: Record<DescribedOperation['auth'], Array<Record<string, string[]>>> = {
  none: [],
  session: [{ session: [] }],
  'session-or-recovery': [{ session: [] }],
  'api-key': [{ apiKey: [] }],
  'session-or-api-key': [{ apiKey: [] }, { session: [] }],
  // A site admin signs in like anyone else; the role the session must have is named in the requirement, as
  // OpenAPI 3.1 allows for non-OAuth schemes.
  'site-admin': [{ session: ['site_admin'] }],
  bearer: [{ oidcToken: [] }],
};

/** On every answer to a request whose API key proved itself and expires within 10 days, as NuGet.org's API warns. */
const expiryWarningHeader = {
  description:
    'Present when the API key expires within 10 days: "Your API key expires in {N} days ({expiresAt}). Visit {PUBLIC_BASE_URL}/account/api-keys to regenerate your API key." (the NuGet client prints it as a warning)',
  schema: { type: 'string' },
};

/** The error answers of an operation in NuGet.org's token API shape: `{ error }`, under these statuses only. */
function nugetErrorResponses(): Record<string, Record<string, unknown>> {
  const content = {
    'application/json': {
      schema: {
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'string', description: 'A sentence saying what is wrong (NuGet clients show it)' } },
      },
    },
  };
  return {
    '400': { description: 'The request is not one the service can take (its headers or body), or the account or owner cannot be given a key', content },
    '401': { description: 'No or several Authorization headers, or a token that is not valid, matches no policy or was used already (WWW-Authenticate: Bearer)', content },
    '429': { description: 'Too many requests from this client address (Retry-After)', content },
    '503': { description: 'The service or the token issuer is unavailable for now (Retry-After)', content },
  };
}

/** Problems every operation of its kind can answer, whether or not its spec lists them. */
function withImpliedProblems(op: DescribedOperation): DocumentedProblem[] {
  const implied: ProblemCode[] = [
    ...(op.body || op.method !== 'GET' ? (['invalid_request', 'payload_too_large'] as const) : []),
    ...(op.body ? (['length_required'] as const) : []),
    // A path parameter that is not what its schema says, or has a malformed percent-encoding
    ...(op.route.includes('{') ? (['invalid_request'] as const) : []),
    // A write whose every retry lost to concurrent changes
    ...(op.method !== 'GET' ? (['concurrent_change'] as const) : []),
    ...(SECURITY[op.auth].some((scheme) => 'apiKey' in scheme) ? (['invalid_api_key'] as const) : []),
    ...(SECURITY[op.auth].some((scheme) => 'session' in scheme) ? (['unauthorized'] as const) : []),
    ...(op.auth === 'session' || op.auth === 'session-or-api-key' ? (['microsoft_account_required'] as const) : []),
    ...(op.auth === 'site-admin' ? (['site_admin_required'] as const) : []),
    'service_unavailable',
    // A fault nobody foresaw, answered as a problem rather than a stack trace
    'internal_error',
  ];
  return [...new Set([...op.problems, ...implied])];
}

export function buildOpenApiDocument(serverUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations.values()) {
    const path = `/${op.route}`;
    const parameters = [
      ...[...op.route.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
        name,
        in: 'path',
        required: true,
        schema: op.params?.shape[name] ? jsonSchema(op.params.shape[name] as z.ZodType, 'input') : { type: 'string' },
      })),
      ...Object.entries(op.query?.shape ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: !(schema as z.ZodType).safeParse(undefined).success,
        schema: jsonSchema(schema as z.ZodType, 'input'),
      })),
    ];
    const successResponses = Object.fromEntries(
      Object.entries(op.responses).map(([status, response]) => [
        status,
        {
          description: response.description,
          ...(response.schema ? { content: { 'application/json': { schema: jsonSchema(response.schema, 'output') } } } : {}),
          ...(response.headers
            ? { headers: Object.fromEntries(Object.entries(response.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }])) }
            : {}),
        },
      ]),
    );
    const errorResponses = op.errorShape === 'nuget' ? nugetErrorResponses() : problemResponses(withImpliedProblems(op));
    const responses: Record<string, Record<string, unknown>> = { ...errorResponses, ...successResponses };
    if (SECURITY[op.auth].some((scheme) => 'apiKey' in scheme)) {
      for (const response of Object.values(responses)) response.headers = { ...(response.headers ?? {}), [WARNING_HEADER]: expiryWarningHeader };
    }
    paths[path] ??= {};
    paths[path][op.method.toLowerCase()] = {
      operationId: op.name,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(parameters.length ? { parameters } : {}),
      security: SECURITY[op.auth],
      ...(op.body
        ? {
            requestBody: {
              required: !op.body.safeParse(undefined).success,
              content: { 'application/json': { schema: jsonSchema(op.body, 'input') } },
            },
          }
        : {}),
      // An answer the operation documents itself (the health probe's 503) stands over an implied problem.
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Package gallery account service',
      version: '1.0.0',
      description:
        "Accounts, organizations and API keys of the package gallery. Errors are RFC 9457 problems, except those of NuGet.org's token API (POST /v2/token), which answers { error }.",
    },
    servers: [{ url: serverUrl }],
    paths,
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: {
        session: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-NuGet-ApiKey' },
        oidcToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'The token a CI job has from its provider (trusted publishing): a GitHub Actions OIDC token, or a Microsoft Entra app-only access token for the gallery API',
        },
      },
    },
  };
}
