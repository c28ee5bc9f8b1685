const { readFileSync } = require('node:fs');
const Sequencer = require('@jest/test-sequencer').default;

/** A test file that starts other processes (the compiled app, npm, Chromium) and spends much of its time waiting on them. */
const STARTS_PROCESSES = /from '(?:node:)?child_process'|from 'playwright-core'|from '\.\/support\/process'/;

/** A test file that gives a test or hook a minute or more (`}, 120_000);`): one of the long ones, however short its text. */
const TAKES_MINUTES = /(?:, |^\s*)(?:[6-9]\d|[1-9]\d{2})_000\);/m;

/**
 * Jest's own order (what failed last time first, then by the durations it keeps, slowest first, and files it has no
 * duration for before those; with none kept, as on a fresh clone, by size), except that the long files come first:
 * those starting other processes (the azd package replay, Chromium), whose waiting then overlaps the other workers'
 * work, then those that allow themselves minutes (the tests at scale, short files that build large data), so that
 * neither ends the run with the other workers idle. On a fresh clone, where Jest knows no durations, file size alone
 * would put the tests at scale last. The files say so themselves, so a new one is placed without a list to keep.
 */
class LongFilesFirst extends Sequencer {
  /** @param {import('@jest/test-result').Test[]} tests */
  sort(tests) {
    const rank = new Map(
      tests.map((test) => {
        const source = readFileSync(test.path, 'utf8');
        return [test.path, STARTS_PROCESSES.test(source) ? 0 : TAKES_MINUTES.test(source) ? 1 : 2];
      }),
    );
    const sorted = /** @type {import('@jest/test-result').Test[]} */ (super.sort(tests));
    return [0, 1, 2].flatMap((group) => sorted.filter((test) => rank.get(test.path) === group));
  }
}

module.exports = LongFilesFirst;
