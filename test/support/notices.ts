import type { DeliveredEmail } from '../../local/standins/acsEmail';
import { clock } from '../../lib/shared/clock';
import type { Member } from './organizations';
import type { ApiResponse, TestService } from './service';
import { emailsTo } from './waitFor';

/** How long after a change its notice to many waits for the outbox timer: the hold its writer keeps on it. */
export const NOTICE_HOLD_MS = 60 * 1000;

/**
 * Runs the outbox timer as its every-minute schedule would once the notices queued so far are no longer held by
 * the requests that queued them (a minute): it announces the pushes made, expands each notice into one email
 * per recipient and sends them. The service's clock is a minute and a bit ahead for the run only, and goes back
 * to what it was (a test's own moved clock too).
 */
export async function deliverNotices(service: TestService): Promise<void> {
  const spy = jest.spyOn(clock, 'now');
  const before = spy.getMockImplementation();
  const later = new Date(clock.now().getTime() + NOTICE_HOLD_MS + 5_000);
  spy.mockImplementation(() => later);
  try {
    await service.host.runTimer('deliverPendingEmails');
  } finally {
    if (before) spy.mockImplementation(before);
    else spy.mockRestore();
  }
}

/** The emails to `address` whose subject matches, in the order they arrived. */
export function noticesTo(service: TestService, address: string, subject: string | RegExp): DeliveredEmail[] {
  return emailsTo(service, address).filter((email) => (typeof subject === 'string' ? email.subject === subject : subject.test(email.subject)));
}

export interface NotificationSettings {
  emailAllowed?: boolean;
  notifyPackagePushed?: boolean;
}

/** `PATCH /api/me { notifications }` as `member`. */
export const setNotifications = (service: TestService, member: Pick<Member, 'sessionToken'>, notifications: NotificationSettings): Promise<ApiResponse> =>
  service.call('PATCH', '/api/me', { token: member.sessionToken, body: { notifications } });
