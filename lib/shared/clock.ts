/**
 * The service's single source of "now". Expiry, lockout and token-age rules read the time here so tests can
 * move it (jest.spyOn(clock, 'now')) without touching the process clock the SDKs rely on.
 */
export const clock = {
  now(): Date {
    return new Date();
  },
};

export function nowIso(): string {
  return clock.now().toISOString();
}

export function secondsSinceEpoch(): number {
  return Math.floor(clock.now().getTime() / 1000);
}
