import type { Container, CosmosClient } from '@azure/cosmos';
import { settings } from '../settings';
import { CONTAINERS, type ContainerName } from './containers';

let client: CosmosClient | undefined;

function isLoopbackEndpoint(endpoint: string): boolean {
  return new URL(endpoint).protocol === 'http:';
}

/** The SDK and the credential chain are loaded on first use so a cold start that serves no data stays short. */
function cosmosClient(): CosmosClient {
  if (client) return client;
  const { CosmosClient: Client } = require('@azure/cosmos') as typeof import('@azure/cosmos');
  const { COSMOS_ENDPOINT: endpoint, COSMOS_KEY: key } = settings();
  const connectionPolicy = {
    // The loopback stand-in advertises no regions to discover.
    enableEndpointDiscovery: !isLoopbackEndpoint(endpoint),
    retryOptions: { maxRetryAttemptCount: 5, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 10 },
  };
  if (key) {
    client = new Client({ endpoint, key, connectionPolicy });
  } else {
    const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
    client = new Client({ endpoint, aadCredentials: new DefaultAzureCredential(), connectionPolicy });
  }
  return client;
}

export function container(name: ContainerName): Container {
  return cosmosClient().database(settings().COSMOS_DATABASE).container(name);
}

/** Creates the database and containers; only for the local stand-in, where nothing else provisions them. */
export async function provisionContainers(): Promise<void> {
  const { database } = await cosmosClient().databases.createIfNotExists({ id: settings().COSMOS_DATABASE });
  for (const [id, { partitionKey }] of Object.entries(CONTAINERS)) {
    await database.containers.createIfNotExists({ id, partitionKey: { paths: [partitionKey] } });
  }
}

function statusOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

export const isConflict = (error: unknown): boolean => statusOf(error) === 409;
export const isNotFound = (error: unknown): boolean => statusOf(error) === 404;
export const isPreconditionFailed = (error: unknown): boolean => statusOf(error) === 412;

/** Throttling or an outage that outlasted the SDK's own retries: the caller should try again later. */
export function isTransientStoreError(error: unknown): boolean {
  const code = statusOf(error);
  return code === 429 || code === 503 || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT';
}

export interface StoredDocument {
  id: string;
  _etag?: string;
}

/** One point read; a missing document is `undefined`, not an error. */
export async function readDocument<T extends StoredDocument>(
  name: ContainerName,
  id: string,
  partitionKey: string = id,
): Promise<T | undefined> {
  const { resource } = await container(name).item(id, partitionKey).read<T>();
  return resource;
}

/** Replaces a document only if nobody changed it since it was read; a concurrent change answers 412. */
export async function replaceIfUnchanged<T extends StoredDocument>(
  name: ContainerName,
  document: T,
  partitionKey: string = document.id,
): Promise<T> {
  const { resource } = await container(name)
    .item(document.id, partitionKey)
    .replace<T>(document, { accessCondition: { type: 'IfMatch', condition: document._etag ?? '' } });
  return resource as T;
}

const MAX_UPDATE_ATTEMPTS = 25;

/**
 * Read-modify-write that never overwrites a concurrent change: on a 412 it reads again and reapplies.
 * `change` returns the new document, or `undefined` to leave it as it is.
 */
export async function updateDocument<T extends StoredDocument>(
  name: ContainerName,
  id: string,
  change: (current: T) => T | undefined,
  partitionKey: string = id,
): Promise<T | undefined> {
  for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt += 1) {
    const current = await readDocument<T>(name, id, partitionKey);
    if (!current) return undefined;
    const next = change(current);
    if (!next) return current;
    try {
      return await replaceIfUnchanged(name, next, partitionKey);
    } catch (error) {
      if (!isPreconditionFailed(error)) throw error;
    }
    // Spread the retries of writers that collided, so they do not collide again in lockstep.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
  }
  throw new Error(`Gave up updating ${name}/${id} after repeated concurrent changes`);
}
