/**
 * Runs `work`, then waits until at least `ms` have passed since the call, so answers that must not reveal
 * which path they took (an address known or not) take the same time from outside.
 */
export async function withMinimumDuration<T>(ms: number, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  const remaining = ms - (performance.now() - started);
  if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
  return result;
}
