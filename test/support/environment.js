const path = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

/**
 * Libraries every test file loads that hold no state a test could leak into the next: the Cosmos DB and Communication
 * Services Email SDKs (each file's app makes clients of its own) and the Cosmos DB stand-in (each file starts a server
 * of its own, with its own data). Jest gives each test file a module registry of its own and loads every module again
 * in it, so a file would run this code cold: loaded, compiled and warmed up again in every file, for thousands of
 * requests. Loaded here, in the worker itself, they load once per worker, as Node.js's own modules do (which Jest
 * never loads again either); test files get them through the mapping in jest.config.js (test/support/shared/).
 *
 * The price, the same as for Node.js's own modules: their objects come from the worker's realm, not the test file's,
 * so `instanceof Error` in app or test code is false for an error the SDK throws. The app tells Cosmos DB's errors
 * apart by their `code`; where it only records one, it records `String(error)` here.
 */
const standIn = path.dirname(require.resolve('@vercel/cosmosdb-server'));
const SHARED_MODULES = {
  '@azure/cosmos': require('@azure/cosmos'),
  '@vercel/cosmosdb-server': require('@vercel/cosmosdb-server'),
  '@azure/communication-email': require('@azure/communication-email'),
  // The stand-in's query compiler, which local/standins/cosmos.ts rewrites: the instance the stand-in uses.
  '@zeit/cosmosdb-query/lib/transformer': require(require.resolve('@zeit/cosmosdb-query/lib/transformer', { paths: [standIn] })),
};

class SharedLibrariesEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.global.__sharedModules = SHARED_MODULES;
  }
}

module.exports = SharedLibrariesEnvironment;
