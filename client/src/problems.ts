import type { components, operations } from './schema.js';

/** Every problem `code` the service answers, as its OpenAPI document lists them (the contract's codes). */
export type ProblemCode = components['schemas']['Problem']['code'];

/**
 * An RFC 9457 problem as the service answers it: `{ type, title, status, detail, code }`. A union by code, so
 * `if (problem.code === 'mfa_required')` narrows it; `GalleryProblem<'unauthorized' | 'invalid_api_key'>` is one of
 * those codes.
 */
export type GalleryProblem<Code extends ProblemCode = ProblemCode> = Code extends ProblemCode
  ? Omit<components['schemas']['Problem'], 'code'> & { code: Code }
  : never;

/** The name of an operation (its operationId), such as `getMe` or `registerAccount`. */
export type OperationId = keyof operations;

type Responses<Operation extends OperationId> = operations[Operation]['responses'];

/**
 * The problems an operation answers, each with the codes its status documents: what `error` holds in the results of
 * that route. `ProblemOf<'registerAccount'>['code']` is every code `POST /api/accounts` answers.
 */
export type ProblemOf<Operation extends OperationId> = {
  [Status in keyof Responses<Operation>]: Responses<Operation>[Status] extends { content: { 'application/problem+json': infer Problem } } ? Problem : never;
}[keyof Responses<Operation>];

/**
 * Whether `value` is a problem of the service (of one of `codes`, when given): for values whose type is not known,
 * such as a caught error or the answer of a route whose failures have another shape.
 */
export function isGalleryProblem<Code extends ProblemCode = ProblemCode>(value: unknown, ...codes: Code[]): value is GalleryProblem<Code> {
  if (typeof value !== 'object' || value === null) return false;
  const { type, title, status, detail, code } = value as Record<string, unknown>;
  return (
    typeof type === 'string' &&
    typeof title === 'string' &&
    typeof status === 'number' &&
    typeof detail === 'string' &&
    typeof code === 'string' &&
    (codes.length === 0 || (codes as string[]).includes(code))
  );
}
