import type * as http from 'node:http';
import type * as https from 'node:https';
import { createHttpServer, createHttpsServer } from '@vercel/cosmosdb-server';

/**
 * The Cosmos DB stand-in (`@vercel/cosmosdb-server`), keeping connections alive as Cosmos DB does. Left to its
 * default it answers every request with `Connection: close` (its request handler writes that header unless the
 * server was created with the option `keepAlive: true`), so each SDK request would open a new connection, and
 * anything measured against it would count a connect per request that the real service never pays.
 */
export function createCosmosStandIn(): http.Server {
  return createHttpServer({ keepAlive: true });
}

/** The same over https, with the stand-in's own self-signed certificate, as the Cosmos DB emulator serves. */
export function createCosmosStandInWithTls(): https.Server {
  return createHttpsServer({ keepAlive: true });
}
