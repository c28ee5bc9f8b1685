/**
 * `npm run deploy-package`: makes deploy/, the folder that runs in Azure exactly as it is. It holds what
 * .funcignore keeps of this project (host.json, package.json, the compiled dist/functions and dist/lib) and
 * the production dependencies, installed from package-lock.json with `npm ci --omit=dev`.
 *
 * The project's own node_modules is left as it is: azd runs `npm run build --if-present` after the prepackage
 * hook that calls this (Azure/azure-dev cli/azd/pkg/project/framework_service_node.go, Package), and that
 * build needs TypeScript. azd then zips deploy/ (azure.yaml `dist: deploy`); `zip` or Core Tools can too.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { BUNDLE } from './bundle';

export const DEPLOY_FOLDER = 'deploy';

export type IgnoreRule = (relativePath: string, isDirectory: boolean) => boolean;

/**
 * An ignore file as azd (gitignore rules, github.com/denormal/go-gitignore) and Core Tools (path prefixes)
 * read it alike: every pattern anchored at the root, `*` within a name, `**` for any folders, a trailing `/`
 * for folders only. Anything else is refused, since the two would read it differently.
 */
export function ignoreRule(text: string): IgnoreRule {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((pattern) => {
      if (!pattern.startsWith('/')) throw new Error(`'${pattern}' is not anchored at the root: azd and Core Tools would read it differently`);
      const folderOnly = pattern.endsWith('/');
      const parts = pattern.slice(1).replace(/\/$/, '').split('/');
      const source = parts
        .map((part, i) =>
          part === '**'
            ? '(?:[^/]+/)*'
            : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + (i < parts.length - 1 ? '/' : ''),
        )
        .join('');
      return { folderOnly, pattern: new RegExp(`^${source}$`) };
    });
  return (relativePath, isDirectory) => rules.some((rule) => (isDirectory || !rule.folderOnly) && rule.pattern.test(relativePath));
}

/** Every file under `root` that `ignored` keeps (a folder it leaves out is not entered), as relative paths. */
export function keptFiles(root: string, ignored: IgnoreRule, relative = ''): string[] {
  return readdirSync(path.join(root, relative), { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const entryPath = relative ? `${relative}/${entry.name}` : entry.name;
      const isDirectory = entry.isDirectory() || (entry.isSymbolicLink() && statSync(path.join(root, entryPath)).isDirectory());
      if (ignored(entryPath, isDirectory)) return [];
      return isDirectory ? keptFiles(root, ignored, entryPath) : [entryPath];
    });
}

function npm(args: string[], cwd: string): void {
  // The npm that runs this script (npm run sets npm_execpath), or the one on PATH.
  const execPath = process.env.npm_execpath;
  const result = execPath
    ? spawnSync(process.execPath, [execPath, ...args], { cwd, stdio: 'inherit' })
    : spawnSync('npm', args, { cwd, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed in ${cwd}`);
}

export function makeDeployPackage(root: string): { folder: string; files: number } {
  const folder = path.join(root, DEPLOY_FOLDER);
  const funcignore = ignoreRule(readFileSync(path.join(root, '.funcignore'), 'utf8'));
  if (!existsSync(path.join(root, BUNDLE))) throw new Error('Nothing is built: run npm run build first');
  // The production dependencies come from the lockfile below, not from the project's own node_modules.
  const files = keptFiles(root, (relativePath, isDirectory) => relativePath === 'node_modules' || funcignore(relativePath, isDirectory));
  // The build before this one compiled only what had changed, into a dist/ that may hold what an older build made
  // and no build makes now (a folder since renamed, say). Of dist/ only what the bundler has just written ships.
  const leftOver = files.filter((file) => file.startsWith('dist/') && file !== BUNDLE);
  if (leftOver.length > 0) throw new Error(`${leftOver.join(', ')}: not made by this build, and .funcignore keeps it. Remove dist/ and run again.`);
  rmSync(folder, { recursive: true, force: true });
  for (const file of files) {
    mkdirSync(path.dirname(path.join(folder, file)), { recursive: true });
    copyFileSync(path.join(root, file), path.join(folder, file));
  }
  copyFileSync(path.join(root, 'package-lock.json'), path.join(folder, 'package-lock.json'));
  npm(['ci', '--omit=dev', '--no-audit', '--no-fund'], folder);
  // .funcignore leaves the lockfile out of the package; npm ci has read it.
  rmSync(path.join(folder, 'package-lock.json'));
  return { folder, files: keptFiles(folder, () => false).length };
}

if (require.main === module) {
  const { folder, files } = makeDeployPackage(path.resolve(__dirname, '..', '..'));
  console.log(`Deployment package: ${folder} (${files} files)`);
}
