/**
 * The time the local host runs timer functions by: real time under `npm start`, a time the test holds in the
 * tests (test/support/heldTime.ts), so a schedule's next run comes when the test says rather than at the next
 * real minute.
 */
export interface ScheduleClock {
  now(): Date;
  /**
   * Calls `wake` once it is `at` (at once if that has passed). `wake` resolves when what it started is done, for
   * a clock that waits for it before it moves on. Answers a function that cancels the call.
   */
  wakeAt(at: Date, wake: () => Promise<void>): () => void;
}

/** setTimeout's longest delay; a longer one would fire at once (Node.js warns and waits 1 ms). */
const LONGEST_TIMEOUT_MS = 2 ** 31 - 1;

export const realTime: ScheduleClock = {
  now: () => new Date(),
  wakeAt(at, wake) {
    let timeout: NodeJS.Timeout;
    // A schedule may name a time further off than one timeout reaches (a monthly run): wait in steps.
    const arm = () => {
      const wait = Math.max(0, at.getTime() - Date.now());
      timeout = wait > LONGEST_TIMEOUT_MS ? setTimeout(arm, LONGEST_TIMEOUT_MS) : setTimeout(() => void wake(), wait);
      timeout.unref();
    };
    arm();
    return () => clearTimeout(timeout);
  },
};
