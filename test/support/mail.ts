import type { TestService } from './service';

/** Emails sent in the background arrive a moment after the answer; wait for them, briefly. */
export async function waitForEmail(service: TestService, to: string, subject: string | RegExp, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const email = service.mailbox.delivered.find(
      (e) => e.to.includes(to) && (typeof subject === 'string' ? e.subject === subject : subject.test(e.subject)),
    );
    if (email) return email;
    if (Date.now() > deadline) throw new Error(`No email '${String(subject)}' to ${to} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function tokenFromLink(link: string): string {
  const token = new URL(link).searchParams.get('token');
  if (!token) throw new Error(`No token in ${link}`);
  return token;
}
