const path = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

/**
 * Libraries every test file loads that hold no state a test could leak into the next: the Cosmos DB SDK (each file's
 * app makes its own client) and the Cosmos DB stand-in (each file starts its own server, with its own data). Jest
 * gives each test file a module registry of its own and loads every module again in it, so a file otherwise runs
 * this code cold: loaded, compiled and warmed up again, in every file, for thousands of requests. Loaded here, in the
 * worker itself, they are loaded once per worker, as Node.js's own modules are (which Jest never loads again either),
 * and test files get them through the mapping in jest.config.js (test/support/shared/).
 *
 * What this costs: like Node.js's own modules, their objects come from the worker's realm, not the test file's, so
 * `instanceof Error` in a test file is false for an error the SDK throws; the app reads such errors by their fields.
 */
const standIn = path.dirname(require.resolve('@vercel/cosmosdb-server'));
const SHARED_MODULES = {
  '@azure/cosmos': require('@azure/cosmos'),
  '@vercel/cosmosdb-server': require('@vercel/cosmosdb-server'),
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
