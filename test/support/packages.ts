import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { OperationInput } from '@azure/cosmos';
import { container } from '../../lib/shared/storage/cosmos';
import { readVersion, versionSortKey } from '../../lib/packages/versions';
import { emailCount, nextEmailTo, type Member } from './organizations';
import type { ApiResponse, TestService } from './service';
import { tokenIn } from './waitFor';

/** The header the push pipeline sends the key in. */
export const API_KEY_HEADER = 'X-NuGet-ApiKey';

export type ApiKeyScope = 'package:push' | 'package:pushversion' | 'package:unlist';

/** The body of `POST /api/me/api-keys`. */
export interface ApiKeyRequest {
  description: string;
  scopes: ApiKeyScope[];
  packageGlobs: string[];
  owner: string;
  expiresInDays: number;
}

/** An API key as its creator got it from the 201: its metadata and, once, the secret `key`. */
export interface CreatedApiKey {
  id: string;
  key: string;
  owner: string;
  scopes: ApiKeyScope[];
  packageGlobs: string[];
  expiresAt: string;
}

/** `POST /api/me/api-keys` as `user`: by default a `package:push` key for every id, owned by `user`, for 30 days. */
export function requestKey(service: TestService, user: Pick<Member, 'username' | 'sessionToken'>, overrides: Partial<ApiKeyRequest> = {}): Promise<ApiResponse> {
  const body: ApiKeyRequest = {
    description: 'test key',
    scopes: ['package:push'],
    packageGlobs: ['*'],
    owner: user.username,
    expiresInDays: 30,
    ...overrides,
  };
  return service.call('POST', '/api/me/api-keys', { token: user.sessionToken, body });
}

/** `GET /api/me/api-keys` as `user`: the keys it holds, as its settings page lists them. */
export const apiKeysOf = async (service: TestService, user: Pick<Member, 'sessionToken'>) =>
  (await service.call('GET', '/api/me/api-keys', { token: user.sessionToken })).body;

/** Creates a key as `requestKey` does, and fails the test unless the service answered 201. */
export async function createKey(
  service: TestService,
  user: Pick<Member, 'username' | 'sessionToken'>,
  overrides: Partial<ApiKeyRequest> = {},
): Promise<CreatedApiKey> {
  const response = await requestKey(service, user, overrides);
  if (response.status !== 201) throw new Error(`creating a key for ${user.username} failed: ${response.status} ${response.text}`);
  return response.body;
}

/** The push check, `PUT /api/packages`, with `key` (a secret, or a created key) in `X-NuGet-ApiKey`. */
export function push(service: TestService, key: string | Pick<CreatedApiKey, 'key'>, id: string, version = '1.0.0'): Promise<ApiResponse> {
  const secret = typeof key === 'string' ? key : key.key;
  return service.call('PUT', '/api/packages', { headers: { [API_KEY_HEADER]: secret }, body: { id, version } });
}

/** Pushes and fails the test unless the service answered `expected` (201 for a new id, 200 for a new version). */
export async function pushOk(
  service: TestService,
  key: string | Pick<CreatedApiKey, 'key'>,
  id: string,
  version = '1.0.0',
  expected: 200 | 201 = 201,
): Promise<ApiResponse> {
  const response = await push(service, key, id, version);
  if (response.status !== expected) throw new Error(`pushing ${id} ${version} answered ${response.status} ${response.text}, not ${expected}`);
  return response;
}

/** The `versions` of a package view where each of these is listed: `listed('1.0.0', '1.1.0')`. */
export const listed = (...versions: string[]) => versions.map((version) => ({ version, listed: true }));

/** `GET /api/packages/{id}`. */
export const getPackage = (service: TestService, id: string): Promise<ApiResponse> => service.call('GET', `/api/packages/${encodeURIComponent(id)}`);

/**
 * Writes versions of a package straight into the store as pushes would have made them, a hundred to a batch of
 * Cosmos DB operations and eight batches at a time, so a package gets tens of thousands in seconds: each listed
 * unless it says otherwise.
 */
export async function storeVersionItems(id: string, versions: ReadonlyArray<{ version: string; listed?: boolean }>): Promise<void> {
  const packageId = id.toLowerCase();
  const pushedAt = new Date().toISOString();
  const operations: OperationInput[] = versions.map(({ version, listed = true }) => {
    const reading = readVersion(version);
    if ('refusal' in reading) throw new Error(`${version} ${reading.refusal}`);
    const { key, normalized } = reading.version;
    return { operationType: 'Create', resourceBody: { id: key, packageId, version: normalized, sortKey: versionSortKey(reading.version), listed, pushedAt } };
  });
  const batches: OperationInput[][] = [];
  for (let i = 0; i < operations.length; i += 100) batches.push(operations.slice(i, i + 100));
  for (let i = 0; i < batches.length; i += 8) {
    const answers = await Promise.all(batches.slice(i, i + 8).map((batch) => container('packageVersions').items.batch(batch, packageId)));
    const failed = answers.flatMap(({ result }) => (result ?? []).filter((operation) => operation.statusCode >= 400));
    if (failed.length > 0) throw new Error(`Versions of ${id} were not stored: ${failed.length} answered ${failed[0].statusCode}`);
  }
}

/**
 * Rewrites a package straight in the store as the service kept it before versions had items of their own: `versions`
 * as given (in push order), with `unlistedVersions` and `listed` as `shape` says, on its document, and no version
 * items.
 */
export async function storeVersionsOnPackage(id: string, versions: string[], shape: { unlistedVersions?: string[]; listed: boolean }): Promise<void> {
  const packageId = id.toLowerCase();
  const { resource } = await container('packages').item(packageId, packageId).read();
  const { unlistedVersions: _unlisted, ...stored } = resource;
  await container('packages').items.upsert({ ...stored, versions, ...shape });
  const { resources: items } = await container('packageVersions')
    .items.query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c.packageId = @id', parameters: [{ name: '@id', value: packageId }] }, { partitionKey: packageId })
    .fetchAll();
  await Promise.all(items.map((item) => container('packageVersions').item(item.id, packageId).delete()));
}

/** Creates that many keys this way at once at most; more go through the SDK's bulk operations. */
const ONE_AT_A_TIME = 1_000;

/**
 * Each key is a partition of its own, so no transactional batch holds two: up to a thousand go as creates fifty at a
 * time, more through the SDK's bulk operations, a hundred creates to a request, which wait a second for their last
 * partial batch but cost a tenth of the requests.
 */
async function createKeyDocuments(documents: Array<{ id: string }>): Promise<void> {
  if (documents.length > ONE_AT_A_TIME) {
    const results = await container('apiKeys').items.executeBulkOperations(
      documents.map((document) => ({ operationType: 'Create', partitionKey: document.id, resourceBody: document })),
    );
    const failed = results.filter((result) => result.response?.statusCode !== 201);
    if (failed.length > 0) throw new Error(`${failed.length} keys were not stored: ${failed[0].error?.message ?? failed[0].response?.statusCode}`);
    return;
  }
  for (let i = 0; i < documents.length; i += 50) {
    await Promise.all(documents.slice(i, i + 50).map((document) => container('apiKeys').items.create(document)));
  }
}

/** An account or organization as the store knows it: its id and name. */
export interface StoredHolder {
  id: string;
  username: string;
}

/**
 * API keys written straight to the store in bulk, as the service stored them before an account's keys were items of
 * their own: each a `package:push` key for every id, held by `holder`, owned by `owner` (default the holder), made
 * `ageDays` ago for 365 days (so expired when older), revoked when `revoked` (as leaving an organization revoked
 * them, which left them listed); listed on the holder's document (`apiKeyIds`) after the ids already there. With
 * `trustedPublishingMinutesLeft`, keys trusted publishing made for `policyId` instead, expiring that many minutes
 * from now (less than 0: expired), listed in `trustedPublishingKeys` too. Answers each key's id and secret.
 */
export async function storeApiKeysOnDocument(
  holder: StoredHolder,
  count: number,
  {
    owner = holder,
    ageDays = 1,
    revoked = false,
    trustedPublishingMinutesLeft,
    policyId = randomUUID(),
  }: { owner?: StoredHolder; ageDays?: number; revoked?: boolean; trustedPublishingMinutesLeft?: number; policyId?: string } = {},
): Promise<Array<{ id: string; key: string }>> {
  const trustedPublishing = trustedPublishingMinutesLeft !== undefined;
  const madeAt = trustedPublishing ? Date.now() + (trustedPublishingMinutesLeft - 15) * 60 * 1000 : Date.now() - ageDays * 24 * 60 * 60 * 1000;
  const lifetimeMs = trustedPublishing ? 15 * 60 * 1000 : 365 * 24 * 60 * 60 * 1000;
  const keys = Array.from({ length: count }, (_, i) => {
    const id = randomUUID().replace(/-/g, '');
    const createdAt = new Date(madeAt + i).toISOString();
    return { id, key: `gak1.${id}.${randomBytes(32).toString('base64url')}`, createdAt, expiresAt: new Date(Date.parse(createdAt) + lifetimeMs).toISOString() };
  });
  const documents = keys.map(({ id, key, createdAt, expiresAt }) => ({
    id,
    description: `stored key ${id.slice(0, 6)}`,
    scopes: ['package:push'],
    packageGlobs: ['*'],
    ownerAccountId: owner.id,
    ownerName: owner.username,
    creatorAccountId: holder.id,
    creatorName: holder.username,
    expiresInDays: trustedPublishing ? 0 : 365,
    createdAt,
    expiresAt,
    revokedAt: revoked ? new Date().toISOString() : null,
    ...(revoked ? { revokedBecause: 'left_organization' } : {}),
    secretHash: createHash('sha256').update(key, 'utf8').digest('hex'),
    ...(trustedPublishing ? { trustedPublishing: { policyId, provider: 'github', run: { runId: '1' } } } : {}),
  }));
  await createKeyDocuments(documents);
  const { resource: account } = await container('accounts').item(holder.id, holder.id).read();
  const trustedPublishingKeys = trustedPublishing ? keys.map(({ id, expiresAt }) => ({ id, expiresAt })) : [];
  await container('accounts').items.upsert({
    ...account,
    apiKeyIds: [...(account.apiKeyIds ?? []), ...keys.map((k) => k.id)],
    ...(trustedPublishing ? { trustedPublishingKeys: [...(account.trustedPublishingKeys ?? []), ...trustedPublishingKeys] } : {}),
  });
  return keys.map(({ id, key }) => ({ id, key }));
}

/** `Become an owner of {id}`: the subject of the email an owner invitation sends. */
export const ownerInvitationSubject = (packageId: string) => `Become an owner of ${packageId}`;

/**
 * `POST /api/packages/{id}/owners` by `by` for `username` (202 expected), and the token of the email that
 * goes to `emailAddress` (the invitee's address; for an organization, the organization's).
 */
export async function inviteOwner(
  service: TestService,
  packageId: string,
  by: Pick<Member, 'sessionToken'>,
  username: string,
  emailAddress: string,
): Promise<string> {
  const seen = emailCount(service, emailAddress);
  const response = await service.call('POST', `/api/packages/${encodeURIComponent(packageId)}/owners`, { token: by.sessionToken, body: { username } });
  if (response.status !== 202) throw new Error(`inviting ${username} to own ${packageId} failed: ${response.status} ${response.text}`);
  const email = await nextEmailTo(service, emailAddress, ownerInvitationSubject(packageId), seen);
  return tokenIn(email.links[0]);
}

/** Who unlists or relists: a key (its secret, or the created key) in `X-NuGet-ApiKey`, or a signed-in account. */
export type ListingCaller = { key: string | Pick<CreatedApiKey, 'key'> } | Pick<Member, 'sessionToken'>;

/** `PUT /api/packages/{id}/versions/{version}/listed` with `{ listed }`, by a key or a session. */
export function setListed(service: TestService, id: string, version: string, listed: boolean, by: ListingCaller): Promise<ApiResponse> {
  const credentials =
    'key' in by
      ? { headers: { [API_KEY_HEADER]: typeof by.key === 'string' ? by.key : by.key.key } }
      : { token: by.sessionToken };
  return service.call('PUT', `/api/packages/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}/listed`, { body: { listed }, ...credentials });
}

/** `PUT /api/packages/{id}/publishing` by `by`: turns trusted-publishing-only on or off. */
export const setTrustedPublishingOnly = (service: TestService, id: string, by: Pick<Member, 'sessionToken'>, trustedPublishingOnly: boolean): Promise<ApiResponse> =>
  service.call('PUT', `/api/packages/${encodeURIComponent(id)}/publishing`, { token: by.sessionToken, body: { trustedPublishingOnly } });

/** `POST /api/packages/{id}/owners/accept` by `by` with `token`. */
export const acceptOwnership = (service: TestService, packageId: string, by: Pick<Member, 'sessionToken'>, token: string): Promise<ApiResponse> =>
  service.call('POST', `/api/packages/${encodeURIComponent(packageId)}/owners/accept`, { token: by.sessionToken, body: { token } });

/** `POST /api/packages/{id}/owners/reject` by `by` with `token`: declines the invitation. */
export const rejectOwnership = (service: TestService, packageId: string, by: Pick<Member, 'sessionToken'>, token: string): Promise<ApiResponse> =>
  service.call('POST', `/api/packages/${encodeURIComponent(packageId)}/owners/reject`, { token: by.sessionToken, body: { token } });

/** `DELETE /api/packages/{id}/owners/invitations/{username}` by `by`: withdraws the invitation waiting for `username`. */
export const withdrawOwnerInvitation = (service: TestService, packageId: string, by: Pick<Member, 'sessionToken'>, username: string): Promise<ApiResponse> =>
  service.call('DELETE', `/api/packages/${encodeURIComponent(packageId)}/owners/invitations/${encodeURIComponent(username)}`, { token: by.sessionToken });

/** `GET /api/me/packages` as `user`, failing the test unless it answers 200. */
export async function myPackages(service: TestService, user: Pick<Member, 'sessionToken'>) {
  const response = await service.call('GET', '/api/me/packages', { token: user.sessionToken });
  if (response.status !== 200) throw new Error(`GET /api/me/packages failed: ${response.status} ${response.text}`);
  return response.body;
}

/** `DELETE /api/packages/{id}/owners/{username}` by `by`. */
export const removeOwner = (service: TestService, packageId: string, by: Pick<Member, 'sessionToken'>, username: string): Promise<ApiResponse> =>
  service.call('DELETE', `/api/packages/${encodeURIComponent(packageId)}/owners/${encodeURIComponent(username)}`, { token: by.sessionToken });

/** `DELETE /api/site-admin/prefixes/{prefix}` by `by` (a site admin, for it to work). */
export const releasePrefix = (service: TestService, by: Pick<Member, 'sessionToken'>, prefix: string): Promise<ApiResponse> =>
  service.call('DELETE', `/api/site-admin/prefixes/${encodeURIComponent(prefix)}`, { token: by.sessionToken });

/** `PATCH /api/me/api-keys/{id}` by `user` with `changes`. */
export const editKey = (
  service: TestService,
  user: Pick<Member, 'sessionToken'>,
  keyId: string,
  changes: { description?: string; packageGlobs?: string[] },
): Promise<ApiResponse> => service.call('PATCH', `/api/me/api-keys/${keyId}`, { token: user.sessionToken, body: changes });

/** `POST /api/site-admin/prefixes` by `by` (a site admin, for it to work). */
export const reservePrefix = (service: TestService, by: Pick<Member, 'sessionToken'>, prefix: string, owners: string[]): Promise<ApiResponse> =>
  service.call('POST', '/api/site-admin/prefixes', { token: by.sessionToken, body: { prefix, owners } });
