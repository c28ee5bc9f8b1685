const { availableParallelism } = require('node:os');

/** @type {import('jest').Config} */
module.exports = {
  // Node.js, with the libraries that keep no state loaded once per worker, not once per file (test/support/environment.js).
  testEnvironment: '<rootDir>/test/support/environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': '<rootDir>/test/support/typescriptTransform.js' },
  moduleNameMapper: {
    // The Functions worker provides this module at run time; locally our host provides it.
    '^@azure/functions-core$': '<rootDir>/local/functionsCore.ts',
    // Loaded once per worker (test/support/environment.js lists the same modules).
    '^@azure/cosmos$': '<rootDir>/test/support/shared/cosmos.js',
    '^@azure/communication-email$': '<rootDir>/test/support/shared/communicationEmail.js',
    '^@vercel/cosmosdb-server$': '<rootDir>/test/support/shared/cosmosdbServer.js',
    // local/standins/cosmos.ts requires it by its resolved path.
    '/@zeit/cosmosdb-query/lib/transformer(\\.js)?$': '<rootDir>/test/support/shared/cosmosdbQueryTransformer.js',
  },
  testTimeout: 30000,
  // Test files run side by side in worker processes, each file with a service, stand-ins, database and ports of its
  // own: a worker a core and one more, since a file also waits (on child processes and Chromium, on the 300 ms the
  // enumeration-safe answers take, on emails sent in the background) and another can use the core meanwhile.
  maxWorkers: availableParallelism() + 1,
  testSequencer: '<rootDir>/test/support/sequencer.js',
};
