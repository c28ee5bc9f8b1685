/**
 * The local host refuses what the Azure Functions host refuses, with the host's own words: each case loads a
 * deliberately wrong function app (test/fixtures/functionApp.ts) and expects start-up to fail, or to succeed
 * where the real host accepts the app.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { LocalHost, LocalHostOptions } from '../local/host';
import { waitFor } from './support/waitFor';

const FIXTURE = path.join(__dirname, 'fixtures', 'functionApp.ts');

interface FixtureFunction {
  name: string;
  route?: string;
  methods?: string[];
  schedule?: string;
}

/** Starts a local host on the fixture app, in a module registry of its own, as a fresh worker would load it. */
async function startWith(functions: FixtureFunction[], options: Partial<Pick<LocalHostOptions, 'adminAccess' | 'runSchedules' | 'log'>> = {}): Promise<LocalHost> {
  process.env.FIXTURE_FUNCTIONS = JSON.stringify(functions);
  let started: Promise<LocalHost> | undefined;
  await jest.isolateModulesAsync(async () => {
    const { startLocalHost } = require('../local/host') as typeof import('../local/host');
    started = startLocalHost({ port: 0, corsOrigins: [], runSchedules: false, log: () => undefined, app: { entryPoints: [FIXTURE] }, ...options });
    await started.catch(() => undefined);
  });
  return started!;
}

async function refusal(functions: FixtureFunction[]): Promise<string> {
  const host = await startWith(functions).catch((error: Error) => error);
  if (!(host instanceof Error)) {
    await host.close();
    throw new Error(`the local host started with ${JSON.stringify(functions)}`);
  }
  return host.message;
}

afterAll(() => {
  delete process.env.FIXTURE_FUNCTIONS;
});

describe('function names (the host: ^[a-z][a-z0-9_\\-]{0,127}$ ignoring case, and never "host")', () => {
  it.each(['host', 'Host', 'HOST', '1st', '_private', '-dash', 'get.me', 'get me', 'café', 'a'.repeat(129), ''])(
    'refuses %j in the host’s words',
    async (name) => {
      const message = await refusal([{ name: 'fine', route: 'fine' }, { name, route: 'wrong' }]);
      expect(message).toContain(`The '${name}' function is in error: '${name}' is not a valid function name.`);
      expect(message).not.toContain("'fine'");
    },
  );

  it.each(['a', 'hosts', 'myHost', 'get-me_2', 'A'.repeat(128)])('accepts %j', async (name) => {
    const host = await startWith([{ name, route: 'anything' }]);
    expect(host.functions.map((fn) => fn.name)).toEqual([name]);
    await host.close();
  });

  it('refuses a second function of the same name, as the Node.js worker does while loading the file', async () => {
    const message = await refusal([{ name: 'twice', route: 'one' }, { name: 'twice', route: 'two' }]);
    expect(message).toMatch(/^Worker was unable to load entry point "[^"]*functionApp\.ts": A function with id "twice" has already been registered\.$/);
  });
});

describe('routes the host keeps for itself (admin…, runtime…: slashes trimmed, case ignored, any prefix)', () => {
  it.each([
    ['admin/prefixes', 'adminPrefixes'],
    ['/Admin/prefixes', 'adminPrefixes'],
    ['administrators', 'listAdministrators'],
    ['ADMIN', 'adminRoot'],
    ['runtime/status', 'runtimeStatus'],
    ['//runtimes/', 'runtimes'],
  ])('refuses the route %j', async (route, name) => {
    const message = await refusal([{ name, route }]);
    expect(message).toContain(`The '${name}' function is in error: The specified route conflicts with one or more built in routes.`);
  });

  it('refuses a function without a route whose name starts with admin: its name is its route', async () => {
    expect(await refusal([{ name: 'adminTool' }])).toContain(
      "The 'adminTool' function is in error: The specified route conflicts with one or more built in routes.",
    );
  });

  it.each(['site-admin/prefixes', 'me/admin', 'xadmin', 'run-time'])('accepts %j', async (route) => {
    const host = await startWith([{ name: 'fine', route }]);
    await host.close();
  });
});

describe('two functions on one method and route template', () => {
  it('refuses the second, naming the first', async () => {
    const message = await refusal([
      { name: 'getThing', route: 'things/{id}', methods: ['GET'] },
      { name: 'readThing', route: '/Things/{id}/', methods: ['POST', 'GET'] },
    ]);
    expect(message).toContain("The 'readThing' function is in error: The route specified conflicts with the route defined by function 'getThing'.");
    expect(message).not.toContain("The 'getThing' function");
  });

  it('refuses two functions that both take the default methods (GET and POST) on one route', async () => {
    expect(await refusal([{ name: 'one', route: 'same' }, { name: 'two', route: 'same' }])).toContain(
      "The 'two' function is in error: The route specified conflicts with the route defined by function 'one'.",
    );
  });

  it('accepts one route template with different methods, and templates that differ only in a parameter name', async () => {
    const host = await startWith([
      { name: 'getThing', route: 'things/{id}', methods: ['GET'] },
      { name: 'deleteThing', route: 'things/{id}', methods: ['DELETE'] },
      { name: 'renameThing', route: 'things/{name}', methods: ['PATCH'] },
    ]);
    expect(host.functions).toHaveLength(3);
    await host.close();
  });

  it('names every refused function at once', async () => {
    const message = await refusal([
      { name: 'host', route: 'a' },
      { name: 'adminThing', route: 'admin/thing' },
      { name: 'first', route: 'b' },
      { name: 'second', route: 'b' },
    ]);
    expect(message.split('\n').slice(1)).toEqual([
      "The 'host' function is in error: 'host' is not a valid function name.",
      "The 'adminThing' function is in error: The specified route conflicts with one or more built in routes.",
      "The 'second' function is in error: The route specified conflicts with the route defined by function 'first'.",
    ]);
  });
});

describe('the admin API (POST /admin/functions/{name}) and the master key', () => {
  const MASTER_KEY = randomBytes(32).toString('base64url');
  const TIMERS: FixtureFunction[] = [{ name: 'sweep', schedule: '0 0 3 * * *' }];

  /** Runs a timer as an operator would, with `headers` and `query` added; answers the status and the challenge. */
  async function runTimer(host: LocalHost, headers: Record<string, string> = {}, query = '', name = 'sweep', contentType = 'application/json') {
    const response = await fetch(`${host.url}/admin/functions/${name}${query}`, {
      method: 'POST',
      headers: { 'Content-Type': contentType, ...headers },
      body: '{}',
    });
    await host.idle();
    return { status: response.status, challenge: response.headers.get('www-authenticate') };
  }

  it('answers only the master key, in x-functions-key or ?code=, when it has one (production)', async () => {
    const host = await startWith(TIMERS, { adminAccess: { masterKey: MASTER_KEY } });
    try {
      // The real host's answer without the key: 401 with its JwtBearer challenge, before the body or the name is looked at.
      const refused = { status: 401, challenge: 'Bearer' };
      expect(await runTimer(host)).toEqual(refused);
      expect(await runTimer(host, { 'x-functions-key': `${MASTER_KEY.slice(0, -1)}x` })).toEqual(refused);
      expect(await runTimer(host, { 'x-functions-key': '' })).toEqual(refused);
      expect(await runTimer(host, {}, '?code=wrong')).toEqual(refused);
      expect(await runTimer(host, {}, '', 'noSuchFunction')).toEqual(refused);
      expect(await runTimer(host, {}, '', 'sweep', 'text/plain')).toEqual(refused);
      // The header wins over the query parameter, even when it is wrong.
      expect(await runTimer(host, { 'x-functions-key': 'wrong' }, `?code=${MASTER_KEY}`)).toEqual(refused);

      expect(await runTimer(host, { 'x-functions-key': MASTER_KEY })).toEqual({ status: 202, challenge: null });
      expect(await runTimer(host, {}, `?code=${encodeURIComponent(MASTER_KEY)}`)).toEqual({ status: 202, challenge: null });
      expect((await runTimer(host, { 'x-functions-key': MASTER_KEY }, '', 'noSuchFunction')).status).toBe(404);
    } finally {
      await host.close();
    }
  });

  it('is off without a master key: every call answers 401', async () => {
    const host = await startWith(TIMERS, { adminAccess: { masterKey: undefined } });
    try {
      for (const headers of [{}, { 'x-functions-key': '' }, { 'x-functions-key': MASTER_KEY }] as Array<Record<string, string>>) {
        expect(await runTimer(host, headers)).toEqual({ status: 401, challenge: 'Bearer' });
      }
      expect((await runTimer(host, {}, '?code=')).status).toBe(401);
    } finally {
      await host.close();
    }
  });

  it('is open when not told otherwise, as under func start', async () => {
    const host = await startWith(TIMERS);
    try {
      expect(await runTimer(host)).toEqual({ status: 202, challenge: null });
    } finally {
      await host.close();
    }
  });
});

describe('timers on their schedules, in real time as npm start runs them', () => {
  /** A host running the fixture's timers on their schedules, and the names of the timers that ran, a line a run. */
  async function scheduled(functions: FixtureFunction[]) {
    const runs: string[] = [];
    const log = (line: string) => {
      const ran = /^\[(\w+)\] \w+: ran$/.exec(line);
      if (ran) runs.push(ran[1]);
    };
    return { host: await startWith(functions, { runSchedules: true, log }), runs };
  }

  it('runs a timer when its schedule comes, by itself', async () => {
    const { host, runs } = await scheduled([{ name: 'everySecond', schedule: '* * * * * *' }]);
    try {
      await waitFor(() => runs.length > 0, { what: 'a run of everySecond' });
      expect(runs[0]).toBe('everySecond');
    } finally {
      await host.close();
    }
  });

  it('waits for a run further off than one setTimeout reaches (24.8 days), rather than running it at once', async () => {
    const DAY_MS = 24 * 60 * 60 * 1000;
    // Only the timers and the date are faked: the host's sockets and promises run as ever.
    jest.useFakeTimers({ now: new Date(2026, 0, 5), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'hrtime', 'performance'] });
    try {
      const { host, runs } = await scheduled([{ name: 'monthly', schedule: '0 0 0 1 * *' }]);
      try {
        // From 5 January, the next first of a month is 27 days off.
        for (const [wait, ran] of [[1000, []], [26 * DAY_MS, []], [DAY_MS, ['monthly']]] as const) {
          await jest.advanceTimersByTimeAsync(wait);
          await host.idle();
          expect(runs).toEqual(ran);
        }
      } finally {
        await host.close();
      }
    } finally {
      jest.useRealTimers();
    }
  });
});
