/**
 * The code is built in layers, and every import points down or sideways within its own folder: the function
 * files on the HTTP adapter, the adapter on the domains, the domains on the shared services. Account deletion
 * is a workflow over the domains, so it sits above them; support (what site admins do) acts on all of them,
 * deletion included, so it sits above that. Trusted publishing makes keys (packages) for organizations, so it
 * sits above those, and deletion clears its policies. local/ (the local host, npm start and its stand-ins)
 * may use any of lib/; nothing outside test/ imports from test/, which is left out of the deployed package.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');

/** Highest first. */
const LAYERS = ['functions', 'lib/http', 'lib/support', 'lib/deletion', 'lib/trustedPublishing', 'lib/organizations', 'lib/packages', 'lib/accounts', 'lib/shared'];

const within = (file: string, folder: string) => file === folder || file.startsWith(`${folder}/`);

const layerOf = (file: string) => LAYERS.findIndex((layer) => within(file, layer));

/** Every relative module a source imports, in any form: `import`, `import type`, `export … from`, `require()`, `import()`. */
function relativeImports(source: string): string[] {
  return ts
    .preProcessFile(source, true, true)
    .importedFiles.map((imported) => imported.fileName)
    .filter((name) => name.startsWith('./') || name.startsWith('../'));
}

/** Why `file` (a path from the root) may not import `imported`, or undefined if it may. */
function layerViolation(file: string, imported: string): string | undefined {
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), imported));
  const where = `${file} imports '${imported}' (${target})`;
  if (within(target, 'test')) return `${where}: only tests import from test/`;
  if (within(file, 'local')) {
    return within(target, 'local') || within(target, 'lib') ? undefined : `${where}: local/ may import only local/ and lib/`;
  }
  const from = layerOf(file);
  const to = layerOf(target);
  if (from === -1) return `${file} belongs to no layer`;
  if (to === -1) return `${where}: ${LAYERS[from]} may import only its own layer and those below it`;
  if (to < from) return `${where}: ${LAYERS[to]} is a higher layer than ${LAYERS[from]}`;
  return undefined;
}

function sourcesUnder(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js)$/.test(entry.name))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

describe('the layers', () => {
  const files = ['functions', 'lib', 'local'].flatMap(sourcesUnder);
  const imports = files.flatMap((file) => relativeImports(readFileSync(path.join(ROOT, file), 'utf8')).map((imported) => ({ file, imported })));

  it('hold: no import in functions/, lib/ or local/ points up a layer, or into test/', () => {
    expect(imports.length).toBeGreaterThan(300);
    const violations = imports.map(({ file, imported }) => layerViolation(file, imported)).filter(Boolean);
    expect(violations).toEqual([]);
  });

  it('put every file of lib/ in a layer', () => {
    expect(files.filter((file) => within(file, 'lib') && layerOf(file) === -1)).toEqual([]);
  });

  it('are read from every form of import, and would catch each kind of mistake', () => {
    const source = [
      "import type { A } from '../accounts/account';",
      "export { b } from './b';",
      "const c = require('../../test/support/service');",
      "type D = typeof import('../d');",
      "import 'zod';",
    ].join('\n');
    expect(relativeImports(source)).toEqual(['../accounts/account', './b', '../../test/support/service', '../d']);
    expect(layerViolation('lib/shared/tokens.ts', '../accounts/account')).toMatch(/lib\/accounts is a higher layer than lib\/shared/);
    expect(layerViolation('lib/packages/packages.ts', '../organizations/membership')).toMatch(/higher layer/);
    expect(layerViolation('lib/accounts/account.ts', '../http/operation')).toMatch(/higher layer/);
    expect(layerViolation('lib/shared/clock.ts', '../../local/host')).toMatch(/only its own layer and those below/);
    expect(layerViolation('lib/http/operation.ts', '../../functions/health')).toMatch(/functions is a higher layer/);
    expect(layerViolation('local/start.ts', '../test/standins/identity')).toMatch(/only tests import from test/);
    expect(layerViolation('local/start.ts', '../functions/health')).toMatch(/local\/ may import only local\/ and lib\//);
    expect(layerViolation('functions/health.ts', '../local/host')).toMatch(/only its own layer and those below/);
    expect(layerViolation('lib/accounts/recovery/recovery.ts', '../account')).toBeUndefined();
    expect(layerViolation('lib/organizations/membership.ts', '../packages/apiKeys')).toBeUndefined();
    expect(layerViolation('local/start.ts', '../lib/shared/settings')).toBeUndefined();
  });
});
