/**
 * What the Azure Functions Node.js worker provides as the module `@azure/functions-core`, reduced to what
 * `@azure/functions` calls while function files load and while they are invoked: the local host and the bench
 * read the registrations and the programming model from here (local/worker.ts invokes through it).
 */
import type { HttpHandler, TimerHandler } from '@azure/functions';

export interface BindingMetadata {
  type: string;
  direction: string;
  name?: string;
  route?: string;
  methods?: string[];
  schedule?: string;
}

/** What `@azure/functions` registers for a function (its toCoreFunctionMetadata): a name and its bindings. */
export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
}

export interface RegisteredFunction {
  name: string;
  trigger: BindingMetadata;
  /** The binding name the trigger's data is sent under (`httpTrigger1`, `timerTrigger1`, ...). */
  triggerName: string;
  metadata: FunctionMetadata;
  handler: HttpHandler | TimerHandler;
}

/** The typed data of the worker's gRPC messages (Azure/azure-functions-nodejs-worker types-core, RpcTypedData). */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  http?: RpcHttpData | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  nullableHeaders?: Record<string, { value?: string | null }> | null;
  nullableQuery?: Record<string, { value?: string | null }> | null;
  nullableParams?: Record<string, { value?: string | null }> | null;
  body?: RpcTypedData | null;
  statusCode?: string | null;
  cookies?: unknown[] | null;
}

/** The worker's CoreInvocationContext: the host's invocation request, the function's metadata, a logger. */
export interface CoreInvocationContext {
  invocationId: string;
  request: {
    invocationId: string;
    functionId: string;
    inputData: Array<{ name: string; data: RpcTypedData }>;
    triggerMetadata: Record<string, RpcTypedData>;
    traceContext?: { traceParent?: string; traceState?: string; attributes?: Record<string, string> };
  };
  metadata: FunctionMetadata;
  state?: 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';
  log(level: string, category: string, message: string): void;
}

/** The programming model a library registers (`@azure/functions`' ProgrammingModel and InvocationModel). */
export interface ProgrammingModel {
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: (...args: never[]) => unknown): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<{ returnValue?: RpcTypedData | null }>;
}

type HookCallback = (context: unknown) => unknown;

export const registeredFunctions: RegisteredFunction[] = [];
export const appStartHooks: HookCallback[] = [];

let programmingModel: ProgrammingModel | undefined;

export function setProgrammingModel(model: ProgrammingModel): void {
  programmingModel = model;
}

export function getProgrammingModel(): ProgrammingModel | undefined {
  return programmingModel;
}

export function registerFunction(metadata: FunctionMetadata, handler: RegisteredFunction['handler']): { dispose(): void } {
  const triggerName = Object.keys(metadata.bindings).find((name) => /trigger$/i.test(metadata.bindings[name].type));
  if (triggerName === undefined) throw new Error(`Function ${metadata.name} has no trigger`);
  // The worker's own check and words (Azure/azure-functions-nodejs-worker src/coreApi/registerFunction.ts).
  if (registeredFunctions.some((f) => f.name === metadata.name)) {
    throw new Error(`A function with id "${metadata.name}" has already been registered.`);
  }
  const entry = { name: metadata.name, trigger: metadata.bindings[triggerName], triggerName, metadata, handler };
  registeredFunctions.push(entry);
  return { dispose: () => registeredFunctions.splice(registeredFunctions.indexOf(entry), 1) };
}

export function registerHook(hookName: string, callback: HookCallback): { dispose(): void } {
  if (hookName !== 'appStart') return { dispose: () => undefined };
  appStartHooks.push(callback);
  return { dispose: () => appStartHooks.splice(appStartHooks.indexOf(callback), 1) };
}
