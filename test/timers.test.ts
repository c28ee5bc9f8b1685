import { clock } from '../lib/shared/clock';
import { useTestService } from './support/service';

const service = useTestService({ runSchedules: true });

const MINUTE_MS = 60 * 1000;

describe('timer functions on their schedule', () => {
  it('delivers an email that failed on the first run after its retry is due, without anyone asking', async () => {
    service.mailbox.failNextSends(1);
    const { person } = await service.register();
    expect(service.emailsTo(person.email)).toHaveLength(0);

    // The email's first retry is due a minute after the failure; deliverPendingEmails runs at second 0 of every
    // minute (its function file's schedule), so the run that sends it is the first at or after that.
    const failedAt = clock.now().getTime();
    const sendingRun = Math.ceil((failedAt + MINUTE_MS) / MINUTE_MS) * MINUTE_MS;
    await service.passTime(sendingRun - 1 - failedAt);
    expect(service.emailsTo(person.email)).toHaveLength(0);
    await service.passTime(1);
    expect(service.emailsTo(person.email)).toHaveLength(1);
  });
});
