/**
 * The second half of `npm run build`: bundles every function file (functions/*.ts, each as it is, one
 * operation a file) with the code they import into one file, dist/bundle/functions.js, which package.json's
 * `main` names: the worker then loads one file instead of some 250 modules, and a cold start stays short.
 * esbuild runs here only, at build time; the bundle is plain JavaScript.
 *
 * Left out of the bundle, and required from node_modules on first use as before: the module the worker
 * provides, and the SDKs and data loaded only when needed (Cosmos DB, Communication Services, the credential
 * chain, the common-password list, hash-wasm, which the password worker thread loads by path, and the public suffix
 * list of tldts, which only confirming an address and the lapsed-domain timer read).
 *
 * It also bundles the development console's script (local/console/console.ts, with @azure/msal-browser and the
 * typed client) for the browser into dist/console/console.js, which local/console.ts serves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { CONSOLE_SCRIPT } from './console';

export const BUNDLE = 'dist/bundle/functions.js';

const LOADED_ON_FIRST_USE = ['@azure/cosmos', '@azure/identity', '@azure/communication-email', '@zxcvbn-ts/language-common', 'hash-wasm', 'tldts'];

/**
 * zod's English messages only. zod re-exports every language it speaks (`z.locales`, more than a third of
 * its code) and configures English itself; this app neither reads another language nor switches.
 */
const zodInEnglishOnly: Plugin = {
  name: 'zod-in-english-only',
  setup(bundler) {
    bundler.onResolve({ filter: /\/locales\/index\.c?js$/ }, ({ path: request, importer }) => {
      if (!/[\\/]node_modules[\\/]zod[\\/]/.test(importer)) return undefined;
      return { path: path.join(path.dirname(importer), path.dirname(request), `en${path.extname(request)}`), namespace: 'zod-english' };
    });
    bundler.onLoad({ filter: /.*/, namespace: 'zod-english' }, ({ path: english }) => ({
      contents: `export { default as en } from ${JSON.stringify(english)};`,
      resolveDir: path.dirname(english),
    }));
  },
};

/**
 * jsonwebtoken asks at load whether this Node.js has RSA-PSS and key details (`semver.satisfies(process.version,
 * ...)` for 8, 15.7 and 16.9), which loads all of semver and compiles its regular expressions on every cold
 * start. Every Node.js package.json's `engines` allows has them, so the answer is given here, once.
 */
function jsonwebtokenOnSupportedNode(root: string): Plugin {
  const { engines } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
  const majors = (engines.node.match(/\d+/g) ?? []).map(Number);
  if (majors.length === 0 || Math.min(...majors) < 17) throw new Error(`engines.node '${engines.node}' allows a Node.js older than 17: bundle jsonwebtoken's own checks`);
  return {
    name: 'jsonwebtoken-on-supported-node',
    setup(bundler) {
      bundler.onResolve({ filter: /^\.\/(lib\/)?(psSupported|asymmetricKeyDetailsSupported|rsaPssKeyDetailsSupported)$/ }, ({ path: request, importer }) =>
        /[\\/]node_modules[\\/]jsonwebtoken[\\/]/.test(importer) ? { path: request, namespace: 'node-supports' } : undefined,
      );
      bundler.onLoad({ filter: /.*/, namespace: 'node-supports' }, () => ({ contents: 'module.exports = true;', loader: 'js' }));
    },
  };
}

export async function bundleFunctions(root: string): Promise<void> {
  const functionFiles = readdirSync(path.join(root, 'functions'))
    .filter((file) => file.endsWith('.ts'))
    .sort();
  await build({
    // The files in the worker's order (it loads `main`'s matches sorted); each registers its own operation.
    // Imported, not required: esbuild then puts every module in one scope instead of wrapping each in an
    // initialiser of its own.
    stdin: {
      contents: functionFiles.map((file) => `import ${JSON.stringify(`./functions/${file}`)};`).join('\n'),
      resolveDir: root,
      sourcefile: 'functions/*.ts',
      loader: 'js',
    },
    outfile: path.join(root, BUNDLE),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // ES modules where a package ships them, so what the app does not use can be left out.
    mainFields: ['module', 'main'],
    external: ['@azure/functions-core', ...LOADED_ON_FIRST_USE],
    plugins: [zodInEnglishOnly, jsonwebtokenOnSupportedNode(root)],
    // Less to parse on every cold start. Stack traces then show the bundle's short names: the source map beside
    // it (not deployed) reads them back. esbuild's keepNames would keep the names by wrapping every function
    // created at run time in a naming call, which costs on the hot path.
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
}

/** The console's script as a browser loads it: one classic script, left readable (not minified). */
export async function bundleDevelopmentConsole(root: string): Promise<void> {
  await build({
    entryPoints: [path.join(root, 'local', 'console', 'console.ts')],
    outfile: path.join(root, CONSOLE_SCRIPT),
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    logLevel: 'warning',
  });
}

if (require.main === module) {
  const root = path.resolve(__dirname, '..', '..');
  Promise.all([bundleFunctions(root), bundleDevelopmentConsole(root)]).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
