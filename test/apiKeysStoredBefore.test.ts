import { randomUUID } from 'node:crypto';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService } from './support/service';
import type { Member } from './support/organizations';
import { storeApiKeysOnDocument, type StoredHolder } from './support/packages';
import { uniqueName } from './support/people';
import { tokenIn } from './support/waitFor';
import { accountDocument, keyListCalls, keysHeldBy } from './support/keyLists';

/**
 * Keys listed on account documents stored before keys had list items of their own: every sweep (a lock, a freeze, an
 * admin revoking a member's keys, leaving, a deletion, a transform) still reaches each key, and the timer moves the
 * lists off the documents.
 */
const SITE_ADMIN = uniqueName('keys-support');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });
const { holderOf, listKeys, everyListedKey } = keyListCalls(service);

let registeredSiteAdmin: Promise<Member> | undefined;
const siteAdmin = () => (registeredSiteAdmin ??= service.confirmedUser(undefined, SITE_ADMIN));

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

const newId = () => uniqueName('Stored').replace(/[^A-Za-z0-9]/g, '') + '.Lib';

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
