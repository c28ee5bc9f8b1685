import { randomUUID } from 'node:crypto';
import type * as http from 'node:http';
import type * as https from 'node:https';
import path from 'node:path';
import { createHttpServer, createHttpsServer } from '@vercel/cosmosdb-server';

/**
 * The Cosmos DB stand-in (`@vercel/cosmosdb-server`), keeping connections alive as Cosmos DB does. Left to its
 * default it answers every request with `Connection: close` (its request handler writes that header unless the
 * server was created with the option `keepAlive: true`), so each SDK request would open a new connection, and
 * anything measured against it would count a connect per request that the real service never pays.
 */
export function createCosmosStandIn(): http.Server {
  answerQueriesInLinearTime();
  return withoutQueryPlans(createHttpServer({ keepAlive: true }));
}

/** The same over https, with the stand-in's own self-signed certificate, as the Cosmos DB emulator serves. */
export function createCosmosStandInWithTls(): https.Server {
  answerQueriesInLinearTime();
  return withoutQueryPlans(createHttpsServer({ keepAlive: true }));
}

/**
 * The SDK asks the gateway for a query's plan beside every query it sends (`QueryIterator.fetchQueryPlan`, started
 * eagerly, its answer or error kept aside), and reads the plan only when the query itself was refused as one that
 * needs it ("Cross partition query only supports ..."), which the stand-in never answers. The stand-in knows no plans:
 * it took the request for the query itself and ran it a second time, every scan and sort twice. It now refuses the
 * request at once, so a query that ever came to need a plan fails with this message instead of running on a wrong one.
 */
function withoutQueryPlans<Server extends http.Server>(server: Server): Server {
  return inFrontOfStandIn(server, (req, res, standIn) => {
    if (String(req.headers['x-ms-cosmos-is-query-plan-request']).toLowerCase() !== 'true') return standIn(req, res);
    req.resume();
    res.writeHead(400, { 'content-type': 'application/json', 'x-ms-activity-id': randomUUID(), 'x-ms-request-charge': '0' });
    res.end(JSON.stringify({ code: 'BadRequest', message: 'The Cosmos DB stand-in makes no query plans.' }));
  });
}

/** Puts `handle` in front of the server's own request handler, which it hands the requests it lets through. */
export function inFrontOfStandIn<Server extends http.Server>(
  server: Server,
  handle: (req: http.IncomingMessage, res: http.ServerResponse, standIn: http.RequestListener) => unknown,
): Server {
  const [standIn] = server.listeners('request') as http.RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => handle(req, res, standIn));
  return server;
}

/** A node of the JavaScript syntax tree the stand-in's query compiler builds (Babel's shape). */
interface SyntaxNode {
  type: string;
  [field: string]: unknown;
}

const isNode = (value: unknown): value is SyntaxNode => typeof value === 'object' && value !== null && typeof (value as SyntaxNode).type === 'string';
const isAccumulator = (node: unknown) => isNode(node) && node.type === 'Identifier' && node.name === '$';

/** `[...$, a, ...b]` as `($.push(a, ...b), $)`: the same array, made in constant time instead of copied. */
function pushedInPlace(node: unknown): unknown {
  if (!isNode(node) || node.type !== 'ArrayExpression') return node;
  const [first, ...rest] = node.elements as SyntaxNode[];
  if (!isNode(first) || first.type !== 'SpreadElement' || !isAccumulator(first.argument)) return node;
  const accumulator = { type: 'Identifier', name: '$' };
  const push = { type: 'MemberExpression', object: accumulator, property: { type: 'Identifier', name: 'push' }, computed: false };
  return { type: 'SequenceExpression', expressions: [{ type: 'CallExpression', callee: push, arguments: rest }, accumulator] };
}

/** Rewrites, in place, every `.reduce(($, c) => … [...$, …] …, [])` the compiler made for a query's `FROM` and `JOIN`s. */
function rewriteReducers(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(rewriteReducers);
    return;
  }
  if (!isNode(node)) return;
  const callee = node.callee as SyntaxNode | undefined;
  const [reducer] = (node.arguments as SyntaxNode[] | undefined) ?? [];
  if (node.type === 'CallExpression' && callee?.type === 'MemberExpression' && isNode(callee.property) && callee.property.name === 'reduce') {
    if (isNode(reducer) && reducer.type === 'ArrowFunctionExpression' && isAccumulator((reducer.params as unknown[])[0])) {
      const body = reducer.body as SyntaxNode;
      if (body.type === 'ConditionalExpression') body.consequent = pushedInPlace(body.consequent);
      else reducer.body = pushedInPlace(body);
    }
  }
  for (const value of Object.values(node)) rewriteReducers(value);
}

const LINEAR = Symbol.for('cosmos-stand-in.linear-time-queries');

/**
 * The stand-in compiles each query into JavaScript (`@zeit/cosmosdb-query`) that gathers the container's documents
 * with `reduce(($, c) => [...$, { c }], [])`: it copies the array it builds once per document, so a query over a
 * container of 80,000 documents (a package's versions at the old limit of its document) took a minute, where Cosmos DB
 * answers from its index. The compiled code is rewritten to push onto that array instead, each array being the
 * `reduce`'s own, made fresh for it: the same answers, in time linear in the documents. Done once per process, before
 * the first query is compiled (the compiler reads its transformer's export at each compilation).
 */
function answerQueriesInLinearTime(): void {
  const server = path.dirname(require.resolve('@vercel/cosmosdb-server'));
  const transformer = require(require.resolve('@zeit/cosmosdb-query/lib/transformer', { paths: [server] })) as {
    default: ((sql: unknown) => unknown) & { [LINEAR]?: true };
  };
  // Marked on the compiler itself, not here: the tests load this module afresh for each file, the compiler once.
  if (transformer.default[LINEAR]) return;
  const compile = transformer.default;
  transformer.default = Object.assign(
    (sql: unknown) => {
      const program = compile(sql);
      rewriteReducers(program);
      return program;
    },
    { [LINEAR]: true as const },
  );
}
