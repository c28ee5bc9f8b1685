import type { InvocationContext } from '@azure/functions';

/**
 * What the domain logs through: the context the Functions host hands each invocation (a request's or a
 * timer run's), so what is logged lands with the invocation that logged it.
 */
export type Log = Pick<InvocationContext, 'log' | 'warn' | 'error'>;
