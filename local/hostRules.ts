/**
 * What the Azure Functions host and the platform in front of it do to a function app and its requests, as
 * their source shows, so that the local host accepts exactly what Azure accepts and answers as Azure does.
 * Each rule names where it comes from (paths in Azure/azure-functions-host unless said otherwise).
 */
import type { RegisteredFunction } from './functionsCore';

// ---------------------------------------------------------------------------------------------------------
// Loading the app
// ---------------------------------------------------------------------------------------------------------

/** src/WebJobs.Script/Utility.cs, FunctionNameValidationRegex: `^[a-z][a-z0-9_\-]{0,127}$(?<!^host$)`, ignoring case. */
const FUNCTION_NAME = /^[a-z][a-z0-9_-]{0,127}$/i;

export function isValidFunctionName(name: string): boolean {
  return FUNCTION_NAME.test(name) && name.toLowerCase() !== 'host';
}

export const isHttpFunction = (fn: RegisteredFunction): boolean => /^httpTrigger$/i.test(fn.trigger.type);

/** ScriptHost.ValidateHttpFunction: a function without a route is served under its name. */
export const routeOf = (fn: RegisteredFunction): string => (fn.trigger.route?.trim() ? fn.trigger.route : fn.name);

interface AcceptedHttpFunction {
  name: string;
  route: string;
  methods?: string[];
}

/**
 * ScriptHost.HttpRoutesConflict: the same template (slashes trimmed, case ignored) and a method in common;
 * no methods means every method. The templates are compared as text, so `{id}` and `{name}` do not conflict.
 */
function routesConflict(a: AcceptedHttpFunction, b: AcceptedHttpFunction): boolean {
  const trim = (route: string) => route.replace(/^\/+|\/+$/g, '').toLowerCase();
  if (trim(a.route) !== trim(b.route)) return false;
  if (!a.methods?.length || !b.methods?.length) return true;
  return a.methods.some((method) => b.methods!.includes(method));
}

/** Why the host puts a function in error, in its own words, or undefined when it loads it. */
function functionError(fn: RegisteredFunction, accepted: AcceptedHttpFunction[]): string | undefined {
  // src/WebJobs.Script/Host/WorkerFunctionMetadataProvider.cs ValidateMetadata → Utility.ValidateName
  if (!isValidFunctionName(fn.name)) return `'${fn.name}' is not a valid function name.`;
  if (!isHttpFunction(fn)) return undefined;
  const candidate = { name: fn.name, route: routeOf(fn), methods: fn.trigger.methods };
  // src/WebJobs.Script/Host/ScriptHost.cs ValidateHttpFunction: the host's own admin and runtime routes
  const route = candidate.route.replace(/^\/+|\/+$/g, '').toLowerCase();
  if (route.startsWith('admin') || route.startsWith('runtime')) {
    return 'The specified route conflicts with one or more built in routes.';
  }
  // ScriptHost.ValidateFunction: compared with every HTTP function accepted before it
  const conflict = accepted.find((other) => routesConflict(candidate, other));
  if (conflict) return `The route specified conflicts with the route defined by function '${conflict.name}'.`;
  accepted.push(candidate);
  return undefined;
}

/**
 * Every function the host would refuse, each as the host logs it ("The '{functionName}' function is in error:
 * {errorMessage}", src/WebJobs.Script/Diagnostics/Extensions/ScriptHostLoggerExtension.cs). In Azure the
 * other functions still run and the refused ones answer 404; the local host refuses to start instead, so the
 * mistake shows before a deployment.
 */
export function functionAppErrors(functions: readonly RegisteredFunction[]): string[] {
  const accepted: AcceptedHttpFunction[] = [];
  return functions.flatMap((fn) => {
    const error = functionError(fn, accepted);
    return error ? [`The '${fn.name}' function is in error: ${error}`] : [];
  });
}

// ---------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------

/**
 * A path as Kestrel decodes it (Microsoft.AspNetCore.Server.Kestrel UrlDecoder): each percent-encoded UTF-8
 * character is decoded; an escape that is malformed or not valid UTF-8 is left as it was sent, and so is `%2F`,
 * which would otherwise become a segment separator. Nothing here throws on a hostile path.
 */
export function decodePath(raw: string): string {
  const bytes = (i: number): number | undefined => {
    const hex = /^%([0-9A-Fa-f]{2})/.exec(raw.slice(i, i + 3));
    return hex ? parseInt(hex[1], 16) : undefined;
  };
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const first = raw[i] === '%' ? bytes(i) : undefined;
    const length = first === undefined ? 0 : first < 0x80 ? 1 : first >= 0xc2 && first < 0xe0 ? 2 : first >= 0xe0 && first < 0xf0 ? 3 : first >= 0xf0 && first < 0xf5 ? 4 : 0;
    const sequence = length ? Array.from({ length }, (_, k) => bytes(i + 3 * k)) : [];
    const decoded = sequence.every((b) => b !== undefined) && length > 0 ? utf8(sequence as number[]) : undefined;
    if (decoded === undefined || decoded === '/') {
      out += raw[i];
      i += 1;
    } else {
      out += decoded;
      i += 3 * length;
    }
  }
  return out;
}

function utf8(sequence: number[]): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(sequence));
  } catch {
    return undefined;
  }
}

/**
 * The platform's CORS on Flex Consumption and Linux Consumption: the Functions host's own middleware
 * (src/WebJobs.Script.WebHost/Configuration/CorsOptionsSetup.cs: the allowed origins, AllowAnyHeader,
 * AllowAnyMethod) running ASP.NET Core's CorsMiddleware and CorsService for every request, before routing:
 * - a preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered 204 on any path; for an
 *   allowed origin it echoes the origin, the requested method and the requested headers, with no max age;
 *   for any other origin (and `Origin: null`) it carries no CORS header at all;
 * - any other request with an allowed origin gets Access-Control-Allow-Origin on whatever answers it;
 * - `Vary: Origin` only when more than one origin is allowed (CorsService.PopulateResult).
 */
export interface CorsDecision {
  /** Answer 204 with these headers and stop: the request never reaches a function. */
  preflight?: Record<string, string>;
  /** Headers to add to whatever answers the request. */
  headers: Record<string, string>;
}

export function corsFor(
  method: string | undefined,
  headers: Record<string, string | string[] | undefined>,
  allowedOrigins: readonly string[],
): CorsDecision {
  const origin = typeof headers.origin === 'string' ? headers.origin : undefined;
  const requestedMethod = headers['access-control-request-method'];
  const isPreflight = method === 'OPTIONS' && requestedMethod !== undefined;
  if (!origin) return { headers: {} };
  // CorsPolicyBuilder.WithOrigins lowers an allowed origin's case; the request's is compared as sent.
  if (!allowedOrigins.some((allowed) => allowed.toLowerCase() === origin)) return isPreflight ? { preflight: {}, headers: {} } : { headers: {} };
  const allowed: Record<string, string> = { 'Access-Control-Allow-Origin': origin };
  if (allowedOrigins.length > 1) allowed.Vary = 'Origin';
  if (!isPreflight) return { headers: allowed };
  const requestedHeaders = String(headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  return {
    preflight: {
      ...allowed,
      ...(requestedHeaders.length ? { 'Access-Control-Allow-Headers': requestedHeaders.join(',') } : {}),
      'Access-Control-Allow-Methods': String(requestedMethod),
    },
    headers: {},
  };
}
