import { outcome, useTestService, type ApiResponse } from './support/service';
import type { Member } from './support/organizations';
import { storeApiKeysOnDocument, type StoredHolder } from './support/packages';
import { accountDocument, keyListCalls, keysHeldBy, nextPageOf } from './support/keyLists';

/**
 * An account that made 10,000 API keys: what every call reads stays the size it is for an account that made one, and
 * its keys are listed a page at a time. Its own file: the Cosmos DB stand-in reads every document of a container for
 * each query, so the other tests' queries stay quick (how the keys listed on documents stored before are swept and
 * moved: test/apiKeysStoredBefore.test.ts).
 */
const service = useTestService();
const { me, holderOf, listKeys, everyListedKey } = keyListCalls(service);

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
