import { randomBytes } from 'node:crypto';
import { container } from '../lib/shared/storage/cosmos';
import { outcome, useTestService } from './support/service';
import type { Member } from './support/organizations';
import { uniqueName } from './support/people';

/**
 * Every support action leaves a record where the affected account's people read it, naming the site admin:
 * an individual's security log, an organization's audit trail (its members read it); and the admin's own log
 * keeps what the admin did.
 */
const SITE_ADMIN = uniqueName('support');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });

let admin: Member;
beforeAll(async () => {
  admin = await service.confirmedUser(undefined, SITE_ADMIN);
});

const tag = () => randomBytes(3).toString('hex');
const byAdmin = { siteAdmin: SITE_ADMIN };
const entry = (action: string, details: Record<string, string>) => expect.objectContaining({ action, details });

async function trailOf(organization: string, by: Member): Promise<unknown[]> {
  const response = await service.organizationAudit(organization, by, '?pageSize=100');
  expect(outcome(response)).toBe('200');
  return response.body.events;
}

describe("support's actions on an individual account", () => {
  it('are each in its security log, with the site admin and the reason', async () => {
    const user = await service.confirmedUser();
    const other = await service.confirmedUser();
    const key = await service.createKey(user, { description: 'Laptop' });
    const released = `Released${tag()}.`;
    const moved = `Moved${tag()}.`;

    expect(outcome(await service.lookUpAccount(admin, user.username))).toBe('200');
    expect(outcome(await service.reservePrefix(admin, released, [user.username]))).toBe('201');
    expect(outcome(await service.releasePrefix(admin, released))).toBe('204');
    expect(outcome(await service.reservePrefix(admin, moved, [user.username]))).toBe('201');
    // Reserved again for another account: this one loses it, and is told so too.
    expect(outcome(await service.reservePrefix(admin, moved, [other.username]))).toBe('201');
    expect(outcome(await service.revokeLeakedKey(admin, key.key, 'Found in a public gist'))).toBe('200');
    expect(outcome(await service.lockAccount(admin, user.username, 'Suspicious pushes'))).toBe('200');
    expect(outcome(await service.unlockAccount(admin, user.username))).toBe('200');
    // The lock ended its session: it signs in again.
    const again = { ...user, sessionToken: await service.signIn(user.person) };
    const scheduled = await service.deleteAsSupport(admin, user.username, { reason: 'Owner asked by email' });
    expect(outcome(scheduled)).toBe('202');

    // Until the timer runs, the account reads it all.
    const log = await service.securityLog(again);
    const expected = [
      entry('looked_up_by_support', byAdmin),
      entry('prefix_reserved', { prefix: released, owners: user.username, ...byAdmin }),
      entry('prefix_released', { prefix: released, ...byAdmin }),
      entry('prefix_reserved', { prefix: moved, owners: user.username, ...byAdmin }),
      entry('prefix_reserved', { prefix: moved, owners: other.username, ...byAdmin }),
      entry('api_key_revoked_by_support', { keyId: key.id, reason: 'Found in a public gist', ...byAdmin }),
      entry('locked_by_support', { reason: 'Suspicious pushes', ...byAdmin }),
      entry('unlocked_by_support', byAdmin),
      entry('deletion_scheduled_by_support', { scheduledFor: scheduled.body.deletion.scheduledFor, reason: 'Owner asked by email', ...byAdmin }),
    ];
    expect(log).toEqual(expect.arrayContaining(expected));
    expect(log.filter((event) => event.action.endsWith('_by_support') || event.action.startsWith('prefix_'))).toHaveLength(expected.length);
    expect(await service.securityLog(other)).toContainEqual(entry('prefix_reserved', { prefix: moved, owners: other.username, ...byAdmin }));

    // The admin's own log keeps what it did, naming the account.
    expect(await service.securityLog(admin)).toEqual(
      expect.arrayContaining([
        entry('support_action', { action: 'looked_up_by_support', account: user.username }),
        entry('prefix_reserved', { prefix: released, owners: user.username }),
        entry('prefix_released', { prefix: released }),
      ]),
    );
  });

  it('records a prefix a site admin reserves for itself once, in its own log', async () => {
    const prefix = `Own${tag()}.`;
    expect(outcome(await service.reservePrefix(admin, prefix, [SITE_ADMIN]))).toBe('201');
    const own = (await service.securityLog(admin)).filter((event) => event.details?.prefix === prefix);
    expect(own).toEqual([entry('prefix_reserved', { prefix, owners: SITE_ADMIN })]);
  });
});

describe("support's actions on an organization", () => {
  it('are each in its audit trail, naming the site admin, and a leaked key also in the log of the member who held it', async () => {
    const owner = await service.confirmedUser();
    const member = await service.confirmedUser();
    const organization = await service.createOrganization(owner);
    await service.inviteAndAccept(organization.name, owner, member);
    const key = await service.createKey(member, { owner: organization.name, description: 'Release pipeline' });
    const prefix = `Org${tag()}.`;
    const { name } = organization;

    const seen = await service.lookUpAccount(admin, name);
    expect(outcome(seen)).toBe('200');
    expect(outcome(await service.lockAccount(admin, name, 'Compromised member'))).toBe('200');
    expect(outcome(await service.unlockAccount(admin, name, { reason: 'Member replaced' }))).toBe('200');
    expect(outcome(await service.reservePrefix(admin, prefix, [name]))).toBe('201');
    expect(outcome(await service.releasePrefix(admin, prefix))).toBe('204');
    expect(outcome(await service.revokeLeakedKey(admin, key.key, 'Found in a build log'))).toBe('200');
    const scheduled = await service.deleteAsSupport(admin, name, { reason: 'Asked by its admins' });
    expect(outcome(scheduled)).toBe('202');

    const bySupport = (action: string, details: Record<string, string>, apiKey: unknown = null) => ({
      at: expect.any(String),
      action,
      actor: { username: SITE_ADMIN },
      apiKey,
      details: { ...details, ...byAdmin },
    });
    const trail = await trailOf(name, owner);
    expect(trail).toEqual(
      expect.arrayContaining([
        bySupport('looked_up_by_support', {}),
        bySupport('locked_by_support', { reason: 'Compromised member' }),
        bySupport('unlocked_by_support', { reason: 'Member replaced' }),
        bySupport('prefix_reserved', { prefix, owners: name }),
        bySupport('prefix_released', { prefix }),
        bySupport('api_key_revoked_by_support', { reason: 'Found in a build log' }, { id: key.id, description: 'Release pipeline' }),
        bySupport('deletion_scheduled_by_support', { scheduledFor: scheduled.body.deletion.scheduledFor, reason: 'Asked by its admins' }),
      ]),
    );
    // Its members read it; the member whose key went has it in its own log as it always had.
    expect(await trailOf(name, member)).toEqual(trail);
    expect(await service.securityLog(member)).toContainEqual(entry('api_key_revoked_by_support', { keyId: key.id, reason: 'Found in a build log', ...byAdmin }));
    expect(await service.securityLog(admin)).toEqual(
      expect.arrayContaining([
        entry('support_action', { action: 'looked_up_by_support', account: name }),
        entry('support_action', { action: 'locked_by_support', account: name, reason: 'Compromised member' }),
      ]),
    );

    // Once deleted, its name released: recorded on what is left of it, in its trail, with no client address.
    await service.host.runTimer('processAccountDeletions');
    expect(outcome(await service.releaseUsername(admin, name))).toBe('200');
    const { resources } = await container('audit')
      .items.query({ query: 'SELECT * FROM c WHERE c.accountId = @id AND c.action = "username_released_by_support"', parameters: [{ name: '@id', value: seen.body.id }] })
      .fetchAll();
    expect(resources).toEqual([expect.objectContaining({ trail: true, actor: { accountId: expect.any(String), username: SITE_ADMIN }, details: byAdmin })]);
    expect(resources[0]).not.toHaveProperty('clientAddress');
  });
});
