/**
 * `azd package` for the api service, replayed step by step as azd runs it, in a copy of this project
 * (Azure/azure-dev cli/azd/pkg/project: service_manager.go Package, framework_service_node.go Restore and
 * Package, service_target_functionapp.go Package, project_utils.go createDeployableZip; pkg/tools/node):
 *  1. restore: `npm install --no-audit --no-fund --prefer-offline`, skipped while node_modules/.package-lock.json
 *     is not older than package-lock.json (node.IsDependenciesUpToDate);
 *  2. the service's prepackage hooks from azure.yaml;
 *  3. `npm run build --if-present` in the project;
 *  4. the zip: the service's `dist` folder, less what an ignore file there leaves out, `.azure` folders, the
 *     ignore file itself and local.settings.json; node_modules stays (`remoteBuild: false`);
 *  5. the postpackage hooks.
 * Then every function of the package is loaded in a fresh Node process that has nothing but the package's
 * own production node_modules, as the Functions worker loads it, and a password sign-in is invoked there, which
 * hashes in the password worker thread (WebAssembly) started from the bundle.
 */
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BUNDLE } from '../local/bundle';
import { DEPLOY_FOLDER, ignoreRule, keptFiles, makeDeployPackage } from '../local/deployPackage';
import { readAzureYaml, yamlValue } from './support/azureYaml';
import { SETTINGS_IN_AZURE } from './support/settings';
import { provisionedCosmosStandIn } from './support/storage';

const ROOT = path.join(__dirname, '..');
const azureYaml = readAzureYaml(ROOT);
const service = (...keys: string[]) => yamlValue(azureYaml, 'services', 'api', ...keys);

let work: string;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'azd-package-'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
}

/** node.IsDependenciesUpToDate: node_modules/.package-lock.json is there and not older than package-lock.json. */
function dependenciesUpToDate(project: string): boolean {
  const marker = path.join(project, 'node_modules', '.package-lock.json');
  return existsSync(marker) && statSync(marker).mtimeMs >= statSync(path.join(project, 'package-lock.json')).mtimeMs;
}

/** The same file at `to` (a hard link; a symbolic link made anew), for a copy nothing writes to. */
function linkEntry(from: string, to: string): void {
  if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), to);
  else linkSync(from, to);
}

/** `from`'s files at `to`, in folders made anew. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) linkTree(path.join(from, entry.name), path.join(to, entry.name));
    else linkEntry(path.join(from, entry.name), path.join(to, entry.name));
  }
}

/**
 * This checkout as azd finds it: what a clone holds (tracked files and new ones not ignored), with node_modules as
 * installed and dist/ as the last build left it, each file's times kept, so azd's up-to-date check and the compiler's
 * read them as they would here.
 */
function copyProject(to: string): void {
  const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split('\n').filter(Boolean)) {
    if (!existsSync(path.join(ROOT, file))) continue;
    mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    cpSync(path.join(ROOT, file), path.join(to, file), { preserveTimestamps: true });
  }
  // The same files as the project's node_modules (in a second, where copying its 25,000 takes ten), unless azd's
  // restore is to run npm install there: npm rewrites some files in place, which would change the project's own.
  if (dependenciesUpToDate(ROOT)) linkTree(path.join(ROOT, 'node_modules'), path.join(to, 'node_modules'));
  else cpSync(path.join(ROOT, 'node_modules'), path.join(to, 'node_modules'), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  // What the last build made (the client's as well), copied, not linked: the builds in the copy write there.
  for (const built of ['dist', 'client/dist']) cpSync(path.join(ROOT, built), path.join(to, built), { recursive: true, preserveTimestamps: true });
}

function runHooks(project: string, name: string): string[] {
  const command = service('hooks', name, 'posix', 'run');
  if (command === undefined) return [];
  expect(service('hooks', name, 'posix', 'shell')).toBe('sh');
  run('sh', ['-c', command], project);
  return [command];
}

/** createDeployableZip's choice of files under the package folder. */
function zippedFiles(folder: string): string[] {
  const ignoreFile = '.funcignore';
  const ignored = existsSync(path.join(folder, ignoreFile)) ? ignoreRule(readFileSync(path.join(folder, ignoreFile), 'utf8')) : undefined;
  const remoteBuild = service('remoteBuild') !== 'false';
  return keptFiles(folder, (relativePath, isDirectory) => {
    const name = path.posix.basename(relativePath);
    if (name === '.azure' && isDirectory) return true;
    if ((name === ignoreFile || name === 'local.settings.json') && !isDirectory) return true;
    if (ignored) return ignored(relativePath, isDirectory);
    return name === 'node_modules' && isDirectory && remoteBuild;
  });
}

/**
 * Runs in the fresh process: the worker's loading and invoking (this project's compiled local host and worker),
 * then a password sign-in of an unknown user, which costs an argon2 hash in the password worker thread.
 */
const LOADER = `
const path = require('node:path');
const fs = require('node:fs');
const { builtinModules } = require('node:module');
const [hostModule, workerModule, root] = process.argv.slice(1);
(async () => {
  const { loadFunctionApp } = require(hostModule);
  const { invokeFunction, httpTriggerData } = require(workerModule);
  const functions = await loadFunctionApp({ root });
  // Modules the code requires only when first used (or hands a worker thread by path) must resolve from the package as well.
  const required = new Set();
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).forEach((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return walk(file);
    for (const [, name] of fs.readFileSync(file, 'utf8').matchAll(/require(?:\\.resolve)?\\("([^".][^"]*)"\\)/g)) required.add(name);
  });
  walk(path.join(root, 'dist'));
  const unresolved = [...required].filter((name) => {
    if (name.startsWith('node:') || builtinModules.includes(name) || name === '@azure/functions-core') return false;
    try { require.resolve(name, { paths: [path.join(root, 'dist')] }); return false; } catch { return true; }
  });
  const body = Buffer.from(JSON.stringify({ username: 'nobody-here', password: 'a passphrase to check' }));
  const answer = await invokeFunction(
    functions.find((fn) => fn.name === 'signInWithPassword'),
    httpTriggerData({ method: 'POST', url: 'https://gallery.example/api/auth/password', headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, query: new URLSearchParams(), params: {}, body }),
    (level, message) => console.error(level, message),
  );
  const passwordSignIn = { status: Number(answer.http.statusCode), body: JSON.parse(Buffer.from(answer.http.body.bytes).toString()) };
  console.log(JSON.stringify({ functions: functions.map((fn) => fn.name), required: [...required], unresolved, passwordSignIn }));
  process.exit(0);
})().catch((error) => { console.error(error.stack); process.exit(1); });
`;

describe('azd package for the api service', () => {
  it('replays azd’s steps into a package that loads every function with production dependencies only', async () => {
    const project = path.join(work, 'project');
    copyProject(project);
    // 1. restore
    if (!dependenciesUpToDate(project)) run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], project);
    // 2. prepackage hooks, 3. the build azd runs after them, 4. the zip, 5. postpackage hooks
    expect(runHooks(project, 'prepackage')).toEqual(['npm run deploy-package']);
    run('npm', ['run', 'build', '--if-present'], project);
    const folder = path.join(project, service('dist') ?? '.');
    const files = zippedFiles(folder);
    runHooks(project, 'postpackage');

    // What the zip holds, alone in a folder of its own (no node_modules above it to fall back on).
    const unzipped = path.join(work, 'wwwroot');
    for (const file of files) {
      mkdirSync(path.dirname(path.join(unzipped, file)), { recursive: true });
      linkEntry(path.join(folder, file), path.join(unzipped, file));
    }
    expect(readdirSync(unzipped).sort()).toEqual(['dist', 'host.json', 'node_modules', 'package.json']);
    // The function files bundled into the one file package.json's main names (local/bundle.ts).
    expect(readdirSync(path.join(unzipped, 'dist'))).toEqual(['bundle']);
    expect(files.filter((file) => file.startsWith('dist/'))).toEqual(['dist/bundle/functions.js']);
    expect(files.filter((file) => file.startsWith('dist/') && !file.endsWith('.js'))).toEqual([]);

    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const installed = (name: string) => existsSync(path.join(unzipped, 'node_modules', name, 'package.json'));
    expect(Object.keys(manifest.dependencies).filter((name) => !installed(name))).toEqual([]);
    const installedPackages = (JSON.parse(readFileSync(path.join(unzipped, 'node_modules', '.package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    }).packages;
    // A development dependency may be there only because a production dependency needs it too (@azure/identity
    // needs @azure/msal-browser, which the development console also uses): the lockfile then marks it not dev.
    const projectLock = (JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    }).packages;
    const developmentOnly = (name: string) => projectLock[`node_modules/${name}`]?.dev === true;
    expect(Object.keys(manifest.devDependencies).filter((name) => developmentOnly(name) && installed(name))).toEqual([]);
    expect(Object.keys(manifest.devDependencies).filter((name) => !developmentOnly(name))).toEqual(['@azure/msal-browser']);
    expect(Object.entries(installedPackages).filter(([, entry]) => entry.dev).map(([name]) => name)).toEqual([]);
    // Nothing to compile and no platform binary.
    expect(files.filter((file) => /\.node$|binding\.gyp$/.test(file))).toEqual([]);

    // The stand-in answers from this process, so the package runs in another without blocking it.
    const cosmos = await provisionedCosmosStandIn();
    let output: string;
    try {
      const local = path.join(ROOT, 'dist', 'local');
      ({ stdout: output } = await promisify(execFile)(process.execPath, ['-e', LOADER, path.join(local, 'host.js'), path.join(local, 'worker.js'), unzipped], {
        cwd: unzipped,
        env: { PATH: process.env.PATH, ...SETTINGS_IN_AZURE, ...cosmos.settings },
      }));
    } finally {
      await cosmos.server.close();
    }
    const result = JSON.parse(output) as { functions: string[]; required: string[]; unresolved: string[]; passwordSignIn: { status: number; body: { code: string } } };
    const declared = readdirSync(path.join(ROOT, 'functions')).flatMap((file) =>
      [...readFileSync(path.join(ROOT, 'functions', file), 'utf8').matchAll(/\b(?:app\.\w+|operation)\(\s*'([^']+)'/g)].map((match) => match[1]),
    );
    expect(result.functions.sort()).toEqual(declared.sort());
    // What the bundle leaves to node_modules is there, and resolves.
    expect(result.required).toEqual(expect.arrayContaining(['@azure/cosmos', 'hash-wasm']));
    expect(result.unresolved).toEqual([]);
    // An unknown user costs an argon2 hash like a wrong password: the worker thread ran from the bundle.
    expect(result.passwordSignIn).toEqual({ status: 401, body: expect.objectContaining({ code: 'invalid_credentials' }) });

    // The README's deploy steps build the package the same way.
    const readme = readFileSync(path.join(ROOT, 'infra', 'README.md'), 'utf8');
    expect(readme).toContain('npm run deploy-package');
    expect(readme).toContain(`(cd ${service('dist')} && zip -qr ../app.zip .)`);
  }, 300000);

  it('refuses to package what an older build left in dist/ and this one does not make', () => {
    const project = path.join(work, 'built-before');
    for (const file of ['.funcignore', 'host.json', 'package.json']) cpSync(path.join(ROOT, file), path.join(project, file));
    for (const built of [BUNDLE, 'dist/lib/old.js', 'dist/renamed/functions.js']) {
      mkdirSync(path.dirname(path.join(project, built)), { recursive: true });
      writeFileSync(path.join(project, built), '');
    }
    expect(() => makeDeployPackage(project)).toThrow('dist/renamed/functions.js: not made by this build');
    expect(existsSync(path.join(project, DEPLOY_FOLDER))).toBe(false);
  });
});
