const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { transform } = require('sucrase');

/** What makes a transformed file differ besides its source: this file and sucrase's version. */
const TRANSFORMER = createHash('sha256')
  .update(readFileSync(__filename))
  .update(require('sucrase/package.json').version)
  .digest('hex');

/**
 * Jest's transform for TypeScript: sucrase removes the types and turns imports into `require` (tsc has checked the
 * types: `npm test` builds first), as tsc writes CommonJS: `exports.name` and plain property reads. Where the cache is
 * empty (a fresh clone), every Jest worker transforms the same files; TypeScript's own transpiler (ts-jest's) costs
 * each worker loading the compiler and several times sucrase's time a file.
 */
module.exports = {
  getCacheKey(source, filename) {
    return createHash('sha256').update(TRANSFORMER).update(filename).update(source).digest('hex');
  },
  process(source, filename) {
    const { code, sourceMap } = transform(source, {
      transforms: ['typescript', 'imports'],
      filePath: filename,
      disableESTransforms: true,
      sourceMapOptions: { compiledFilename: filename },
    });
    return { code, map: sourceMap };
  },
};
