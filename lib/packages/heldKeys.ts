/**
 * Which API keys each account or organization holds: one small item per key in `heldApiKeys`, in the partition of
 * its holder, so the account document that every session check, sign-in and `GET /api/me` read stays the same size
 * however many keys the account ever made. Listing an account's keys and every sweep over them (a lock, a freeze, a
 * member's keys revoked, leaving an organization, a deletion, a transform) is a query within that one partition.
 *
 * The key document stays the truth (its holder, owner, revocation, expiry): an item only says where to look. So the
 * writes are ordered for the sweeps, with no transaction across documents:
 * - an item is written before its key exists, and, for a key handed to another holder, before the key names it:
 *   no key is ever held without an item under its holder, so no sweep misses one;
 * - it goes after the key is revoked (or handed over): a crash in between leaves an item whose key needs nothing,
 *   which readers skip and the listing tidies away.
 * A key trusted publishing made lives 15 minutes and cannot be regenerated: its item carries its expiry and leaves
 * every list then (a `ttl` lets Cosmos DB drop it a day later; nothing depends on that).
 *
 * Accounts stored before kept the list on their document (`apiKeyIds`, `trustedPublishingKeys`): before its keys are
 * read, the list is moved here (`moveKeyListOff`), and the timer `moveApiKeyLists` moves the rest.
 */
import type { SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import { clock } from '../shared/clock';
import type { Log } from '../shared/log';
import { continuationFor, positionIn } from '../shared/paging';
import { container, isNotFound, readDocument, upsertAllInPartition, type StoredDocument } from '../shared/storage/cosmos';
import { updateAccountFrom, type AccountDocument } from '../accounts/account';
import type { ApiKeyDocument } from './apiKeys';

interface HeldKey extends StoredDocument {
  /** The key's id. */
  id: string;
  holderId: string;
  /** The account or organization the key pushes for, so the keys a member holds for an organization are one query. */
  ownerId: string;
  /** `{createdAt}:{key id}`: the order keys are listed in (oldest first), and where a page ends. */
  position: string;
  /** Set for a key trusted publishing made: the policy that made it. */
  policyId?: string;
  /** Set for a key trusted publishing made: once it passes, the key can never work again, and it leaves every list. */
  expiresAt?: string;
  /** With `expiresAt`: lets Cosmos DB tidy up a day after it. */
  ttl?: number;
}

type HeldKeyFields = Pick<ApiKeyDocument, 'id' | 'ownerAccountId' | 'createdAt' | 'expiresAt' | 'trustedPublishing'>;

const DAY_SECONDS = 24 * 60 * 60;

function itemFor(key: HeldKeyFields, holderId: string): HeldKey {
  const shortLived = key.trustedPublishing
    ? {
        policyId: key.trustedPublishing.policyId,
        expiresAt: key.expiresAt,
        ttl: Math.max(1, Math.ceil((Date.parse(key.expiresAt) - clock.now().getTime()) / 1000)) + DAY_SECONDS,
      }
    : {};
  return { id: key.id, holderId, ownerId: key.ownerAccountId, position: `${key.createdAt}:${key.id}`, ...shortLived };
}

/** Lists the key under `holderId` (its holder, or the admin it is about to pass to): before the key names that holder. */
export async function holdKey(key: HeldKeyFields, holderId: string): Promise<void> {
  await container('heldApiKeys').items.upsert(itemFor(key, holderId));
}

/** The key is no longer listed under `holderId`: once it is revoked, or held by another. */
export async function releaseHeldKey(keyId: string, holderId: string): Promise<void> {
  try {
    await container('heldApiKeys').item(keyId, holderId).delete();
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** What narrows the keys an account holds: those it holds for one owner, or those one trusted publishing policy made. */
export interface HeldKeyFilter {
  ownerId?: string;
  policyId?: string;
}

/**
 * The query over one holder's items, never those of trusted publishing keys already expired: their ids, narrowed by
 * `filter`; or, for a page, at most `top` items after `after` in the listing's order.
 */
function heldKeysQuery(holderId: string, filter: HeldKeyFilter, page?: { top: number; after: string }): SqlQuerySpec {
  const conditions = ['c.holderId = @holder', '(NOT IS_DEFINED(c.expiresAt) OR c.expiresAt > @now)'];
  const parameters: SqlParameter[] = [
    { name: '@holder', value: holderId },
    { name: '@now', value: clock.now().toISOString() },
  ];
  if (filter.ownerId !== undefined) {
    conditions.push('c.ownerId = @owner');
    parameters.push({ name: '@owner', value: filter.ownerId });
  }
  if (filter.policyId !== undefined) {
    conditions.push('c.policyId = @policy');
    parameters.push({ name: '@policy', value: filter.policyId });
  }
  if (!page) return { query: `SELECT VALUE c.id FROM c WHERE ${conditions.join(' AND ')}`, parameters };
  conditions.push('c.position > @after');
  parameters.push({ name: '@after', value: page.after }, { name: '@top', value: page.top });
  return { query: `SELECT TOP @top c.id, c.position FROM c WHERE ${conditions.join(' AND ')} ORDER BY c.position`, parameters };
}

/**
 * The ids of the keys the account holds (narrowed by `filter`), for a sweep over them: one query within its
 * partition, read a hundred at a time. A list its document still holds is moved first.
 */
export async function heldKeyIds(holder: AccountDocument, filter: HeldKeyFilter = {}): Promise<string[]> {
  await moveKeyListOff(holder);
  return idsInPartition(holder.id, heldKeysQuery(holder.id, filter));
}

/** Every item the account's partition holds, trusted publishing keys expired too: for clearing it (its deletion). */
export const everyHeldKeyId = (holderId: string) =>
  idsInPartition(holderId, { query: 'SELECT VALUE c.id FROM c WHERE c.holderId = @holder', parameters: [{ name: '@holder', value: holderId }] });

async function idsInPartition(holderId: string, query: SqlQuerySpec): Promise<string[]> {
  const { resources } = await container('heldApiKeys').items.query<string>(query, { partitionKey: holderId, maxItemCount: 100 }).fetchAll();
  return resources;
}

const LIST = 'api-keys';

/**
 * One page of the keys the account holds, oldest first: at most `pageSize` ids from one query within its partition
 * (keyset paging on `position`: the same cost wherever the page is), and the token of the next page, or null.
 * A list its document still holds is moved first.
 */
export async function heldKeysPage(holder: AccountDocument, pageSize: number, continuationToken?: string) {
  await moveKeyListOff(holder);
  const after = continuationToken === undefined ? '' : positionIn(LIST, holder.id, continuationToken);
  const query = heldKeysQuery(holder.id, {}, { top: pageSize + 1, after });
  const { resources } = await container('heldApiKeys').items.query<Pick<HeldKey, 'id' | 'position'>>(query, { partitionKey: holder.id }).fetchAll();
  const page = resources.slice(0, pageSize);
  const next = resources.length > pageSize ? continuationFor(LIST, holder.id, page[page.length - 1].position) : null;
  return { keyIds: page.map((item) => item.id), continuationToken: next };
}

// ---------------------------------------------------------------------------------------------------------
// Lists stored on account documents before
// ---------------------------------------------------------------------------------------------------------

/** The ids an account stored before lists on its document (trusted publishing's are among `apiKeyIds`). */
const listedOnDocument = (account: AccountDocument) => [
  ...new Set([...(account.apiKeyIds ?? []), ...(account.trustedPublishingKeys ?? []).map((key) => key.id)]),
];

const holdsKeyList = (account: AccountDocument) => account.apiKeyIds !== undefined || account.trustedPublishingKeys !== undefined;

function withoutKeyList(account: AccountDocument): AccountDocument {
  const { apiKeyIds: _ids, trustedPublishingKeys: _trustedPublishing, ...rest } = account;
  return rest;
}

/**
 * Items for the keys of a list stored on the account's document: each key it still holds, unrevoked (and, of those
 * trusted publishing made, unexpired), read 50 at a time and written a hundred to a request. Writing one again is harmless.
 */
async function holdListedKeys(holderId: string, keyIds: string[]): Promise<void> {
  const now = clock.now().getTime();
  const items: HeldKey[] = [];
  for (let i = 0; i < keyIds.length; i += 50) {
    const keys = await Promise.all(keyIds.slice(i, i + 50).map((id) => readDocument<ApiKeyDocument>('apiKeys', id)));
    for (const key of keys) {
      const held = key !== undefined && key.creatorAccountId === holderId && key.revokedAt === null;
      if (held && !(key.trustedPublishing && Date.parse(key.expiresAt) <= now)) items.push(itemFor(key, holderId));
    }
  }
  await upsertAllInPartition('heldApiKeys', holderId, items);
}

/**
 * Moves the list of keys an account stored before onto items of its own, then takes it off the document, under the
 * ETag of the document the ids were taken from: the items first, so a crash leaves both (readers then move it
 * again, and nothing is lost); a list that changed meanwhile has what is new moved before it goes. Nothing to do,
 * and no request, for an account without one.
 */
export async function moveKeyListOff(account: AccountDocument): Promise<number> {
  const moved = new Set<string>();
  for (let current: AccountDocument | undefined = account; current && holdsKeyList(current); ) {
    const toMove = listedOnDocument(current).filter((id) => !moved.has(id));
    await holdListedKeys(current.id, toMove);
    for (const id of toMove) moved.add(id);
    current = await updateAccountFrom(current, (latest) =>
      holdsKeyList(latest) && listedOnDocument(latest).every((id) => moved.has(id)) ? withoutKeyList(latest) : undefined,
    );
  }
  return moved.size;
}

/** Keys moved per run of `moveApiKeyLists` before it leaves the rest to the next. */
const MOVE_KEYS_PER_RUN = 20_000;

/**
 * The timer `moveApiKeyLists`: moves the lists of keys account documents stored before (`moveKeyListOff`), one
 * account after another, found by a query across partitions (off every request path), until none is left or
 * `budget` keys are moved. Resumable and safe beside itself and beside requests: an account's move is written again
 * harmlessly, and its document loses the list only once every key on it is held here. One account that fails is
 * logged and left for the next run.
 */
export async function moveApiKeyLists(log: Log, budget = MOVE_KEYS_PER_RUN): Promise<{ accounts: number; keys: number; failed: number; finished: boolean }> {
  const tally = { accounts: 0, keys: 0, failed: 0, finished: false };
  const pages = container('accounts').items.query<AccountDocument>(
    'SELECT * FROM c WHERE IS_DEFINED(c.apiKeyIds) OR IS_DEFINED(c.trustedPublishingKeys)',
    { maxItemCount: 20 },
  );
  while (pages.hasMoreResults()) {
    for (const account of (await pages.fetchNext()).resources) {
      if (tally.keys >= budget) return tally;
      try {
        tally.keys += await moveKeyListOff(account);
        tally.accounts += 1;
      } catch (error) {
        tally.failed += 1;
        log.warn(`The API key list of account ${account.id} is left to move on the next run`, error);
      }
    }
  }
  return { ...tally, finished: tally.failed === 0 };
}
