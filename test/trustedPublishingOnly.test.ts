import { randomBytes } from 'node:crypto';
import { outcome, useTestService, type ApiResponse } from './support/service';
import type { CreatedOrganization, Member } from './support/organizations';
import { uniqueName } from './support/people';
import type { GitHubRepository } from './standins/githubActions';

/**
 * Trusted-publishing-only (issue 24): the 2026 axios hijack published with a stolen token although trusted
 * publishing was set up for the package (axios/axios#10604). An owner turns the switch on, and every key trusted
 * publishing did not make is refused for pushes and unlists of that package; while it is off, a long-lived key
 * pushing a package trusted publishing has pushed raises the alarm to every owner. Neither costs the push check a
 * request.
 */
const service = useTestService();

const newId = (stem = 'Tpo') => `${stem}${randomBytes(4).toString('hex')}.Lib`;
const users = (count: number) => Promise.all(Array.from({ length: count }, () => service.confirmedUser()));
/** A time as notices write it, in a pattern. */
const WHEN = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC';
/** `text` matched as it is, in a pattern. */
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const newRepository = (): GitHubRepository => service.github.repository(`${uniqueName('octo')}/${uniqueName('repo')}`);

/** The notices to `member` with this subject. */
const to = (member: Pick<Member, 'person'>, subject: string | RegExp) => service.noticesTo(member.person.email, subject);

/**
 * A key trusted publishing makes for a run of `repository`'s release.yml, through the real exchange: `maker`'s
 * policy for itself, or for `owner` (an organization it belongs to).
 */
async function trustedKey(maker: Member, owner?: CreatedOrganization): Promise<string> {
  const repository = newRepository();
  await service.addTrustedPublisher(maker, repository, owner ? { owner: owner.name } : {});
  return service.trustedPublishingKey(maker.username, service.workflowToken(repository));
}

async function addOwner(id: string, by: Member, owner: Member | CreatedOrganization, acceptedBy: Member = owner as Member): Promise<void> {
  const [username, address] = 'person' in owner ? [owner.username, owner.person.email] : [owner.name, owner.emailAddress];
  const token = await service.inviteOwner(id, by, username, address);
  expect(outcome(await service.acceptOwnership(id, acceptedBy, token))).toBe('200');
}

/** An organization `admin` made, with `collaborator` in it, its address confirmed. */
async function organizationOf(admin: Member, collaborator?: Member): Promise<CreatedOrganization> {
  const organization = await service.confirmedOrganization(admin);
  if (collaborator) await service.inviteAndAccept(organization.name, admin, collaborator, 'collaborator');
  return organization;
}

const switchedOn = async (id: string, by: Member) => expect(outcome(await service.setTrustedPublishingOnly(id, by, true))).toBe('200');

describe('PUT /api/packages/{id}/publishing', () => {
  it('lets an owner turn trusted-publishing-only on and off, answering the package as GET shows it', async () => {
    const owner = await service.confirmedUser();
    const id = newId();
    await service.pushOk(await service.createKey(owner), id);
    expect((await service.getPackage(id)).body.trustedPublishingOnly).toBe(false);

    const on = await service.setTrustedPublishingOnly(id.toUpperCase(), owner, true);
    expect(outcome(on)).toBe('200');
    expect(on.body).toEqual({
      id,
      owners: [owner.username],
      versions: [{ version: '1.0.0', listed: true }],
      versionCount: 1,
      listed: true,
      trustedPublishingOnly: true,
      pendingOwners: [],
    });
    expect((await service.getPackage(id)).body).toEqual(on.body);

    const off = await service.setTrustedPublishingOnly(id, owner, false);
    expect(outcome(off)).toBe('200');
    expect(off.body.trustedPublishingOnly).toBe(false);
    expect((await service.getPackage(id)).body.trustedPublishingOnly).toBe(false);
  });

  it('lets an admin of an owning organization switch it, and answers everyone else 403 not_an_owner as the other owner routes do', async () => {
    const [admin, collaborator, outsider, coOwner] = await users(4);
    const organization = await organizationOf(admin, collaborator);
    const id = newId();
    await service.pushOk(await service.createKey(admin, { owner: organization.name }), id);
    await addOwner(id, admin, coOwner);

    expect(outcome(await service.setTrustedPublishingOnly(id, admin, true))).toBe('200');
    for (const stranger of [collaborator, outsider]) {
      const refused = await service.setTrustedPublishingOnly(id, stranger, false);
      expect(outcome(refused)).toBe('403 not_an_owner');
    }
    expect((await service.getPackage(id)).body.trustedPublishingOnly).toBe(true);
    // A direct owner beside the organization manages it too.
    expect(outcome(await service.setTrustedPublishingOnly(id, coOwner, false))).toBe('200');
    expect(outcome(await service.call('PUT', `/api/packages/${id}/publishing`, { body: { trustedPublishingOnly: true } }))).toBe('401 unauthorized');
    expect(outcome(await service.call('PUT', `/api/packages/${id}/publishing`, { token: admin.sessionToken, body: { trustedPublishingOnly: 'yes' } }))).toBe(
      '400 invalid_request',
    );
    expect((await service.getPackage(id)).body.trustedPublishingOnly).toBe(false);
  });

  it('is recorded in the switcher’s security log and in an owning organization’s trail; setting what is already so records nothing', async () => {
    const [admin, owner] = await users(2);
    const organization = await organizationOf(admin);
    const id = newId();
    await service.pushOk(await service.createKey(owner), id);
    await addOwner(id, owner, organization, admin);

    await switchedOn(id, owner);
    await switchedOn(id, owner);
    expect(outcome(await service.setTrustedPublishingOnly(id, admin, false))).toBe('200');

    const switches = (events: Array<{ action: string; details?: Record<string, string> }>) =>
      events.filter((e) => e.action.startsWith('trusted_publishing_only_')).map((e) => [e.action, e.details?.package]);
    expect(switches(await service.securityLog(owner))).toEqual([['trusted_publishing_only_enabled', id]]);
    expect(switches(await service.securityLog(admin))).toEqual([['trusted_publishing_only_disabled', id]]);
    const trail: Array<{ action: string; actor: { username: string }; details: Record<string, string> }> = (await service.organizationAudit(organization.name, admin)).body.events;
    expect(trail.filter((e) => e.action.startsWith('trusted_publishing_only_')).map((e) => [e.action, e.actor.username, e.details])).toEqual([
      ['trusted_publishing_only_disabled', admin.username, { package: id }],
      ['trusted_publishing_only_enabled', owner.username, { package: id }],
    ]);
  });
});

describe('while trusted-publishing-only is on', () => {
  it('refuses pushes with every key trusted publishing did not make, and takes them from a key it made', async () => {
    const owner = await service.confirmedUser();
    const id = newId();
    const longLived = await service.createKey(owner, { scopes: ['package:push'] });
    const versionsOnly = await service.createKey(owner, { scopes: ['package:pushversion'] });
    await service.pushOk(longLived, id);
    await switchedOn(id, owner);

    for (const key of [longLived, versionsOnly]) {
      const refused = await service.push(key, id, '1.1.0');
      expect(outcome(refused)).toBe('403 trusted_publishing_required');
      expect(refused.body.detail).toBe(
        `'${id}' accepts only trusted publishing, and this API key was not made by it. Push it from its CI job with trusted publishing (the job trades the token its CI system gives it for a short-lived key at the token API, as NuGet/login does), or have an owner turn trusted-publishing-only off for the package first.`,
      );
    }
    // Versions it has are refused the same way: the key is not to be used on the package at all.
    expect(outcome(await service.push(longLived, id, '1.0.0'))).toBe('403 trusted_publishing_required');

    const fromCi = await trustedKey(owner);
    expect(outcome(await service.push(fromCi, id, '1.1.0'))).toBe('200');
    expect((await service.getPackage(id)).body.versions.map((v: { version: string }) => v.version)).toEqual(['1.0.0', '1.1.0']);

    expect(outcome(await service.setTrustedPublishingOnly(id, owner, false))).toBe('200');
    expect(outcome(await service.push(longLived, id, '1.2.0'))).toBe('200');
  });

  it('refuses an organization’s long-lived keys, its members’ too, and takes the key its trusted publishing makes', async () => {
    const [admin, collaborator] = await users(2);
    const organization = await organizationOf(admin, collaborator);
    const id = newId();
    await service.pushOk(await service.createKey(admin, { owner: organization.name }), id);
    await switchedOn(id, admin);

    expect(outcome(await service.push(await service.createKey(collaborator, { owner: organization.name }), id, '2.0.0'))).toBe('403 trusted_publishing_required');
    expect(outcome(await service.push(await trustedKey(collaborator, organization), id, '2.0.0'))).toBe('200');
  });

  it('refuses unlisting and relisting with a long-lived key; owners signed in still unlist and relist', async () => {
    const owner = await service.confirmedUser();
    const id = newId();
    const unlistKey = await service.createKey(owner, { scopes: ['package:push', 'package:unlist'] });
    await service.pushOk(unlistKey, id);
    await switchedOn(id, owner);

    const refused = await service.setListed(id, '1.0.0', false, { key: unlistKey });
    expect(outcome(refused)).toBe('403 trusted_publishing_required');
    expect(refused.body.detail).toContain('Unlist or relist its versions signed in as an owner, or with a key trusted publishing made');
    expect((await service.getPackage(id)).body.listed).toBe(true);

    expect(outcome(await service.setListed(id, '1.0.0', false, owner))).toBe('204');
    expect(outcome(await service.setListed(id, '1.0.0', true, { key: unlistKey }))).toBe('403 trusted_publishing_required');
    expect(outcome(await service.setListed(id, '1.0.0', true, owner))).toBe('204');

    expect(outcome(await service.setTrustedPublishingOnly(id, owner, false))).toBe('200');
    expect(outcome(await service.setListed(id, '1.0.0', false, { key: unlistKey }))).toBe('204');
    expect((await service.getPackage(id)).body.listed).toBe(false);
  });

  it('refuses a push that reads the package once the switch was turned on, and keeps no record of it', async () => {
    const owner = await service.confirmedUser();
    const id = newId();
    const longLived = await service.createKey(owner);
    await service.pushOk(longLived, id);

    // The push has its key and is about to read the package when the switch lands. (A push that read the package
    // before lands: the push check no longer writes the package document, so nothing there can stop it.)
    const held = service.cosmos.holdNext(new RegExp(`^GET .*/colls/packages/docs/${id.toLowerCase()}$`));
    const pushing = service.push(longLived, id, '1.1.0');
    await held.reached;
    await switchedOn(id, owner);
    held.release();
    expect(outcome(await pushing)).toBe('403 trusted_publishing_required');
    expect((await service.getPackage(id)).body.versions).toEqual([{ version: '1.0.0', listed: true }]);
    expect((await service.securityLog(owner)).filter((e) => e.action === 'package_pushed').map((e) => e.details?.version)).toEqual(['1.0.0']);
  });

  it('still answers a key that may not touch the package at all as before: scope, then ownership', async () => {
    const [owner, stranger] = await users(2);
    const id = newId();
    await service.pushOk(await service.createKey(owner), id);
    await switchedOn(id, owner);
    expect(outcome(await service.push(await service.createKey(owner, { packageGlobs: ['Other.*'] }), id, '2.0.0'))).toBe('403 api_key_scope');
    expect(outcome(await service.push(await service.createKey(stranger), id, '2.0.0'))).toBe('403 not_an_owner');
  });
});

describe('the switch told to every owner', () => {
  const subject = (id: string, state: 'on' | 'off') => `Trusted-publishing-only turned ${state} for ${id}`;

  it('tells the owner who switched it (with where from, whatever its preferences), and every other owner and organization admin who takes notices', async () => {
    const [owner, coOwner, quietOwner, orgAdmin] = await users(4);
    const organization = await organizationOf(orgAdmin);
    const id = newId();
    await service.pushOk(await service.createKey(owner), id);
    for (const other of [coOwner, quietOwner]) await addOwner(id, owner, other);
    await addOwner(id, owner, organization, orgAdmin);
    for (const member of [owner, quietOwner]) expect(outcome(await service.setNotifications(member, { emailAllowed: false }))).toBe('200');

    await switchedOn(id, owner);
    await service.waitForEmailTo(owner.person.email, subject(id, 'on'));
    await service.deliverNotices();
    await service.deliverNotices();

    const [own] = to(owner, subject(id, 'on'));
    expect(to(owner, subject(id, 'on'))).toHaveLength(1);
    expect(own.plainText).toMatch(new RegExp(literally(`${owner.username} turned trusted-publishing-only on for the package ${id} at `) + WHEN + literally(' from the address 127.0.0.1.')));
    expect(own.plainText).toContain('only API keys trusted publishing gives a CI workflow can push');
    expect(own.plainText).toContain('If this was not you');
    for (const other of [coOwner, orgAdmin]) {
      const received = to(other, subject(id, 'on'));
      expect(received).toHaveLength(1);
      expect(received[0].plainText).toContain(`${owner.username} turned trusted-publishing-only on for the package ${id} at`);
      // Another owner's address is that owner's own.
      expect(received[0].plainText).not.toContain('127.0.0.1');
    }
    expect(to(quietOwner, subject(id, 'on'))).toEqual([]);

    expect(outcome(await service.setTrustedPublishingOnly(id, orgAdmin, false))).toBe('200');
    await service.waitForEmailTo(orgAdmin.person.email, subject(id, 'off'));
    await service.deliverNotices();
    for (const told of [orgAdmin, coOwner]) expect(to(told, subject(id, 'off'))).toHaveLength(1);
    expect(to(coOwner, subject(id, 'off'))[0].plainText).toContain(`${orgAdmin.username} turned trusted-publishing-only off for the package ${id}`);
    expect(to(coOwner, subject(id, 'off'))[0].plainText).toContain('Turning it off is what someone who wants to push with a stolen key does first');
    expect(to(owner, subject(id, 'off'))).toEqual([]);
  });

  it('tells nobody when nothing changed', async () => {
    const [owner, coOwner] = await users(2);
    const id = newId();
    await service.pushOk(await service.createKey(owner), id);
    await addOwner(id, owner, coOwner);
    expect(outcome(await service.setTrustedPublishingOnly(id, owner, false))).toBe('200');
    await service.deliverNotices();
    expect(to(owner, /Trusted-publishing-only/)).toEqual([]);
    expect(to(coOwner, /Trusted-publishing-only/)).toEqual([]);
  });
});

describe('the alarm: a long-lived key pushing a package trusted publishing pushes', () => {
  const alarm = (id: string, version: string) => `Security alert: ${id} ${version} was pushed with a long-lived API key`;
  const pushNotice = (id: string, version: string) => `Package pushed: ${id} ${version}`;

  it('tells every owner once, whatever their preferences, in place of the push notice, and the record of the push says so', async () => {
    const [owner, coOwner, orgAdmin, collaborator] = await users(4);
    const organization = await organizationOf(orgAdmin, collaborator);
    const id = newId();
    // Trusted publishing makes the package; its owners then share it.
    expect(outcome(await service.push(await trustedKey(owner), id, '1.0.0'))).toBe('201');
    await addOwner(id, owner, coOwner);
    await addOwner(id, owner, organization, orgAdmin);
    expect(outcome(await service.setNotifications(coOwner, { emailAllowed: false, notifyPackagePushed: false }))).toBe('200');
    expect(outcome(await service.setNotifications(orgAdmin, { notifyPackagePushed: false }))).toBe('200');
    await service.deliverNotices();

    const stolen = await service.createKey(owner, { description: 'laptop key' });
    expect(outcome(await service.push(stolen, id, '1.0.1'))).toBe('200');
    // At once: the push itself tells them, before any run of the outbox timer.
    for (const told of [owner, coOwner, orgAdmin]) expect(to(told, alarm(id, '1.0.1'))).toHaveLength(1);
    // The timer's runs after it send nothing more.
    await service.deliverNotices();
    await service.deliverNotices();

    for (const told of [owner, coOwner, orgAdmin]) {
      const received = to(told, alarm(id, '1.0.1'));
      expect(received).toHaveLength(1);
      expect(received[0].plainText).toMatch(new RegExp(`The package ${literally(id)} 1\\.0\\.1 was pushed at ${WHEN} with`));
      expect(received[0].plainText).toContain(`with the API key 'laptop key' (id ${stolen.id}) of ${owner.username}: a long-lived key, not one trusted publishing gave a CI workflow, although trusted publishing pushed it before (its latest such push: 1.0.0, at`);
      expect(received[0].plainText).toContain('This is a notice about the security of your package gallery account: these are always sent.');
      expect(to(told, pushNotice(id, '1.0.1'))).toEqual([]);
    }
    expect(to(collaborator, alarm(id, '1.0.1'))).toEqual([]);

    const [record] = (await service.securityLog(owner)).filter((e) => e.action === 'package_pushed' && e.details?.version === '1.0.1');
    expect(record.details).toMatchObject({ package: id, version: '1.0.1', keyId: stolen.id, alert: 'long_lived_key_after_trusted_publishing' });
  });

  it('sounds for a package that existed before trusted publishing first pushed it', async () => {
    const owner = await service.confirmedUser();
    const id = newId();
    const longLived = await service.createKey(owner);
    await service.pushOk(longLived, id);
    expect(outcome(await service.push(await trustedKey(owner), id, '2.0.0'))).toBe('200');
    expect(outcome(await service.push(longLived, id, '2.0.1'))).toBe('200');
    await service.deliverNotices();
    expect(to(owner, pushNotice(id, '2.0.0'))).toHaveLength(1);
    expect(to(owner, alarm(id, '2.0.1'))).toHaveLength(1);
    expect(to(owner, alarm(id, '2.0.1'))[0].plainText).toContain('its latest such push: 2.0.0');
  });

  it('names trusted publishing’s latest push of the package, though only its first push writes the package document', async () => {
    const owner = await service.confirmedUser();
    const id = newId();
    const trusted = await trustedKey(owner);
    await service.pushOk(trusted, id);
    service.cosmos.reset();
    expect(outcome(await service.push(trusted, id, '1.1.0'))).toBe('200');
    expect(service.cosmos.documentRequests().filter((line) => !line.startsWith('GET ') && line.includes('/colls/packages/'))).toEqual([]);

    expect(outcome(await service.push(await service.createKey(owner), id, '1.2.0'))).toBe('200');
    expect(to(owner, alarm(id, '1.2.0'))[0].plainText).toContain('its latest such push: 1.1.0, at');
  });

  it('stays silent for a package trusted publishing never pushed, and for pushes trusted publishing makes', async () => {
    const owner = await service.confirmedUser();
    const id = newId();
    const longLived = await service.createKey(owner);
    await service.pushOk(longLived, id);
    expect(outcome(await service.push(longLived, id, '1.1.0'))).toBe('200');
    const fromCi = newId();
    const trusted = await trustedKey(owner);
    await service.pushOk(trusted, fromCi);
    expect(outcome(await service.push(trusted, fromCi, '1.1.0'))).toBe('200');
    await service.deliverNotices();

    expect(to(owner, pushNotice(id, '1.1.0'))).toHaveLength(1);
    expect(to(owner, pushNotice(fromCi, '1.1.0'))).toHaveLength(1);
    expect(to(owner, /^Security alert/)).toEqual([]);
    const pushes = (await service.securityLog(owner)).filter((e) => e.action === 'package_pushed');
    expect(pushes.filter((e) => e.details?.alert !== undefined)).toEqual([]);
  });
});

describe('what the switch and the alarm cost', () => {
  /** Document requests, with the database's name left out, in a fixed order. */
  const requests = () =>
    service.cosmos
      .documentRequests()
      .map((line) => line.replace(/^(\w+ )\/dbs\/[^/]+/, '$1'))
      .sort();
  const pushRequests = (keyId: string, id: string) =>
    [`GET /colls/apiKeys/docs/${keyId}`, `GET /colls/packages/docs/${id.toLowerCase()}`, 'POST /colls/audit/docs', 'POST /colls/packageVersions/docs'].sort();

  async function measured(call: () => Promise<ApiResponse>, expected: string): Promise<string[]> {
    service.cosmos.reset();
    expect(outcome(await call())).toBe(expected);
    return requests();
  }

  it('leaves the push check a key read, a package read and the version’s write with its record beside it, and a refusal two reads; only the alarm pays for telling at once', async () => {
    const owner = await service.confirmedUser();
    const longLived = await service.createKey(owner, { scopes: ['package:push', 'package:unlist'] });
    const trusted = await trustedKey(owner);
    const trustedId = trusted.split('.')[1];
    const plain = newId();
    const fromCi = newId();
    await service.pushOk(longLived, plain);
    await service.pushOk(trusted, fromCi);

    expect(await measured(() => service.push(longLived, plain, '1.1.0'), '200')).toEqual(pushRequests(longLived.id, plain));
    expect(await measured(() => service.push(trusted, fromCi, '1.1.0'), '200')).toEqual(pushRequests(trustedId, fromCi));
    // The push that raises the alarm (never an ordinary one) tells the owners itself: it reads the package again and
    // its version's item to see it landed, asks for trusted publishing's latest push of it (a query within its
    // versions: the SDK asks for the query's plan, then runs it), queues the notice to many and expands it (the
    // owner's account, its email), and clears the mark on its record.
    const alarmed = await measured(() => service.push(longLived, fromCi, '1.2.0'), '200');
    const telling = [
      `GET /colls/packages/docs/${fromCi.toLowerCase()}`,
      'GET /colls/packageVersions/docs/1.2.0',
      'POST /colls/packageVersions/docs',
      'POST /colls/packageVersions/docs',
      'POST /colls/outbox/docs',
      expect.stringMatching(/^GET \/colls\/accounts\/docs\//),
      'POST /colls/outbox/docs',
      expect.stringMatching(/^PUT \/colls\/outbox\/docs\//),
      expect.stringMatching(/^PUT \/colls\/outbox\/docs\//),
      expect.stringMatching(/^PUT \/colls\/audit\/docs\/push:/),
    ];
    expect(alarmed).toHaveLength(pushRequests(longLived.id, fromCi).length + telling.length);
    expect(alarmed).toEqual(expect.arrayContaining([...pushRequests(longLived.id, fromCi), ...telling]));

    await switchedOn(fromCi, owner);
    const reads = [`GET /colls/apiKeys/docs/${longLived.id}`, `GET /colls/packages/docs/${fromCi.toLowerCase()}`].sort();
    expect(await measured(() => service.push(longLived, fromCi, '1.3.0'), '403 trusted_publishing_required')).toEqual(reads);
    expect(await measured(() => service.push(trusted, fromCi, '1.3.0'), '200')).toEqual(pushRequests(trustedId, fromCi));
    expect(await measured(() => service.setListed(fromCi, '1.0.0', false, { key: longLived }), '403 trusted_publishing_required')).toEqual(reads);
    // An unlist reads the package and the version's item, and writes the item alone.
    expect(await measured(() => service.setListed(plain, '1.0.0', false, { key: longLived }), '204')).toEqual(
      [
        `GET /colls/apiKeys/docs/${longLived.id}`,
        `GET /colls/packages/docs/${plain.toLowerCase()}`,
        'GET /colls/packageVersions/docs/1.0.0',
        'PUT /colls/packageVersions/docs/1.0.0',
        'POST /colls/audit/docs',
      ].sort(),
    );
    expect(service.cosmos.queries()).toEqual([]);
  });
});
