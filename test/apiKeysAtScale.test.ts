import { randomUUID } from 'node:crypto';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService, type ApiResponse } from './support/service';
import type { Member } from './support/organizations';
import { storeApiKeysOnDocument, type StoredHolder } from './support/packages';
import { uniqueName } from './support/people';
import { tokenIn } from './support/waitFor';

/**
 * An account that made 10,000 API keys: what every call reads stays the size it is for an account that made one, its
 * keys are listed a page at a time, and every sweep (a lock, a freeze, an admin revoking a member's keys, leaving, a
 * deletion, a transform) still reaches each key, also from the lists accounts stored on their documents before. Its
 * own file: the Cosmos DB stand-in reads every document of a container for each query, so the other tests' queries
 * stay quick.
 */
const SITE_ADMIN = uniqueName('keys-support');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });

let registeredSiteAdmin: Promise<Member> | undefined;
const siteAdmin = () => (registeredSiteAdmin ??= service.confirmedUser(undefined, SITE_ADMIN));

const me = (member: Pick<Member, 'sessionToken'>) => service.call('GET', '/api/me', { token: member.sessionToken });
const holderOf = async (member: Member): Promise<StoredHolder> => ({ id: (await me(member)).body.id, username: member.username });
const accountDocument = async (id: string) => (await container('accounts').item(id, id).read()).resource;

/**
 * What a document or answer holds, with each string and number stood for by its kind: two accounts compare equal
 * when neither holds more than the other, whatever their names. The store's own fields are left out.
 */
const shapeOf = (value: object) =>
  JSON.stringify(value, (field, inner) => {
    if (['_rid', '_self', '_etag', '_attachments', '_ts'].includes(field)) return undefined;
    if (typeof inner === 'string') return 's';
    return typeof inner === 'number' ? 0 : inner;
  });

/** A call's requests to the store, with the database and document ids left out. */
const requestsOf = (lines: string[]) => lines.map((line) => line.replace(/^(\w+ )\/dbs\/[^/]+/, '$1').replace(/\/docs\/.+$/, '/docs/…'));

const listKeys = (member: Pick<Member, 'sessionToken'>, query = '') => service.call('GET', `/api/me/api-keys${query}`, { token: member.sessionToken });

/** The path of the next page a listing's `Link` header names, if any. */
function nextPageOf(response: ApiResponse): string | undefined {
  const link = response.headers.get('link');
  if (link === null) return undefined;
  const match = /^<([^>]+)>; rel="next"$/.exec(link);
  if (!match) throw new Error(`not a Link to the next page: ${link}`);
  return match[1];
}

/** Every key the member lists, page after page, and how many pages it took. */
async function everyListedKey(member: Pick<Member, 'sessionToken'>, query = '') {
  const ids: string[] = [];
  let response = await listKeys(member, query);
  let pages = 1;
  for (;;) {
    expect(outcome(response)).toBe('200');
    ids.push(...response.body.map((key: { id: string }) => key.id));
    const next = nextPageOf(response);
    if (!next) return { ids, pages };
    response = await service.call('GET', next, { token: member.sessionToken });
    pages += 1;
  }
}

/** The keys stored for `holderId`, by a query across partitions (for the test's eyes only). */
async function keysHeldBy(holderId: string) {
  const { resources } = await container('apiKeys')
    .items.query<{ id: string; revokedAt: string | null; revokedBecause?: string; suspendedBy?: string[] }>({
      query: 'SELECT c.id, c.revokedAt, c.revokedBecause, c.suspendedBy FROM c WHERE c.creatorAccountId = @holder',
      parameters: [{ name: '@holder', value: holderId }],
    })
    .fetchAll();
  return resources;
}

/** The items of the holder's list, expired or not. */
async function listItemsOf(holderId: string) {
  const { resources } = await container('heldApiKeys')
    .items.query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c.holderId = @holder', parameters: [{ name: '@holder', value: holderId }] })
    .fetchAll();
  return resources.map((item) => item.id).sort();
}

/** The account holds no keys any more: no item of its list, and no list on its document. */
async function expectNoListLeft(holderId: string) {
  expect(await listItemsOf(holderId)).toEqual([]);
  expect(await accountDocument(holderId)).not.toHaveProperty('apiKeyIds');
}

const newId = () => uniqueName('Scale').replace(/[^A-Za-z0-9]/g, '') + '.Lib';

describe('an account that made 10,000 API keys', () => {
  const few = {} as { member: Member; holder: StoredHolder };
  const many = {} as { member: Member; holder: StoredHolder; live: string[] };

  beforeAll(async () => {
    const [fewMember, manyMember] = await Promise.all([service.confirmedUser(), service.confirmedUser()]);
    Object.assign(few, { member: fewMember, holder: await holderOf(fewMember) });
    Object.assign(many, { member: manyMember, holder: await holderOf(manyMember) });
    await service.createKey(few.member);
    // Over the years, as stored before: most revoked when it left organizations, most of the rest expired, some live.
    const revoked = await storeApiKeysOnDocument(many.holder, 6_900, { revoked: true, ageDays: 800 });
    const expired = await storeApiKeysOnDocument(many.holder, 2_900, { ageDays: 400 });
    const live = await storeApiKeysOnDocument(many.holder, 190);
    expect(JSON.stringify(await accountDocument(many.holder.id)).length).toBeGreaterThan(350_000);
    expect((await service.call('POST', '/admin/functions/moveApiKeyLists', { body: {} })).status).toBe(202);
    await service.host.idle();
    // And ten made as anyone makes them: one revoked by its holder, one for an organization it then left.
    const made = [];
    for (let i = 0; i < 8; i += 1) made.push((await service.createKey(many.member)).id);
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, many.member);
    const forOrganization = await service.createKey(many.member, { owner: name });
    await service.removeMember(name, many.member, many.member);
    expect(outcome(await service.call('DELETE', `/api/me/api-keys/${made[0]}`, { token: many.member.sessionToken }))).toBe('204');
    expect(revoked.length + expired.length + live.length + made.length + 2).toBe(10_000);
    many.live = [...expired, ...live].map((key) => key.id).concat(made.slice(1));
    expect((await keysHeldBy(many.holder.id)).find((key) => key.id === forOrganization.id)?.revokedBecause).toBe('left_organization');
  }, 180_000);

  it('reads GET /api/me with the one point read of an account that made one, from a document of the same size', async () => {
    const answers: Record<string, { requests: string[]; shape: string; document: string }> = {};
    const bytes: Record<string, number> = {};
    for (const { member, holder } of [few, many]) {
      service.cosmos.reset();
      const answer = await me(member);
      expect(outcome(answer)).toBe('200');
      const requests = requestsOf(service.cosmos.documentRequests());
      const document = await accountDocument(holder.id);
      answers[holder.username] = { requests, shape: shapeOf(answer.body), document: shapeOf(document) };
      bytes[holder.username] = JSON.stringify(document).length;
    }
    // The same fields, lists of the same lengths, the same one read: only the names in it differ.
    expect(answers[many.holder.username]).toEqual(answers[few.holder.username]);
    expect(answers[many.holder.username].requests).toEqual(['GET /colls/accounts/docs/…']);
    expect(Math.abs(bytes[many.holder.username] - bytes[few.holder.username])).toBeLessThan(100);
  });

  it('lists its keys 100 a page, oldest first, each page one query within its list and a read of each key on it', async () => {
    service.cosmos.reset();
    const pages: ApiResponse[] = [await listKeys(many.member)];
    const requests: string[][] = [requestsOf(service.cosmos.documentRequests())];
    for (let page = 1; page < 3; page += 1) {
      service.cosmos.reset();
      pages.push(await service.call('GET', nextPageOf(pages[page - 1])!, { token: many.member.sessionToken }));
      requests.push(requestsOf(service.cosmos.documentRequests()));
      // One query within the list's partition (the SDK asks for its plan first: two requests).
      expect(service.cosmos.queries().map((line) => line.replace(/^POST \/dbs\/[^/]+/, ''))).toEqual(Array(2).fill('/colls/heldApiKeys/docs'));
    }
    const listed = pages.flatMap((page) => page.body as Array<{ id: string; createdAt: string; expired: boolean }>);
    expect(pages.map((page) => page.body.length)).toEqual([100, 100, 100]);
    expect(new Set(listed.map((key) => key.id)).size).toBe(300);
    expect(listed.map((key) => key.createdAt)).toEqual([...listed.map((key) => key.createdAt)].sort());
    expect(listed.every((key) => key.expired)).toBe(true);
    // The third page costs what the second does: a query and a hundred point reads, wherever it is in the list.
    expect(requests[2].sort()).toEqual(requests[1].sort());
    expect(requests[2].filter((line) => line === 'GET /colls/apiKeys/docs/…')).toHaveLength(100);
    expect(pages[0].headers.get('access-control-expose-headers')).toBe('Link');

    // Smaller pages, to the end: every key it holds and nobody revoked, once each, the newest last.
    const { ids, pages: walked } = await everyListedKey(many.member, '?pageSize=100');
    expect(ids.sort()).toEqual([...many.live].sort());
    expect(walked).toBe(Math.ceil(many.live.length / 100));
  }, 120_000);

  it('refuses a page size out of range and a continuation token it did not give, naming the parameter', async () => {
    expect(outcome(await listKeys(many.member, '?pageSize=101'))).toBe('400 invalid_request');
    const forged = await listKeys(many.member, '?continuationToken=MjAyNg.c2lnbmF0dXJl');
    expect(outcome(forged)).toBe('400 invalid_request');
    expect(forged.body.detail).toContain('continuationToken');
    // A token of another account's list is not one for this one.
    const other = await service.confirmedUser();
    for (let i = 0; i < 2; i += 1) await service.createKey(other);
    const next = nextPageOf(await listKeys(other, '?pageSize=1'))!;
    expect(outcome(await service.call('GET', next, { token: many.member.sessionToken }))).toBe('400 invalid_request');
  });
});

describe('keys listed on account documents stored before', () => {
  /** A confirmed member holding `count` live keys listed on its document as stored before (owned by `owner`), and two made now. */
  async function storedBefore(count: number, owner?: StoredHolder) {
    const member = await service.confirmedUser();
    const holder = await holderOf(member);
    const stored = await storeApiKeysOnDocument(holder, count, { owner });
    await storeApiKeysOnDocument(holder, 50, { owner, revoked: true });
    const made = [await service.createKey(member, owner ? { owner: owner.username } : {}), await service.createKey(member, owner ? { owner: owner.username } : {})];
    return { member, holder, keys: [...stored, ...made.map(({ id, key }) => ({ id, key }))] };
  }

  const liveIds = (keys: Array<{ id: string }>) => keys.map((key) => key.id).sort();

  it('are listed, the list moved off the document on the way; one is revoked by its holder before or after', async () => {
    const { member, holder, keys } = await storedBefore(230);
    expect(outcome(await service.call('DELETE', `/api/me/api-keys/${keys[0].id}`, { token: member.sessionToken }))).toBe('204');
    const { ids, pages } = await everyListedKey(member);
    expect(ids.sort()).toEqual(liveIds(keys.slice(1)));
    expect(pages).toBe(3);
    expect(await accountDocument(holder.id)).not.toHaveProperty('apiKeyIds');
    expect(outcome(await service.call('DELETE', `/api/me/api-keys/${keys[1].id}`, { token: member.sessionToken }))).toBe('204');
    expect((await everyListedKey(member)).ids.sort()).toEqual(liveIds(keys.slice(2)));
    expect(outcome(await service.push(keys[1].key, newId()))).toBe('401 invalid_api_key');
    expect(outcome(await service.push(keys[2].key, newId()))).toBe('201');
  });

  it('are all suspended by a lock and restored by the unlock, the list moved off the document', async () => {
    const support = await siteAdmin();
    const { holder, keys } = await storedBefore(230);
    expect(outcome(await service.lockAccount(support, holder.username))).toBe('200');
    const suspended = (await keysHeldBy(holder.id)).filter((key) => key.revokedAt === null);
    expect(liveIds(suspended)).toEqual(liveIds(keys));
    expect(suspended.every((key) => key.suspendedBy?.includes(holder.id))).toBe(true);
    expect(await accountDocument(holder.id)).not.toHaveProperty('apiKeyIds');
    expect((await service.push(keys[229].key, newId())).body.code).toBe('invalid_api_key');

    expect(outcome(await service.unlockAccount(support, holder.username))).toBe('200');
    expect((await keysHeldBy(holder.id)).every((key) => (key.suspendedBy ?? []).length === 0)).toBe(true);
    expect(outcome(await service.push(keys[229].key, newId()))).toBe('201');
  });

  it("are all frozen with its organization, and revoked when an admin revokes the member's keys or it leaves", async () => {
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const claim = `username:${name.toLowerCase()}`;
    const owner = { id: (await container('claims').item(claim, claim).read()).resource.accountId as string, username: name };
    const [member, leaving] = await Promise.all([service.confirmedUser(), service.confirmedUser()]);
    for (const each of [member, leaving]) await service.inviteAndAccept(name, admin, each);
    const [memberHolder, leavingHolder] = [await holderOf(member), await holderOf(leaving)];
    const held = await storeApiKeysOnDocument(memberHolder, 230, { owner });
    const leavingHeld = await storeApiKeysOnDocument(leavingHolder, 120, { owner });
    const live = async () => [...(await keysHeldBy(memberHolder.id)), ...(await keysHeldBy(leavingHolder.id))].filter((key) => key.revokedAt === null);

    const freeze = await service.call('POST', `/api/organizations/${name}/freeze`, { token: admin.sessionToken, body: { reason: 'A laptop went missing' } });
    expect(outcome(freeze)).toBe('200');
    expect((await live()).filter((key) => key.suspendedBy?.includes(`freeze:${owner.id}`))).toHaveLength(held.length + leavingHeld.length);
    expect(outcome(await service.call('POST', `/api/organizations/${name}/unfreeze`, { token: admin.sessionToken }))).toBe('200');
    expect((await live()).filter((key) => (key.suspendedBy ?? []).length > 0)).toEqual([]);

    const revokeKeys = await service.call('POST', `/api/organizations/${name}/members/${member.username}/revoke-keys`, { token: admin.sessionToken });
    expect(outcome(revokeKeys)).toBe('204');
    expect((await keysHeldBy(memberHolder.id)).filter((key) => key.revokedBecause === 'organization_admin')).toHaveLength(held.length);
    expect(await listItemsOf(memberHolder.id)).toEqual([]);

    await service.removeMember(name, leaving, leaving);
    expect((await keysHeldBy(leavingHolder.id)).filter((key) => key.revokedBecause === 'left_organization')).toHaveLength(leavingHeld.length);
    expect(await listItemsOf(leavingHolder.id)).toEqual([]);
    expect(outcome(await service.push(leavingHeld[0].key, newId()))).toBe('401 invalid_api_key');
  }, 60_000);

  it('are all revoked by the deletion, and its list cleared', async () => {
    const support = await siteAdmin();
    const { holder, keys } = await storedBefore(230);
    expect(outcome(await service.deleteAsSupport(support, holder.username))).toBe('202');
    await service.host.runTimer('processAccountDeletions');
    expect((await keysHeldBy(holder.id)).filter((key) => key.revokedAt === null)).toEqual([]);
    await expectNoListLeft(holder.id);
    expect(outcome(await service.push(keys[229].key, newId()))).toBe('401 invalid_api_key');
  }, 60_000);

  it('pass to the admin when the account becomes an organization, and the admin lists them all', async () => {
    const admin = await service.confirmedUser();
    const { member, holder, keys } = await storedBefore(230);
    const seen = service.emailCount(admin.person.email);
    expect(outcome(await service.call('POST', '/api/me/transform', { token: member.sessionToken, body: { adminUsername: admin.username } }))).toBe('202');
    const email = await service.nextEmailTo(admin.person.email, `${member.username} asks you to administer it as an organization`, seen);
    const accepted = await service.call('POST', '/api/organizations/transform/accept', { token: admin.sessionToken, body: { token: tokenIn(email.links[0]) } });
    expect(outcome(accepted)).toBe('200');
    expect((await everyListedKey(admin)).ids.sort()).toEqual(liveIds(keys));
    await expectNoListLeft(holder.id);
    expect(outcome(await service.push(keys[229].key, newId()))).toBe('201');
  }, 60_000);

  it("list trusted publishing's keys until they expire, each its holder's to revoke", async () => {
    const member = await service.confirmedUser();
    const holder = await holderOf(member);
    const policyId = randomUUID();
    const expired = await storeApiKeysOnDocument(holder, 3, { trustedPublishingMinutesLeft: -5, policyId });
    const [working] = await storeApiKeysOnDocument(holder, 1, { trustedPublishingMinutesLeft: 10, policyId });
    const [own] = await storeApiKeysOnDocument(holder, 1);
    expect((await accountDocument(holder.id)).trustedPublishingKeys).toHaveLength(4);
    const listed = await listKeys(member);
    expect(listed.body.map((key: { id: string; trustedPublishing: boolean }) => [key.id, key.trustedPublishing]).sort()).toEqual(
      [[working.id, true], [own.id, false]].sort(),
    );
    const document = await accountDocument(holder.id);
    expect(document).not.toHaveProperty('trustedPublishingKeys');
    expect(document).not.toHaveProperty('apiKeyIds');
    expect(expired.map((key) => key.id).every((id) => !listed.body.some((key: { id: string }) => key.id === id))).toBe(true);
    // A workflow's key still works, and is its holder's to revoke.
    expect(outcome(await service.push(working.key, newId()))).toBe('201');
    expect(outcome(await service.call('DELETE', `/api/me/api-keys/${working.id}`, { token: member.sessionToken }))).toBe('204');
    expect(outcome(await service.push(working.key, newId()))).toBe('401 invalid_api_key');
  });

  it('are moved by the timer, which stops and resumes, then finds nothing to do', async () => {
    const accounts = await Promise.all([storedBefore(120), storedBefore(120)]);
    const stopped = accounts[1].holder.id;
    // The run fails to write one account's document: that account keeps its list for the next run.
    service.cosmos.failNext(new RegExp(`^PUT .*/colls/accounts/docs/${stopped}$`), 500, 5);
    await service.host.runTimer('moveApiKeyLists');
    service.cosmos.clearFaults();
    expect(await accountDocument(accounts[0].holder.id)).not.toHaveProperty('apiKeyIds');
    expect((await accountDocument(stopped)).apiKeyIds).toHaveLength(170);

    await service.host.runTimer('moveApiKeyLists');
    for (const { member, holder, keys } of accounts) {
      expect(await accountDocument(holder.id)).not.toHaveProperty('apiKeyIds');
      expect(await listItemsOf(holder.id)).toEqual(liveIds(keys));
      expect((await everyListedKey(member)).ids.sort()).toEqual(liveIds(keys));
    }
    service.cosmos.reset();
    await service.host.runTimer('moveApiKeyLists');
    expect(service.cosmos.documentRequests().every((line) => /\/colls\/accounts\/docs$/.test(line))).toBe(true);
  }, 60_000);
});
