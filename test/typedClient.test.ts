/**
 * The typed client (client/, @gallery/account-client): its committed types are what openapi-typescript makes of the
 * OpenAPI document the app serves; a small frontend written against its build (test/fixtures/frontend/app.ts)
 * compiles, strict and for the browser, while a wrong body field, answer field or problem code does not
 * (mistakes.ts); and that frontend, bundled as a browser app would be, signs in and reads the account against the
 * test service, so the types and the real answers agree.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import ts from 'typescript';
import { newPerson, uniqueName } from './support/people';
import { useTestService } from './support/service';

const ROOT = path.resolve(__dirname, '..');
const CLIENT_SCHEMA = 'client/src/schema.ts';
const FRONTEND = path.join(__dirname, 'fixtures', 'frontend');

const service = useTestService();

/** Fails with what to do when `npm run build` has not run: the generator and the client are used as built. */
function expectBuilt(file: string): void {
  if (!existsSync(path.join(ROOT, file))) throw new Error(`${file} is not built: run \`npm run build\` first (npm test does)`);
}

/**
 * The text `npm run client:generate` writes for the document the service at `url` serves, from the compiled generator
 * in a process of its own: openapi-typescript's CommonJS build requires an ES module, which Node.js loads and jest's
 * module registry does not.
 */
async function generatedSchema(url: string): Promise<string> {
  const generator = 'dist/local/clientSchema.js';
  expectBuilt(generator);
  const script = `fetch(process.argv[1]).then((answer) => answer.json()).then(require(process.argv[2]).clientSchema).then((text) => process.stdout.write(text))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, url, path.join(ROOT, generator)], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Where two texts first differ, by line, for a message a person can act on. */
function firstDifference(committed: string, generated: string): string {
  const [before, after] = [committed.split('\n'), generated.split('\n')];
  const found = before.findIndex((line, index) => line !== after[index]);
  const line = found === -1 ? before.length : found;
  return `line ${line + 1} is ${JSON.stringify(before[line] ?? '(the end)')} but the app serves ${JSON.stringify(after[line] ?? '(the end)')}`;
}

describe('the committed types of the client', () => {
  it('are what openapi-typescript makes of the OpenAPI document the app serves', async () => {
    const generated = await generatedSchema(`${service.url}/api/openapi.json`);
    const committed = readFileSync(path.join(ROOT, CLIENT_SCHEMA), 'utf8');
    if (committed !== generated) {
      throw new Error(
        `${CLIENT_SCHEMA} is not what the app serves (${firstDifference(committed, generated)}). ` +
          'Run `npm run client:generate` and commit the file.',
      );
    }
  });
});

describe('a frontend written against the client', () => {
  /** Errors by file, as `line: TS1234`, of the fixtures compiled with the frontend's tsconfig.json (client/'s options). */
  let errors: Record<'app.ts' | 'mistakes.ts', string[]>;

  beforeAll(() => {
    expectBuilt('client/dist/index.d.ts');
    const config = ts.getParsedCommandLineOfConfigFile(path.join(FRONTEND, 'tsconfig.json'), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    })!;
    const program = ts.createProgram([path.join(FRONTEND, 'app.ts'), path.join(FRONTEND, 'mistakes.ts')], config.options);
    const diagnostics = ts.getPreEmitDiagnostics(program);
    const of = (file: string) =>
      diagnostics
        .filter((diagnostic) => diagnostic.file?.fileName === path.join(FRONTEND, file) || (!diagnostic.file && file === 'app.ts'))
        .map((diagnostic) => {
          const line = diagnostic.file ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start!).line + 1 : 0;
          return `${line}: TS${diagnostic.code} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ').slice(0, 160)}`;
        });
    errors = { 'app.ts': of('app.ts'), 'mistakes.ts': of('mistakes.ts') };
  });

  it('compiles, strict, with the DOM and without Node.js', () => {
    expect(errors['app.ts']).toEqual([]);
  });

  it('does not compile with a body field, value, route, answer field or problem code the API does not have', () => {
    const expected = readFileSync(path.join(FRONTEND, 'mistakes.ts'), 'utf8')
      .split('\n')
      .flatMap((text, index) => [...text.matchAll(/\/\/ expect (TS\d+)$/g)].map(([, code]) => `${index + 1}: ${code}`));
    expect(expected.length).toBeGreaterThanOrEqual(10);
    expect(errors['mistakes.ts'].map((error) => error.replace(/^(\d+: TS\d+) .*/, '$1'))).toEqual(expected);
  });

  it('signs a newcomer in and registers, reads the account, and narrows problems by code, against the service', async () => {
    const work = mkdtempSync(path.join(os.tmpdir(), 'typed-client-'));
    try {
      // Bundled for the browser as a frontend's bundler would, then run by a script that stands in for its pages.
      const program = path.join(work, 'frontend.mjs');
      await build({
        stdin: {
          contents: `
            import { explainSignInError, showAccount, signIn, signOutEverywhere } from './app.ts';
            const { baseUrl, tokens, username } = JSON.parse(process.argv[2]);
            // What went over the wire: each request, and whether it carried the session.
            const requests = [];
            const send = globalThis.fetch;
            globalThis.fetch = (request, init) => {
              requests.push(request.method + ' ' + new URL(request.url).pathname + (request.headers.has('Authorization') ? ' with the session' : ''));
              return send(request, init);
            };
            const pages = {};
            pages.registered = await signIn(baseUrl, tokens.newcomer, username);
            pages.signedInAgain = await signIn(baseUrl, tokens.again, 'never-used');
            pages.withoutTwoStep = await signIn(baseUrl, tokens.withoutTwoStep, 'never-used');
            pages.redirectError = await explainSignInError(baseUrl, tokens.redirectError);
            await signOutEverywhere(baseUrl);
            pages.afterSigningOut = await showAccount(baseUrl);
            // A proxy's error page is no answer of the service: thrown, not passed off as a problem.
            globalThis.fetch = async () => new Response('<h1>502 Bad Gateway</h1>', { status: 502, headers: { 'Content-Type': 'text/html' } });
            pages.behindABrokenProxy = await showAccount(baseUrl).catch((error) => error.name);
            console.log(JSON.stringify({ pages, requests }));
          `,
          resolveDir: FRONTEND,
          sourcefile: 'pages.ts',
          loader: 'ts',
        },
        outfile: program,
        bundle: true,
        platform: 'browser',
        format: 'esm',
        target: 'es2022',
        logLevel: 'warning',
      });
      const ada = newPerson();
      const username = uniqueName('ada');
      const tokens = {
        newcomer: { idToken: service.idTokenFor(ada) },
        again: { idToken: service.idTokenFor(ada) },
        withoutTwoStep: { idToken: service.identity.mint({ email: newPerson().email }, { mfa: false }) },
        redirectError: { error: 'invalid_request', errorDescription: "AADSTS65005: The application is not supported for this unmanaged tenant 'contoso.example'." },
      };
      const { stdout } = await promisify(execFile)(process.execPath, [program, JSON.stringify({ baseUrl: `${service.url}/api`, tokens, username })]);
      const { pages, requests } = JSON.parse(stdout);

      expect(pages.registered).toEqual({
        page: 'account',
        account: expect.objectContaining({
          username,
          emailAddress: ada.email,
          microsoftAccount: { email: ada.email, accountType: 'personal', twoFactor: 'verified' },
        }),
      });
      expect(pages.signedInAgain).toEqual(pages.registered);
      expect(pages.withoutTwoStep).toEqual({ page: 'turn-on-two-step-verification', detail: expect.stringContaining('two-step verification') });
      expect(pages.redirectError).toEqual({ page: 'problem', code: 'unmanaged_tenant', detail: expect.any(String) });
      expect(pages.afterSigningOut).toEqual({ page: 'sign-in' });
      expect(pages.behindABrokenProxy).toBe('UnexpectedResponseError');
      // The session goes to the routes that take one, and to no other.
      expect(requests).toEqual([
        'POST /api/auth/microsoft',
        'POST /api/accounts',
        'GET /api/me with the session',
        'POST /api/auth/microsoft',
        'GET /api/me with the session',
        'POST /api/auth/microsoft',
        'POST /api/auth/microsoft',
        'POST /api/auth/sign-out-everywhere with the session',
        'GET /api/me',
      ]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
