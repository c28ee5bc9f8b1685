import type { Container, CosmosClient, OperationInput } from '@azure/cosmos';
import { Problem } from '../problems';
import { settings } from '../settings';
import { CONTAINERS, type ContainerName } from './containers';

let client: CosmosClient | undefined;

/** The stand-in and the Cosmos DB emulator (http or https) run on this machine and advertise no other region. */
function isLoopbackEndpoint(endpoint: string): boolean {
  const { hostname } = new URL(endpoint);
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
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

const containers = new Map<ContainerName, Container>();

/** The SDK's handle on a container, made once: every request of the service goes through here. */
export function container(name: ContainerName): Container {
  let found = containers.get(name);
  if (!found) {
    found = cosmosClient().database(settings().COSMOS_DATABASE).container(name);
    containers.set(name, found);
  }
  return found;
}

/**
 * Creates the database and containers, for `npm start` outside production against any endpoint (the stand-in,
 * the emulator, an empty account). In Azure infra/ provisions them, and the app never creates them.
 */
export async function provisionContainers(): Promise<void> {
  const { database } = await cosmosClient().databases.createIfNotExists({ id: settings().COSMOS_DATABASE });
  for (const [id, { partitionKey }] of Object.entries(CONTAINERS)) {
    await database.containers.createIfNotExists({ id, partitionKey: { paths: [partitionKey] } });
  }
}

let storageReady = false;

/**
 * What keeps the service from serving, as a sentence for operators, or undefined once the database and every
 * container exist with their partition keys. Two metadata reads until that is so; after it, none: a running
 * app's containers do not disappear, and a health probe must stay cheap.
 */
export async function missingStorage(): Promise<string | undefined> {
  if (storageReady) return undefined;
  try {
    return await findMissingStorage();
  } catch (error) {
    // A 403 here is the app's identity without its data role; a 503 or a refused connection, an outage.
    return `Cosmos DB did not answer the health check (${String(statusOf(error) ?? 'no answer')}).`;
  }
}

async function findMissingStorage(): Promise<string | undefined> {
  const name = settings().COSMOS_DATABASE;
  const database = cosmosClient().database(name);
  try {
    await database.read();
  } catch (error) {
    if (isNotFound(error)) return `The Cosmos DB database '${name}' does not exist.`;
    throw error;
  }
  const { resources } = await database.containers.readAll().fetchAll();
  const partitionKeys = new Map(resources.map((found) => [found.id, found.partitionKey?.paths?.[0]]));
  const missing = Object.keys(CONTAINERS).filter((id) => !partitionKeys.has(id));
  if (missing.length > 0) {
    const names = missing.map((id) => `'${id}'`).join(', ');
    return `The Cosmos DB container${missing.length > 1 ? 's' : ''} ${names} ${missing.length > 1 ? 'do' : 'does'} not exist in database '${name}'.`;
  }
  const wrong = Object.entries(CONTAINERS).find(([id, { partitionKey }]) => partitionKeys.get(id) !== partitionKey);
  if (wrong) {
    return `The Cosmos DB container '${wrong[0]}' has the partition key ${partitionKeys.get(wrong[0])}, not ${wrong[1].partitionKey}.`;
  }
  storageReady = true;
  return undefined;
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

/**
 * Cosmos DB refuses ids with `/`, `\`, `?` or `#` (and the SDK throws before sending some of them); control
 * characters and a trailing space make ids no client can address reliably.
 */
const UNSTORABLE_ID = /[/\\?#\u0000-\u001f\u007f-\u009f]|^\s*$|\s$/;
const MAX_ID_LENGTH = 255;

/**
 * The backstop behind every schema: an id built from input that the store would refuse is the caller's bad
 * input (400), never a server error. Fields and path parameters are checked first, and name themselves.
 */
export function assertStorableId(id: string): void {
  if (id.length > MAX_ID_LENGTH || UNSTORABLE_ID.test(id)) {
    throw new Problem(
      'invalid_request',
      "A name or id in this request holds a character that is not allowed (such as '/', '\\', '?', '#' or a control character), or is too long.",
    );
  }
}

/**
 * Every document of one partition of the container, by one query within it. The filter names the partition
 * too (the container's partition key path), since the local stand-in ignores the `partitionKey` option.
 */
export async function documentsInPartition<T>(name: ContainerName, partition: string): Promise<T[]> {
  const field = CONTAINERS[name].partitionKey.slice(1);
  const { resources } = await container(name)
    .items.query<T>({ query: `SELECT * FROM c WHERE c.${field} = @partition`, parameters: [{ name: '@partition', value: partition }] }, { partitionKey: partition })
    .fetchAll();
  return resources;
}

/** The most operations Cosmos DB takes in one transactional batch. */
const BATCH_LIMIT = 100;

/**
 * Upserts documents of one partition (a move of many small items off a document) in Cosmos DB's batches of a
 * hundred, one request each. Not the SDK's bulk operations: those wait a second for every partial batch of
 * theirs. Nothing relies on a batch being all or nothing: the first operation the store refuses is thrown, those
 * in batches before it are written, and writing them all again is harmless.
 */
export async function upsertAllInPartition(name: ContainerName, partition: string, documents: StoredDocument[]): Promise<void> {
  for (let i = 0; i < documents.length; i += BATCH_LIMIT) {
    const operations: OperationInput[] = documents
      .slice(i, i + BATCH_LIMIT)
      // Each operation names the partition too, as the SDK sends it (the Cosmos DB stand-in needs it for an upsert).
      .map((document) => ({ operationType: 'Upsert', partitionKey: partition, resourceBody: { ...document } }));
    const { result } = await container(name).items.batch(operations, partition);
    const failed = (result ?? []).find((operation) => operation.statusCode >= 400);
    if (failed) throw new Error(`Writing to ${name} in partition ${partition} failed: ${failed.statusCode}`);
  }
}

/** One point read; a missing document is `undefined`, not an error. */
export async function readDocument<T extends StoredDocument>(
  name: ContainerName,
  id: string,
  partitionKey: string = id,
): Promise<T | undefined> {
  assertStorableId(id);
  assertStorableId(partitionKey);
  const { resource } = await container(name).item(id, partitionKey).read<T>();
  return resource;
}

/** Replaces a document only if nobody changed it since it was read; a concurrent change answers 412. */
export async function replaceIfUnchanged<T extends StoredDocument>(
  name: ContainerName,
  document: T,
  partitionKey: string = document.id,
): Promise<T> {
  assertStorableId(document.id);
  assertStorableId(partitionKey);
  const { resource } = await container(name)
    .item(document.id, partitionKey)
    .replace<T>(document, { accessCondition: { type: 'IfMatch', condition: document._etag ?? '' } });
  return resource as T;
}

const MAX_UPDATE_ATTEMPTS = 25;

/**
 * `updateDocument` starting from a document just read: the first attempt writes without reading again, and
 * only a concurrent change costs another read.
 */
export async function updateDocumentFrom<T extends StoredDocument>(
  name: ContainerName,
  read: T,
  change: (current: T) => T | undefined,
  partitionKey: string = read.id,
): Promise<T | undefined> {
  const next = change(read);
  if (!next) return read;
  try {
    return await replaceIfUnchanged(name, next, partitionKey);
  } catch (error) {
    if (!isPreconditionFailed(error)) throw error;
  }
  return updateDocument(name, read.id, change, partitionKey);
}

/**
 * Read-modify-write that never overwrites a concurrent change: on a 412 it reads again and reapplies.
 * `change` returns the new document, or `undefined` to leave it as it is. Should every attempt lose, the
 * last 412 is thrown (the HTTP adapter answers it as a conflict).
 */
export async function updateDocument<T extends StoredDocument>(
  name: ContainerName,
  id: string,
  change: (current: T) => T | undefined,
  partitionKey: string = id,
): Promise<T | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    const current = await readDocument<T>(name, id, partitionKey);
    if (!current) return undefined;
    const next = change(current);
    if (!next) return current;
    try {
      return await replaceIfUnchanged(name, next, partitionKey);
    } catch (error) {
      if (!isPreconditionFailed(error) || attempt >= MAX_UPDATE_ATTEMPTS) throw error;
    }
    // Spread the retries of writers that collided, so they do not collide again in lockstep.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
  }
}

/**
 * `updateDocument` of a document that may not exist yet: `change(undefined)` makes it, created only while it
 * is still absent. Of two writers at the same moment neither overwrites the other: the second to land
 * changes what the first wrote.
 */
export async function createOrUpdateDocument<T extends StoredDocument>(
  name: ContainerName,
  id: string,
  change: (current: T | undefined) => T | undefined,
  partitionKey: string = id,
): Promise<T | undefined> {
  const updated = await updateDocument<T>(name, id, change, partitionKey);
  if (updated) return updated;
  const made = change(undefined);
  if (!made) return undefined;
  try {
    const { resource } = await container(name).items.create<T>(made);
    return resource;
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
  return updateDocument<T>(name, id, change, partitionKey);
}
