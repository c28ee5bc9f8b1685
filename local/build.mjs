// `npm run build`: the three TypeScript programs, then the bundles (local/bundle.ts). Plain JavaScript, since it
// runs before anything is compiled. The function app's program needs nothing of the client's, so it compiles beside
// the client and the console that is written on it: on two cores a build takes the longest of the two, not the sum.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Runs `node ...args` with this terminal; rejects, naming the command, when it fails. */
function node(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} failed (${signal ?? code})`))));
  });
}

// Build mode: a program whose files are as its last build saw them (its state in dist/tsbuildinfo/) is not compiled
// again at all, where `tsc -p` would read and check every file to find that nothing changed.
const compile = (project) => node(tsc, '--build', project);

try {
  const results = await Promise.allSettled([
    compile('tsconfig.json'),
    compile('client').then(() => compile('local/console')),
  ]);
  const failed = results.filter((result) => result.status === 'rejected');
  if (failed.length > 0) throw new Error(failed.map((result) => result.reason.message).join('; '));
  await node('dist/local/bundle.js');
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
}
