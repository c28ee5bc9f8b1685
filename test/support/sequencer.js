const { readFileSync } = require('node:fs');
const Sequencer = require('@jest/test-sequencer').default;

/** A test file that starts other processes (the compiled app, npm, Chromium) and spends much of its time waiting on them. */
const STARTS_PROCESSES = /from '(?:node:)?child_process'|from 'playwright-core'|from '\.\/support\/process'/;

/**
 * Jest's own order (what failed last time first, then by the durations it keeps, slowest first, and files it has no
 * duration for before those; with none kept, as on a fresh clone, by size), except that files starting other processes
 * come first: they are the longest (the azd package replay, Chromium), and their waiting then overlaps the other
 * workers' work instead of ending the run. The files say so themselves, so a new one is placed without a list to keep.
 */
class ProcessesFirst extends Sequencer {
  /** @param {import('@jest/test-result').Test[]} tests */
  sort(tests) {
    const startsProcesses = new Map(tests.map((test) => [test.path, STARTS_PROCESSES.test(readFileSync(test.path, 'utf8'))]));
    const sorted = /** @type {import('@jest/test-result').Test[]} */ (super.sort(tests));
    return [...sorted.filter((test) => startsProcesses.get(test.path)), ...sorted.filter((test) => !startsProcesses.get(test.path))];
  }
}

module.exports = ProcessesFirst;
