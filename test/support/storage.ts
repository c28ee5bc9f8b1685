import { randomBytes } from 'node:crypto';
import { CosmosClient } from '@azure/cosmos';
import { CONTAINERS } from '../../lib/shared/storage/containers';
import { createCosmosStandIn } from '../../local/standins/cosmos';
import { listenOnLoopback } from '../../local/standins/listen';

/**
 * A Cosmos DB stand-in with the database and every container, for a service that does not make them itself (a
 * production start, a deployed package), and the settings that point at it.
 */
export async function provisionedCosmosStandIn() {
  const server = await listenOnLoopback(createCosmosStandIn());
  const key = randomBytes(32).toString('base64');
  const client = new CosmosClient({ endpoint: server.url, key, connectionPolicy: { enableEndpointDiscovery: false } });
  const { database } = await client.databases.createIfNotExists({ id: 'accounts' });
  for (const [id, { partitionKey }] of Object.entries(CONTAINERS)) await database.containers.createIfNotExists({ id, partitionKey: { paths: [partitionKey] } });
  client.dispose();
  return { server, settings: { COSMOS_ENDPOINT: server.url, COSMOS_KEY: key, COSMOS_DATABASE: 'accounts' } };
}
