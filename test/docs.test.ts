/**
 * The docs as a newcomer reads them: README.md and everything under docs/.
 * - Every link goes somewhere: a relative link to a file that exists (and, with `#anchor`, to one of its headings,
 *   by GitHub's anchors), every file under docs/ is reached from README by links, links leave the repository only
 *   over https (the local service aside), and the local service's pages they name answer.
 * - Every `sh` block is either run or says why it cannot be, with a word this file explains (`sh azure`). The
 *   runnable blocks of a document run in order as one script, as a reader pastes them into one shell, against
 *   `npm start` as a newcomer runs it (every development default), with `http://localhost:7071` its address and
 *   `curl` failing on an HTTP error status: a documented command that stops working fails here. README's
 *   walkthrough comes first, and every other document continues in the shell it leaves (its `$SESSION` is Ada's),
 *   as a reader who started there; the documents share the one service, so each works after the others.
 * - JSON blocks parse.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readMarkdown, type MarkdownDocument } from './support/markdown';
import { startWithDevelopmentDefaults } from './support/process';

const ROOT = path.resolve(__dirname, '..');
const LOCAL_SERVICE = 'http://localhost:7071';

/** The words that mark an `sh` block not run here, each with the reason, which a reader of the block can take as given. */
const NOT_RUN: Record<string, string> = {
  setup: 'the commands this test stands for: `npm install` and `npm start` (the service the other blocks run against) and `npm test` (this run)',
  azure: 'needs an Azure subscription (azd, az)',
  func: 'needs Azure Functions Core Tools, which cannot be installed here (its installer downloads a binary)',
};

/** Shell blocks say they are `sh`, so none escapes the check under another name. */
const OTHER_SHELLS = new Set(['bash', 'shell', 'console', 'zsh', 'shell-session']);

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
  );

/** README first: the others continue in its shell. */
const DOCUMENTS = ['README.md', ...filesUnder(path.join(ROOT, 'docs')).filter((file) => file.endsWith('.md')).map((file) => path.relative(ROOT, file)).sort()];
/** Whose links are followed too: the READMEs of the typed client and of infra/, which the docs send readers to. */
const LINKED_DOCUMENTS = [...DOCUMENTS, 'client/README.md', 'infra/README.md'];

const read = new Map<string, MarkdownDocument>();
/** The document at `file` (relative to the repository), read once. */
function markdown(file: string): MarkdownDocument {
  if (!read.has(file)) read.set(file, readMarkdown(readFileSync(path.join(ROOT, file), 'utf8')));
  return read.get(file)!;
}

const isUrl = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** Where a relative link of `from` leads, relative to the repository, and its anchor. */
function resolveLink(from: string, target: string): { file: string; anchor?: string } {
  const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = pathPart === '' ? from : path.normalize(path.join(path.dirname(from), decodeURIComponent(pathPart)));
  return { file, anchor };
}

/** What is wrong with a link of `from`, if anything. */
function brokenLink(from: string, target: string): string | undefined {
  if (isUrl(target)) {
    if (target.startsWith(`${LOCAL_SERVICE}/`) || target === LOCAL_SERVICE) return undefined;
    return target.startsWith('https://') ? undefined : 'leaves the repository other than over https';
  }
  const { file, anchor } = resolveLink(from, target);
  if (file.startsWith('..') || path.isAbsolute(file)) return 'leads outside the repository';
  if (!existsSync(path.join(ROOT, file))) return `names ${file}, which does not exist`;
  if (anchor === undefined) return undefined;
  if (!file.endsWith('.md')) return `has an anchor into ${file}, which has no headings`;
  return markdown(file).anchors.has(anchor) ? undefined : `names #${anchor}, which no heading of ${file} has`;
}

describe('links', () => {
  it.each(LINKED_DOCUMENTS)('%s: every link resolves', (file) => {
    const broken = markdown(file)
      .links.map(({ target, line }) => ({ at: `${file}:${line}`, target, problem: brokenLink(file, target) }))
      .filter(({ problem }) => problem);
    expect(broken).toEqual([]);
  });

  it('every file under docs/ is reached from README', () => {
    const reached = new Set<string>();
    const toRead = ['README.md'];
    while (toRead.length > 0) {
      const file = toRead.pop()!;
      if (reached.has(file)) continue;
      reached.add(file);
      if (!file.endsWith('.md') || !existsSync(path.join(ROOT, file)) || statSync(path.join(ROOT, file)).isDirectory()) continue;
      for (const { target } of markdown(file).links) {
        if (!isUrl(target)) toRead.push(resolveLink(file, target).file);
      }
    }
    const unreached = filesUnder(path.join(ROOT, 'docs')).map((file) => path.relative(ROOT, file)).filter((file) => !reached.has(file));
    expect(unreached).toEqual([]);
  });
});

describe('fenced blocks', () => {
  const blocks = DOCUMENTS.flatMap((file) => markdown(file).blocks.map((block) => ({ ...block, at: `${file}:${block.line}` })));

  it('shell blocks are sh, and an sh block not run says why with a known word', () => {
    const unexplained = blocks
      .filter(({ info: [language, reason] }) => OTHER_SHELLS.has(language) || (language === 'sh' && reason !== undefined && !(reason in NOT_RUN)))
      .map(({ at, info }) => `${at}: \`\`\`${info.join(' ')}`);
    expect(unexplained).toEqual([]);
  });

  it('JSON blocks parse', () => {
    for (const { at, code } of blocks.filter(({ info: [language] }) => language === 'json')) {
      expect(() => JSON.parse(code)).not.toThrow(at);
    }
  });
});

/**
 * Runs `script` in bash in a process group of its own, which is ended with it (and after a minute at most), so
 * nothing a script starts outlives it.
 */
function runShell(script: string): Promise<{ status: number | string; output: string }> {
  return new Promise((resolve) => {
    const shell = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    shell.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    shell.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const endGroup = () => {
      try {
        process.kill(-shell.pid!, 'SIGKILL');
      } catch {
        // The group has ended already.
      }
    };
    const timeout = setTimeout(endGroup, 60_000);
    shell.once('close', (code, signal) => {
      clearTimeout(timeout);
      endGroup();
      resolve({ status: code ?? signal ?? 'killed', output });
    });
  });
}

describe('against npm start', () => {
  let service: { url: string; process: ChildProcess };
  let shellState: string;

  beforeAll(async () => {
    const entry = path.join(ROOT, 'dist', 'local', 'start.js');
    if (!existsSync(entry)) throw new Error('dist/local/start.js is missing: npm run build first (npm test does)');
    service = await startWithDevelopmentDefaults();
    shellState = mkdtempSync(path.join(os.tmpdir(), 'docs-shell-'));
  }, 60_000);

  afterAll(() => {
    service?.process.kill();
    if (shellState) rmSync(shellState, { recursive: true, force: true });
  });

  it("every link to the local service answers (not 404)", async () => {
    const local = DOCUMENTS.flatMap((file) =>
      markdown(file)
        .links.filter(({ target }) => target.startsWith(LOCAL_SERVICE))
        .map(({ target, line }) => ({ at: `${file}:${line}`, target })),
    );
    const missing: string[] = [];
    for (const { at, target } of local) {
      const answer = await fetch(service.url + target.slice(LOCAL_SERVICE.length));
      await answer.body?.cancel();
      if (answer.status === 404) missing.push(`${at}: ${target}`);
    }
    expect(missing).toEqual([]);
  });

  /**
   * A reader's shell: `set -euo pipefail`, the working directory the repository, and `curl` failing on an HTTP error
   * status (with the answer's body) where the reader would see the problem and stop.
   */
  const PRELUDE = 'curl() { command curl --fail-with-body --show-error "$@"; }\n';
  const SHELL_STATE = 'shell.sh';

  it.each(DOCUMENTS.filter((file) => markdown(file).blocks.some(({ info }) => info[0] === 'sh' && info.length === 1)))(
    "%s: its commands run, in order, against npm start",
    async (file) => {
      const runnable = markdown(file).blocks.filter(({ info }) => info[0] === 'sh' && info.length === 1);
      const commands = runnable.map(({ code }) => code.replaceAll(LOCAL_SERVICE, service.url)).join('\n');
      // The variables the reader's shell holds after README, for the documents that continue in it.
      const assigned = [...new Set([...commands.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((match) => match[1]))];
      const state = path.join(shellState, SHELL_STATE);
      if (file !== 'README.md' && !existsSync(state)) throw new Error(`${file} continues in README's shell, and README's commands did not finish`);
      const script =
        PRELUDE +
        (file === 'README.md' ? '' : `source ${JSON.stringify(state)}\n`) +
        `${commands}\n` +
        (file === 'README.md' && assigned.length > 0 ? `declare -p ${assigned.join(' ')} > ${JSON.stringify(state)}\n` : '');
      const run = await runShell(script);
      if (run.status !== 0) throw new Error(`The commands of ${file} failed (${run.status}):\n${run.output}`);
    },
    90_000,
  );
});
