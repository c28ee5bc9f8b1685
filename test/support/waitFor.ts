import type { DeliveredEmail } from '../../local/standins/acsEmail';
import type { TestService } from './service';

/**
 * Polls `probe` until it returns something truthy, and returns that. For effects the service finishes after
 * it answered, such as emails sent in the background.
 */
export async function waitFor<T>(
  probe: () => T | undefined | null | false,
  { timeoutMs = 5000, intervalMs = 20, what = 'the condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Waited ${timeoutMs} ms for ${what} in vain`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Every email delivered so far to `address` (compared case-insensitively). */
export function emailsTo(service: TestService, address: string): DeliveredEmail[] {
  const wanted = address.toLowerCase();
  return service.mailbox.delivered.filter((email) => email.to.some((to) => to.toLowerCase() === wanted));
}

/** The first email to `address` whose subject matches, once it has arrived. */
export function waitForEmailTo(service: TestService, address: string, subject?: string | RegExp, timeoutMs?: number): Promise<DeliveredEmail> {
  const matches = (email: DeliveredEmail) =>
    subject === undefined || (typeof subject === 'string' ? email.subject === subject : subject.test(email.subject));
  return waitFor(() => emailsTo(service, address).find(matches), { timeoutMs, what: `an email to ${address}` });
}

/** The `token=` of a link in an email. */
export function tokenIn(link: string): string {
  const token = new URL(link).searchParams.get('token');
  if (!token) throw new Error(`No token in ${link}`);
  return token;
}
