import { clock } from '../../lib/shared/clock';
import type { ScheduleClock } from '../../local/scheduleClock';

/**
 * The service's time, held by the test: `clock.now` stands still (a test may still spy on it for a moment) and
 * moves only when the test lets time pass, and the host's timer schedules run by the same time.
 */
export interface HeldTime extends ScheduleClock {
  /**
   * Lets `ms` pass: every timer run the schedules call for on the way is made at its own moment, in order, and
   * finished before time moves on, as if the host had waited for it in real time.
   */
  passTime(ms: number): Promise<void>;
  /** Gives `clock.now` back to real time. */
  release(): void;
}

export function holdTime(): HeldTime {
  const realNow = clock.now;
  let current = Date.now();
  clock.now = () => new Date(current);
  const waiting = new Set<{ at: number; wake: () => Promise<void> }>();
  return {
    now: () => new Date(current),
    wakeAt(at, wake) {
      const entry = { at: at.getTime(), wake };
      waiting.add(entry);
      return () => waiting.delete(entry);
    },
    async passTime(ms) {
      const until = current + ms;
      for (;;) {
        const [due] = [...waiting].filter(({ at }) => at <= until).sort((a, b) => a.at - b.at);
        if (!due) break;
        waiting.delete(due);
        current = Math.max(current, due.at);
        await due.wake();
      }
      current = until;
    },
    release() {
      clock.now = realNow;
    },
  };
}
