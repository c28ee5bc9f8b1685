import { container } from '../../lib/shared/storage/cosmos';
import type { Member } from './organizations';
import type { StoredHolder } from './packages';
import { outcome, type ApiResponse, type TestServiceHandle } from './service';

/** An account document as stored, the store's own fields included. */
export const accountDocument = async (id: string) => (await container('accounts').item(id, id).read()).resource;

/** The path of the next page a listing's `Link` header names, if any. */
export function nextPageOf(response: ApiResponse): string | undefined {
  const link = response.headers.get('link');
  if (link === null) return undefined;
  const match = /^<([^>]+)>; rel="next"$/.exec(link);
  if (!match) throw new Error(`not a Link to the next page: ${link}`);
  return match[1];
}

/** The keys stored for `holderId`, by a query across partitions (for the test's eyes only). */
export async function keysHeldBy(holderId: string) {
  const { resources } = await container('apiKeys')
    .items.query<{ id: string; revokedAt: string | null; revokedBecause?: string; suspendedBy?: string[] }>({
      query: 'SELECT c.id, c.revokedAt, c.revokedBecause, c.suspendedBy FROM c WHERE c.creatorAccountId = @holder',
      parameters: [{ name: '@holder', value: holderId }],
    })
    .fetchAll();
  return resources;
}

/** The calls through which the tests of accounts' key lists see them: the account, and its keys page by page. */
export function keyListCalls(service: TestServiceHandle) {
  const me = (member: Pick<Member, 'sessionToken'>) => service.call('GET', '/api/me', { token: member.sessionToken });
  const listKeys = (member: Pick<Member, 'sessionToken'>, query = '') => service.call('GET', `/api/me/api-keys${query}`, { token: member.sessionToken });
  return {
    me,
    listKeys,
    holderOf: async (member: Member): Promise<StoredHolder> => ({ id: (await me(member)).body.id, username: member.username }),
    /** Every key the member lists, page after page, and how many pages it took. */
    async everyListedKey(member: Pick<Member, 'sessionToken'>, query = '') {
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
    },
  };
}
