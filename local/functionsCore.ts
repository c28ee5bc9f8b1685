/**
 * What the Azure Functions Node.js worker provides as the module `@azure/functions-core`, reduced to what
 * `@azure/functions` calls while function files load: the local host reads the registrations from here.
 */
import type { HttpHandler, TimerHandler } from '@azure/functions';

export interface RegisteredFunction {
  name: string;
  trigger: { type: string; route?: string; methods?: string[]; schedule?: string };
  handler: HttpHandler | TimerHandler;
}

type HookCallback = (context: unknown) => unknown;

export const registeredFunctions: RegisteredFunction[] = [];
export const appStartHooks: HookCallback[] = [];

let programmingModel: unknown;

export function setProgrammingModel(model: unknown): void {
  programmingModel = model;
}

export function getProgrammingModel(): unknown {
  return programmingModel;
}

export function registerFunction(
  metadata: { name: string; bindings: Record<string, { type: string; direction: string; route?: string; methods?: string[]; schedule?: string }> },
  handler: RegisteredFunction['handler'],
): { dispose(): void } {
  const trigger = Object.values(metadata.bindings).find((binding) => /trigger$/i.test(binding.type));
  if (!trigger) throw new Error(`Function ${metadata.name} has no trigger`);
  // The worker's own check and words (Azure/azure-functions-nodejs-worker src/coreApi/registerFunction.ts).
  if (registeredFunctions.some((f) => f.name === metadata.name)) {
    throw new Error(`A function with id "${metadata.name}" has already been registered.`);
  }
  const entry = { name: metadata.name, trigger, handler };
  registeredFunctions.push(entry);
  return { dispose: () => registeredFunctions.splice(registeredFunctions.indexOf(entry), 1) };
}

export function registerHook(hookName: string, callback: HookCallback): { dispose(): void } {
  if (hookName !== 'appStart') return { dispose: () => undefined };
  appStartHooks.push(callback);
  return { dispose: () => appStartHooks.splice(appStartHooks.indexOf(callback), 1) };
}
