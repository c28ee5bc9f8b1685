import { useTestService } from './support/service';


const service = useTestService({ runSchedules: true });

describe('timer functions on their schedule', () => {
  it('delivers an email that failed, on the next minute, without anyone asking', async () => {
    service.mailbox.failNextSends(1);
    const { person } = await service.register();
    expect(service.mailbox.delivered.filter((e) => e.to.includes(person.email))).toHaveLength(0);

    // deliverPendingEmails runs at second 0 of every minute; the email's first retry is due a minute after
    // the failure, so it arrives within two minutes at most.
    const deadline = Date.now() + 125_000;
    while (Date.now() < deadline && !service.mailbox.delivered.some((e) => e.to.includes(person.email))) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(service.mailbox.delivered.filter((e) => e.to.includes(person.email))).toHaveLength(1);
  }, 130_000);
});
