/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  // The Functions worker provides this module at run time; locally our host provides it.
  moduleNameMapper: { '^@azure/functions-core$': '<rootDir>/local/functionsCore.ts' },
  testTimeout: 30000,
};
