import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { useTestService, type ApiResponse } from './support/service';
import { uniqueName } from './support/people';
import { expectKeyAsNuGetLoginTakesIt, noMatch, refusal } from './support/trustedPublishing';
import type { Member } from './support/organizations';
import type { GitHubRepository } from './standins/githubActions';

/**
 * `POST /api/v2/token` as a GitHub Actions workflow reaches it through the NuGet/login action: a token of a
 * trusted run gets a key that works for 15 minutes, once; every other token, request and account state is
 * refused in NuGet.org's shape, `{ error }` with 400 or 401, without telling anyone who holds no token of a
 * trusted run which accounts or policies exist.
 */
const SITE_ADMIN = uniqueName('tp-admin');
const service = useTestService({ settings: { SITE_ADMINS: SITE_ADMIN } });
let registeredSiteAdmin: Promise<Member> | undefined;
/** The site admin who locks and unlocks accounts here, registered once. */
const siteAdmin = () => (registeredSiteAdmin ??= service.confirmedUser(undefined, SITE_ADMIN));

/** A repository on the stand-in GitHub no other test uses. */
const newRepository = (owner = uniqueName('octo')): GitHubRepository => service.github.repository(`${owner}/${uniqueName('repo')}`);

const DAY = 24 * 60 * 60 * 1000;

interface Publisher {
  user: Member;
  repository: GitHubRepository;
  policyId: string;
}

/** A confirmed account with a policy for a new repository's release.yml (and `overrides`). */
async function publisher(overrides: Record<string, unknown> = {}): Promise<Publisher> {
  const user = await service.confirmedUser();
  const repository = newRepository();
  const { id } = await service.addTrustedPublisher(user, repository, overrides);
  return { user, repository, policyId: id };
}

const listKeys = async (user: Member) => (await service.call('GET', '/api/me/api-keys', { token: user.sessionToken })).body;

describe('a workflow run the policy trusts', () => {
  it('gets a key, as NuGet/login reads it, that pushes for the policy owner for 15 minutes', async () => {
    const { user, repository } = await publisher();
    const before = Date.now();
    const apiKey = expectKeyAsNuGetLoginTakesIt(await service.exchangeToken(user.username, service.workflowToken(repository)), before);

    const packageId = uniqueName('Trusted.Lib');
    expect((await service.push(apiKey, packageId)).status).toBe(201);
    expect((await service.getPackage(packageId)).body.owners).toEqual([user.username]);
    // package:push covers new versions too, and the glob every id.
    expect((await service.push(apiKey, packageId, '1.1.0')).status).toBe(200);

    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 15 * 60 * 1000 + 1000));
    expect((await service.push(apiKey, uniqueName('Late.Lib'))).body.code).toBe('invalid_api_key');
  });

  it('shows the key as made by trusted publishing, with scope package:push for every id; it cannot be edited or regenerated', async () => {
    const { user, repository, policyId } = await publisher();
    const token = service.workflowToken(repository, { runId: '8675309' });
    const key = await service.trustedPublishingKey(user.username, token);
    const [listed] = await listKeys(user);
    expect(listed).toEqual({
      id: key.split('.')[1],
      description: `Trusted publishing: ${repository.owner}/${repository.name}, release.yml, run 8675309`,
      scopes: ['package:push'],
      packageGlobs: ['*'],
      owner: user.username,
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
      expired: false,
      suspended: false,
      trustedPublishing: true,
    });
    for (const response of [
      await service.editKey(user, listed.id, { description: 'mine now' }),
      await service.editKey(user, listed.id, { packageGlobs: ['Other.*'] }),
      await service.call('POST', `/api/me/api-keys/${listed.id}/regenerate`, { token: user.sessionToken }),
    ]) {
      expect(`${response.status} ${response.body.code}`).toBe('409 trusted_publishing_key');
      expect(response.body.detail).toMatch(/cannot be edited or regenerated/);
    }
    expect(await listKeys(user)).toEqual([listed]);
    // Revoking works as for any key, and stops it at once.
    expect((await service.call('DELETE', `/api/me/api-keys/${listed.id}`, { token: user.sessionToken })).status).toBe(204);
    expect((await service.push(key, uniqueName('Revoked.Lib'))).body.code).toBe('invalid_api_key');

    // The creator's log: the policy pinned by its first use, the key made for the run.
    const log = await service.securityLog(user);
    expect(log.slice(0, 3).map((e) => [e.action, e.details])).toEqual([
      ['api_key_revoked', { keyId: listed.id }],
      ['trusted_publishing_key_created', { keyId: listed.id, owner: user.username, policyId, repository: `${repository.owner}/${repository.name}`, workflowFile: 'release.yml', runId: '8675309' }],
      ['trusted_publisher_pinned', expect.objectContaining({ policyId, repositoryId: repository.id, repositoryOwnerId: repository.ownerId })],
    ]);
  });

  it('pushes record that trusted publishing made the key: in the account log, and in an organization trail', async () => {
    const { user, repository } = await publisher();
    const ownKey = await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    const ownPackage = uniqueName('Own.Lib');
    await service.pushOk(ownKey, ownPackage);
    expect((await service.securityLog(user))[0]).toMatchObject({
      action: 'package_pushed',
      details: { package: ownPackage, version: '1.0.0', keyId: ownKey.split('.')[1], trustedPublishing: 'true', keyDescription: expect.stringMatching(/^Trusted publishing: /) },
    });

    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, member);
    const orgRepository = newRepository();
    const policy = await service.addTrustedPublisher(member, orgRepository, { owner: name, environment: 'nuget' });
    const orgKey = await service.trustedPublishingKey(member.username, service.workflowToken(orgRepository, { environment: 'nuget' }));
    const orgPackage = uniqueName('Org.Lib');
    await service.pushOk(orgKey, orgPackage);
    expect((await service.getPackage(orgPackage)).body.owners).toEqual([name]);
    const trail = (await service.organizationAudit(name, admin)).body.events;
    const keyRecord = { id: orgKey.split('.')[1], description: expect.stringMatching(/^Trusted publishing: /), trustedPublishing: true };
    expect(trail.slice(0, 3)).toEqual([
      expect.objectContaining({ action: 'package_pushed', actor: { username: member.username }, apiKey: keyRecord, details: { package: orgPackage, version: '1.0.0' } }),
      expect.objectContaining({ action: 'trusted_publishing_key_created', actor: { username: member.username }, apiKey: keyRecord, details: expect.objectContaining({ policyId: policy.id, owner: name }) }),
      expect.objectContaining({ action: 'trusted_publisher_pinned', details: expect.objectContaining({ policyId: policy.id, repositoryId: orgRepository.id }) }),
    ]);
    // The member holds the key; it is not announced as a key the member made by hand.
    expect((await listKeys(member)).map((k: { trustedPublishing: boolean; owner: string }) => [k.owner, k.trustedPublishing])).toEqual([[name, true]]);
  });

  it("tells the package's owners of its pushes, but never announces the key, warns of its expiry or indexes it", async () => {
    const { user, repository } = await publisher();
    const key = await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    const keyId = key.split('.')[1];
    const packageId = uniqueName('Told.Lib');
    const pushed = await service.pushOk(key, packageId);
    // It expires within minutes, yet the build is not told to regenerate it: it cannot be regenerated.
    expect(pushed.headers.get('x-nuget-warning')).toBeNull();
    const { resources: expiries } = await container('apiKeyExpiries')
      .items.query({ query: 'SELECT c.id FROM c WHERE c.keyId = @key', parameters: [{ name: '@key', value: keyId }] })
      .fetchAll();
    expect(expiries).toEqual([]);

    await service.deliverNotices();
    expect(service.noticesTo(user.person.email, `Package pushed: ${packageId} 1.0.0`)).toHaveLength(1);
    expect((await service.call('DELETE', `/api/me/api-keys/${keyId}`, { token: user.sessionToken })).status).toBe(204);
    await service.deliverNotices();
    expect(service.noticesTo(user.person.email, /^API key /)).toEqual([]);
  });

  it('matches owner, repository, workflow file and environment case-insensitively, and lets a policy without an environment take any', async () => {
    const user = await service.confirmedUser();
    const repository = newRepository();
    await service.addTrustedPublisher(user, { owner: repository.owner.toUpperCase(), name: repository.name.toUpperCase() }, { workflowFile: 'Release.YML', environment: 'NuGet' });
    expect((await service.exchangeToken(user.username, service.workflowToken(repository, { workflowFile: 'release.yml', environment: 'nuget' }))).status).toBe(200);

    const anyEnvironment = await publisher();
    const token = service.workflowToken(anyEnvironment.repository, { environment: 'staging', ref: 'refs/tags/v2.0.0', eventName: 'release' });
    expect((await service.exchangeToken(anyEnvironment.user.username.toUpperCase(), token)).status).toBe(200);
  });

  it('keeps working once pinned, and notes when it was last used', async () => {
    const { user, repository } = await publisher();
    await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    const [pinned] = await service.trustedPublishersOf(user);
    expect(pinned).toMatchObject({ status: 'active', lapsesAt: null, pinned: { repositoryId: repository.id, repositoryOwnerId: repository.ownerId } });
    // Long after the 7 days a policy never used has: pinned, it does not lapse.
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 30 * DAY));
    await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    const [used] = await service.trustedPublishersOf({ sessionToken: await service.signIn(user.person) });
    expect(Date.parse(used.lastUsedAt)).toBeGreaterThan(Date.parse(pinned.lastUsedAt));
  });
});

describe("a policy's globs and scopes bound the keys it makes", () => {
  it('a key of a policy for Contoso.* and package:pushversion pushes new versions of those packages, and nothing else', async () => {
    const prefix = uniqueName('Contoso');
    const { user, repository } = await publisher({ packageGlobs: [`${prefix}.*`], scopes: ['package:pushversion'] });
    const own = await service.createKey(user);
    const [covered, outside] = [`${prefix}.Lib`, uniqueName('Other.Lib')];
    await service.pushOk(own, covered);
    await service.pushOk(own, outside);

    const key = await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    expect((await listKeys(user)).find((k: { trustedPublishing: boolean }) => k.trustedPublishing)).toMatchObject({
      scopes: ['package:pushversion'],
      packageGlobs: [`${prefix}.*`],
    });
    const outcomeOf = (response: ApiResponse) => `${response.status} ${response.body.code ?? ''}`.trim();
    // A new id needs package:push; another package is outside the glob, new id or not.
    expect(outcomeOf(await service.push(key, `${prefix}.New`))).toBe('403 api_key_scope');
    expect(outcomeOf(await service.push(key, outside, '1.1.0'))).toBe('403 api_key_scope');
    expect(outcomeOf(await service.push(key, uniqueName('Elsewhere')))).toBe('403 api_key_scope');
    expect(outcomeOf(await service.setListed(covered, '1.0.0', false, { key }))).toBe('403 api_key_scope');
    expect(outcomeOf(await service.push(key, covered.toUpperCase(), '1.1.0'))).toBe('200');
  });

  it('a key of a policy with package:unlist unlists and relists, and pushes nothing', async () => {
    const { user, repository } = await publisher({ scopes: ['package:unlist'] });
    const packageId = uniqueName('Unlisted.Lib');
    await service.pushOk(await service.createKey(user), packageId);
    const key = await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    expect((await service.setListed(packageId, '1.0.0', false, { key })).status).toBe(204);
    expect((await service.getPackage(packageId)).body.listed).toBe(false);
    expect((await service.setListed(packageId, '1.0.0', true, { key })).status).toBe(204);
    expect((await service.push(key, packageId, '1.1.0')).body.code).toBe('api_key_scope');
  });
});

describe('each token is spent once', () => {
  it('a replay is refused, on another instance of the app too, and with another username', async () => {
    const { user, repository } = await publisher();
    const other = await service.confirmedUser();
    await service.addTrustedPublisher(other, repository);
    const token = service.workflowToken(repository);
    const second = await service.startSecondInstance();
    try {
      expect((await service.exchangeToken(user.username, token)).status).toBe(200);
      const replayed = 'This bearer token has already been used. A new bearer token must be used for each request.';
      expect(refusal(await service.exchangeToken(user.username, token))).toBe(`401 ${replayed}`);
      const elsewhere = await second.call('POST', '/api/v2/token', {
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'User-Agent': 'nuget/login-action' },
        rawBody: JSON.stringify({ username: user.username, tokenType: 'ApiKey' }),
      });
      expect(refusal(elsewhere)).toBe(`401 ${replayed}`);
      // Another account trusting the same workflow gets nothing for a token spent already.
      expect(refusal(await service.exchangeToken(other.username, token))).toBe(`401 ${replayed}`);
    } finally {
      await second.stop();
    }
  });

  it('the same token on two instances at once: exactly one key', async () => {
    const second = await service.startSecondInstance();
    try {
      for (let round = 0; round < 5; round += 1) {
        const { user, repository } = await publisher();
        const token = service.workflowToken(repository);
        const request = {
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'User-Agent': 'nuget/login-action' },
          rawBody: JSON.stringify({ username: user.username, tokenType: 'ApiKey' }),
        };
        const answers = await Promise.all([
          service.call('POST', '/api/v2/token', request),
          second.call('POST', '/api/v2/token', request),
          service.call('POST', '/api/v2/token', request),
          second.call('POST', '/api/v2/token', request),
        ]);
        expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401, 401]);
        expect(await listKeys(user)).toHaveLength(1);
      }
    } finally {
      await second.stop();
    }
  });

  it('a token that matched no policy is not spent: the right username still gets its key with it', async () => {
    const { user, repository } = await publisher();
    const stranger = await service.confirmedUser();
    const token = service.workflowToken(repository);
    expect(refusal(await service.exchangeToken(stranger.username, token))).toBe(noMatch(stranger.username));
    expect((await service.exchangeToken(user.username, token)).status).toBe(200);
  });

  it('keeps the spent token\'s record at least as long as the token could be used', async () => {
    const { user, repository } = await publisher();
    const token = service.workflowToken(repository);
    await service.trustedPublishingKey(user.username, token);
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number };
    const { resources } = await container('usedOidcTokens').items.query('SELECT * FROM c').fetchAll();
    const record = resources.find((r) => r.expiresAt === new Date(exp * 1000).toISOString());
    expect(record).toBeDefined();
    // Its id is a hash: the token's jti is not stored.
    expect(record.id).toMatch(/^[0-9a-f]{64}$/);
    expect(record.ttl).toBeGreaterThanOrEqual(exp - Math.floor(Date.now() / 1000) + 60);
  });
});

describe('nothing but a full match gets a key, and a mismatch says only that nothing matched', () => {
  it.each<[string, (p: Publisher) => string]>([
    ['another repository owner', (p) => service.workflowToken(service.github.repository(`${uniqueName('other')}/${p.repository.name}`))],
    ['another repository of the owner', (p) => service.workflowToken(service.github.repository(`${p.repository.owner}/${uniqueName('other')}`))],
    ['another workflow file', (p) => service.workflowToken(p.repository, { workflowFile: 'ci.yml' })],
    ['a workflow file of the same name elsewhere in the path', (p) => service.workflowToken(p.repository, { jobWorkflowRef: `${p.repository.owner}/${p.repository.name}/.github/workflows/sub/release.yml@refs/heads/main` })],
    ['a reusable workflow of another repository', (p) => service.workflowToken(p.repository, { jobWorkflowRef: `${p.repository.owner}/shared-workflows/.github/workflows/release.yml@refs/heads/main` })],
    ['a job_workflow_ref without a ref', (p) => service.workflowToken(p.repository, { jobWorkflowRef: `${p.repository.owner}/${p.repository.name}/.github/workflows/release.yml` })],
    ['a repository claim that disagrees with repository_owner', (p) => service.workflowToken(p.repository, {}, { claims: { repository_owner: uniqueName('other') } })],
  ])('%s', async (_label, tokenFor) => {
    const p = await publisher();
    expect(refusal(await service.exchangeToken(p.user.username, tokenFor(p)))).toBe(noMatch(p.user.username));
    // The policy was not pinned by it.
    expect((await service.trustedPublishersOf(p.user))[0]).toMatchObject({ status: 'pending', pinned: null });
  });

  it('an environment the policy names: a job in another environment, or in none, is refused', async () => {
    const p = await publisher({ environment: 'release' });
    for (const environment of ['staging', undefined]) {
      expect(refusal(await service.exchangeToken(p.user.username, service.workflowToken(p.repository, { environment })))).toBe(noMatch(p.user.username));
    }
    expect((await service.exchangeToken(p.user.username, service.workflowToken(p.repository, { environment: 'release' }))).status).toBe(200);
  });

  it('an unknown username, an organization\'s, one without policies and a mismatch: the same sentence', async () => {
    const p = await publisher();
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const token = () => service.workflowToken(p.repository, { workflowFile: 'other.yml' });
    const answers = await Promise.all(
      [uniqueName('nobody'), name, admin.username, p.user.username].map(async (username) => [username, refusal(await service.exchangeToken(username, token()))]),
    );
    for (const [username, answer] of answers) expect(answer).toBe(noMatch(username));
  });

  it('a policy pinned to a repository deleted and made again under the same name: refused', async () => {
    const { user, repository } = await publisher();
    await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    const again = service.github.recreate(`${repository.owner}/${repository.name}`);
    expect(refusal(await service.exchangeToken(user.username, service.workflowToken(again)))).toBe(noMatch(user.username));
    expect((await service.trustedPublishersOf(user))[0]).toMatchObject({ status: 'active', pinned: { repositoryId: repository.id } });
    // The owner account made again too: refused the same way.
    const movedOwner = { ...repository, ownerId: `${repository.ownerId}9` };
    expect(refusal(await service.exchangeToken(user.username, service.workflowToken(movedOwner)))).toBe(noMatch(user.username));
  });

  it('a policy never used lapses after 7 days: refused, and it says so', async () => {
    const { user, repository } = await publisher();
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 7 * DAY + 60_000));
    expect(refusal(await service.exchangeToken(user.username, service.workflowToken(repository)))).toBe(noMatch(user.username));
    expect((await service.trustedPublishersOf({ sessionToken: await service.signIn(user.person) }))[0].status).toBe('lapsed');
  });

  it('pins only by a full match, and two repositories of one name racing to pin it: one key, and it is pinned to that one', async () => {
    for (let round = 0; round < 4; round += 1) {
      const { user, repository } = await publisher();
      const again = service.github.recreate(`${repository.owner}/${repository.name}`);
      const [first, second] = await Promise.all([
        service.exchangeToken(user.username, service.workflowToken(repository)),
        service.exchangeToken(user.username, service.workflowToken(again)),
      ]);
      expect([first.status, second.status].sort()).toEqual([200, 401]);
      const winner = first.status === 200 ? repository : again;
      expect((await service.trustedPublishersOf(user))[0].pinned).toMatchObject({ repositoryId: winner.id });
      expect(await listKeys(user)).toHaveLength(1);
    }
  });

  it('several jobs of one run pinning a policy at once all get keys', async () => {
    const { user, repository } = await publisher();
    const answers = await Promise.all(Array.from({ length: 5 }, () => service.exchangeToken(user.username, service.workflowToken(repository))));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await service.securityLog(user)).filter((e) => e.action === 'trusted_publisher_pinned')).toHaveLength(1);
  });
});

describe('tokens GitHub did not issue for this service, or no longer valid', () => {
  const tokenRefusals: Array<[string, (r: GitHubRepository) => string, string]> = [
    ['another audience (GitHub\'s default, the owner\'s URL)', (r) => service.workflowToken(r, {}, { audience: `https://github.com/${r.owner}` }), 'The JSON web token has an incorrect audience.'],
    ['two audiences', (r) => service.workflowToken(r, {}, { claims: { aud: ['https://gallery.example', 'https://other.example'] } }), 'The JSON web token must have exactly one aud claim value.'],
    ['another issuer', (r) => service.workflowToken(r, {}, { claims: { iss: 'https://token.actions.githubusercontent.com' } }), 'The JSON web token was not issued by GitHub Actions or GitLab CI/CD: its iss claim is not supported.'],
    ['HS256 with the public key as secret', (r) => service.workflowToken(r, {}, { algorithm: 'HS256' }), 'The JSON web token must be signed with RS256.'],
    ['no signature (alg none)', (r) => service.workflowToken(r, {}, { algorithm: 'none' }), 'The JSON web token must be signed with RS256.'],
    ['RS512 with the right key', (r) => service.workflowToken(r, {}, { algorithm: 'RS512' }), 'The JSON web token must be signed with RS256.'],
    ['a forged signature under the right kid', (r) => service.workflowToken(r, {}, { signWith: 'foreign' }), 'The JSON web token has an invalid signature.'],
    ['a kid the issuer never published', (r) => service.workflowToken(r, {}, { header: { kid: 'f0e1d2c3-0000-4000-8000-000000000000' } }), 'The JSON web token has an invalid signature.'],
    ['expired', (r) => service.workflowToken(r, {}, { issuedAt: new Date(Date.now() - 10 * 60 * 1000) }), 'The JSON web token has expired.'],
    ['not yet valid', (r) => service.workflowToken(r, {}, { issuedAt: new Date(Date.now() + 20 * 60 * 1000) }), 'The JSON web token is not yet valid.'],
    ['issued in the future', (r) => service.workflowToken(r, {}, { claims: { iat: Math.floor(Date.now() / 1000) + 600 } }), 'The JSON web token is not yet valid.'],
    ['without exp', (r) => service.workflowToken(r, {}, { claims: { exp: undefined } }), 'The JSON web token must have an exp claim.'],
    ['without jti', (r) => service.workflowToken(r, {}, { claims: { jti: undefined } }), 'The JSON web token must have a jti claim.'],
    ['without repository_id', (r) => service.workflowToken(r, {}, { claims: { repository_id: undefined } }), "The JSON web token is missing the required claim 'repository_id'."],
    ['without job_workflow_ref', (r) => service.workflowToken(r, {}, { claims: { job_workflow_ref: undefined } }), "The JSON web token is missing the required claim 'job_workflow_ref'."],
    ['a Microsoft ID token', () => service.identity.mint({ email: 'ada@example.com' }), 'The JSON web token was not issued by GitHub Actions or GitLab CI/CD: its iss claim is not supported.'],
    ['no JWT at all', () => 'not-a-jwt', 'The bearer token could not be parsed as a JSON web token.'],
  ];

  it.each(tokenRefusals)('%s: 401, the same for a known and an unknown username', async (_label, tokenFor, sentence) => {
    const { user, repository } = await publisher();
    await service.expectTokenRefusedForAnyone(user.username, () => tokenFor(repository), sentence);
    expect(await listKeys(user)).toEqual([]);
  });

  it("keeps working through GitHub's key rotation, and through an outage of its key set once it has the keys", async () => {
    const { user, repository } = await publisher();
    await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    // A key set is fetched again for an unknown kid at most once a minute.
    service.github.rotateKeys();
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 61_000));
    await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    service.github.setOutage(true);
    try {
      await service.trustedPublishingKey(user.username, service.workflowToken(repository));
      // An instance that never had the keys cannot check a token: 503, with Retry-After, to run the job again.
      const fresh = await service.startSecondInstance();
      // Instances share the time: the token is not from the future for this one (it is checked before any key).
      jest.spyOn(fresh.clock, 'now').mockReturnValue(clock.now());
      try {
        const answer = await fresh.call('POST', '/api/v2/token', {
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${service.workflowToken(repository)}`, 'User-Agent': 'nuget/login-action' },
          rawBody: JSON.stringify({ username: user.username, tokenType: 'ApiKey' }),
        });
        expect(answer.status).toBe(503);
        expect(answer.headers.get('retry-after')).toBe('30');
        expect(Object.keys(answer.body)).toEqual(['error']);
      } finally {
        await fresh.stop();
      }
    } finally {
      service.github.setOutage(false);
    }
  });
});

describe('the request, as NuGet.org takes it', () => {
  const post = async (headers: Record<string, string> | Array<[string, string]>, rawBody: string): Promise<ApiResponse> => {
    if (!Array.isArray(headers)) return service.call('POST', '/api/v2/token', { headers, rawBody });
    // A header sent twice, as fetch sends repeated headers: joined into one line with a comma.
    const response = await fetch(`${service.url}/api/v2/token`, { method: 'POST', headers, body: rawBody });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: JSON.parse(text), text };
  };
  const body = JSON.stringify({ username: 'someone', tokenType: 'ApiKey' });

  it.each<[string, Record<string, string> | Array<[string, string]>, string, string]>([
    ['no Authorization header', { 'Content-Type': 'application/json', 'User-Agent': 'x' }, body, 'The Authorization header is missing.'],
    ['no Authorization header and a bad body', { 'Content-Type': 'text/plain' }, '{', 'The Authorization header is missing.'],
    ['another scheme', { Authorization: 'Basic dXNlcjpwYXNz', 'Content-Type': 'application/json', 'User-Agent': 'x' }, body, "The Authorization header value must start with 'Bearer '."],
    ['Bearer without a token', { Authorization: 'Bearer', 'Content-Type': 'application/json', 'User-Agent': 'x' }, body, 'The bearer token is missing from the Authorization header.'],
    [
      'two Authorization headers',
      [['Authorization', 'Bearer a.b.c'], ['Authorization', 'Bearer d.e.f'], ['Content-Type', 'application/json'], ['User-Agent', 'x']],
      body,
      'Only one Authorization header is allowed.',
    ],
    ['an API key beside it', { Authorization: 'Bearer a.b.c', 'X-NuGet-ApiKey': 'gak1.x', 'Content-Type': 'application/json', 'User-Agent': 'x' }, body, 'Only Bearer token authentication is accepted.'],
  ])('%s: 401 with WWW-Authenticate: Bearer', async (_label, headers, rawBody, sentence) => {
    const response = await post(headers, rawBody);
    expect(refusal(response)).toBe(`401 ${sentence}`);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it.each<[string, Record<string, string>, string, string]>([
    ['no content type', { 'User-Agent': 'x' }, body, "The request must have a Content-Type of 'application/json'."],
    ['text/plain', { 'Content-Type': 'text/plain', 'User-Agent': 'x' }, body, "The request must have a Content-Type of 'application/json'."],
    ['a blank User-Agent', { 'Content-Type': 'application/json', 'User-Agent': ' ' }, body, 'A User-Agent header is required.'],
    ['malformed JSON', { 'Content-Type': 'application/json', 'User-Agent': 'x' }, '{"username":', 'The request body is not valid JSON.'],
    ['no username', { 'Content-Type': 'application/json', 'User-Agent': 'x' }, '{"tokenType":"ApiKey"}', "The field 'username' is required."],
    ['another token type', { 'Content-Type': 'application/json', 'User-Agent': 'x' }, '{"username":"someone","tokenType":"apikey"}', 'The field \'tokenType\' must be one of "ApiKey".'],
    ['an unknown field', { 'Content-Type': 'application/json', 'User-Agent': 'x' }, '{"username":"someone","tokenType":"ApiKey","scopes":["*"]}', "The field 'scopes' is not recognised."],
    ['a body over 64 KiB', { 'Content-Type': 'application/json', 'User-Agent': 'x' }, JSON.stringify({ username: 'x'.repeat(70_000), tokenType: 'ApiKey' }), 'The request body must not exceed 64 KiB.'],
  ])('%s: 400', async (_label, headers, rawBody, sentence) => {
    const response = await post({ Authorization: 'Bearer a.b.c', ...headers }, rawBody);
    expect(refusal(response)).toBe(`400 ${sentence}`);
  });

  it('takes a content type with a charset, and a username in any casing', async () => {
    const { user, repository } = await publisher();
    const response = await post(
      { Authorization: `bearer ${service.workflowToken(repository)}`, 'Content-Type': 'application/json; charset=utf-8', 'User-Agent': 'NuGet Command Line/6.14' },
      JSON.stringify({ username: user.username.toUpperCase(), tokenType: 'ApiKey' }),
    );
    expect(response.status).toBe(200);
  });

  it('limits a client address to 300 exchanges in 15 minutes, failed or not: 429 { error } with Retry-After', async () => {
    // A quarter of an hour no other test uses (every request here comes from one address), five minutes in.
    const window = 15 * 60 * 1000;
    const start = (Math.ceil(Date.now() / window) + 1000) * window;
    jest.spyOn(clock, 'now').mockReturnValue(new Date(start + 5 * 60 * 1000));
    const headers = { Authorization: 'Bearer not-a-jwt', 'Content-Type': 'application/json', 'User-Agent': 'x' };
    for (let i = 0; i < 300; i += 20) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => post(headers, body)));
      expect(answers.map((a) => a.status)).toEqual(Array<number>(20).fill(401));
    }
    const limited = await post(headers, body);
    expect(refusal(limited)).toBe('429 Too many attempts. Try again in 600 seconds.');
    expect(limited.headers.get('retry-after')).toBe('600');
    // The next quarter of an hour starts afresh.
    jest.spyOn(clock, 'now').mockReturnValue(new Date(start + window));
    expect((await post(headers, body)).status).toBe(401);
  });

  it('costs a bounded number of Cosmos DB requests', async () => {
    const { user, repository } = await publisher();
    await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    service.cosmos.reset();
    await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    // The rate limit's counter, the username and its account, its policies (one query in its partition: the SDK
    // asks for the plan first, so two requests), the spent token, the policy's last use, the account's key list,
    // the key, the look at the account after it, the log, the look at the policy after it.
    expect(service.cosmos.documentRequests().length).toBeLessThanOrEqual(12);
    expect(service.cosmos.queries().map((line) => line.replace(/^POST \/dbs\/[^/]+/, ''))).toEqual(Array(2).fill('/colls/trustedPublishers/docs'));
    // Only the exchange that pins a policy queues a notice.
    expect(service.cosmos.documentRequests().filter((line) => line.includes('/colls/outbox/'))).toEqual([]);
  });
});

describe('the accounts behind a matching policy', () => {
  async function organizationPublisher() {
    const admin = await service.confirmedUser();
    const member = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    await service.inviteAndAccept(name, admin, member);
    const repository = newRepository();
    await service.addTrustedPublisher(member, repository, { owner: name });
    return { admin, member, name, repository };
  }

  it('a creator who left the owning organization: the workflow is told, anyone else only that nothing matched', async () => {
    const { admin, member, name, repository } = await organizationPublisher();
    await service.removeMember(name, admin, member);
    expect(refusal(await service.exchangeToken(member.username, service.workflowToken(repository)))).toBe(
      `400 The scopes on the generated API key are not valid. Confirm that you still have permissions to operate on behalf of package owner '${name}'.`,
    );
    expect(refusal(await service.exchangeToken(member.username, service.workflowToken(repository, { workflowFile: 'other.yml' })))).toBe(noMatch(member.username));
    // Back in the organization, the policy works again.
    await service.inviteAndAccept(name, admin, member);
    expect((await service.exchangeToken(member.username, service.workflowToken(repository))).status).toBe(200);
  });

  it('a creator or an owner locked by support: refused until unlocked', async () => {
    const support = await siteAdmin();
    const { member, name, repository } = await organizationPublisher();
    expect((await service.lockAccount(support, member.username)).status).toBe(200);
    expect(refusal(await service.exchangeToken(member.username, service.workflowToken(repository)))).toBe(`400 The account '${member.username}' is locked by support.`);
    expect((await service.unlockAccount(support, member.username)).status).toBe(200);
    expect((await service.lockAccount(support, name)).status).toBe(200);
    expect(refusal(await service.exchangeToken(member.username, service.workflowToken(repository)))).toBe(`400 The organization '${name}' is locked by support.`);
    expect((await service.unlockAccount(support, name)).status).toBe(200);
    expect((await service.exchangeToken(member.username, service.workflowToken(repository))).status).toBe(200);
  });

  it('an owner organization deleted: its policies go with it, and nothing matches any more', async () => {
    const admin = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const repository = newRepository();
    await service.addTrustedPublisher(admin, repository, { owner: name });
    const key = await service.trustedPublishingKey(admin.username, service.workflowToken(repository));
    expect((await service.call('DELETE', `/api/organizations/${name}`, { token: admin.sessionToken })).status).toBe(204);
    expect(refusal(await service.exchangeToken(admin.username, service.workflowToken(repository)))).toBe(noMatch(admin.username));
    expect(await service.trustedPublishersOf(admin)).toEqual([]);
    expect((await service.push(key, uniqueName('Gone.Lib'))).body.code).toBe('invalid_api_key');
  });

  it('a creator deleted: nothing matches any more', async () => {
    const { user, repository } = await publisher();
    expect((await service.call('DELETE', '/api/me', { token: user.sessionToken, body: { confirmUsername: user.username } })).status).toBe(202);
    jest.spyOn(clock, 'now').mockImplementation(() => new Date(Date.now() + 25 * 60 * 60 * 1000));
    await service.host.runTimer('processAccountDeletions');
    expect(refusal(await service.exchangeToken(user.username, service.workflowToken(repository)))).toBe(noMatch(user.username));
  });

  it('a key whose maker is locked while it is being made never works', async () => {
    const support = await siteAdmin();
    const { user, repository } = await publisher();
    const held = service.cosmos.holdNext(/^POST .*\/colls\/apiKeys\/docs$/);
    const exchange = service.exchangeToken(user.username, service.workflowToken(repository));
    await held.reached;
    expect((await service.lockAccount(support, user.username)).status).toBe(200);
    held.release();
    expect(refusal(await exchange)).toBe(`400 The account '${user.username}' is locked by support.`);
    expect((await service.unlockAccount(support, user.username)).status).toBe(200);
    const keys = await listKeys({ ...user, sessionToken: await service.signIn(user.person) });
    expect(keys).toEqual([]);
  });

  it('a key made while its maker is removed from the owning organization never works', async () => {
    const { admin, member, name, repository } = await organizationPublisher();
    const held = service.cosmos.holdNext(/^POST .*\/colls\/apiKeys\/docs$/);
    const exchange = service.exchangeToken(member.username, service.workflowToken(repository));
    await held.reached;
    await service.removeMember(name, admin, member);
    held.release();
    expect((await exchange).status).toBe(400);
    expect(await listKeys(member)).toEqual([]);
  });

  it('a key made while its policy is removed never works', async () => {
    const { user, repository, policyId } = await publisher();
    await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    const held = service.cosmos.holdNext(/^POST .*\/colls\/apiKeys\/docs$/);
    const exchange = service.exchangeToken(user.username, service.workflowToken(repository));
    await held.reached;
    expect((await service.removeTrustedPublisher(user, policyId)).status).toBe(204);
    held.release();
    expect(refusal(await exchange)).toBe(noMatch(user.username));
    // Neither the key of the earlier run nor the one made meanwhile works: removing a policy revokes its keys.
    expect(await listKeys(user)).toEqual([]);
  });

  it('removing a policy stops the keys it made', async () => {
    const { user, repository, policyId } = await publisher();
    const key = await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    const other = await service.addTrustedPublisher(user, repository, { workflowFile: 'nightly.yml' });
    const otherKey = await service.trustedPublishingKey(user.username, service.workflowToken(repository, { workflowFile: 'nightly.yml' }));
    expect((await service.removeTrustedPublisher(user, policyId)).status).toBe(204);
    expect((await service.push(key, uniqueName('Removed.Lib'))).body.code).toBe('invalid_api_key');
    expect((await service.push(otherKey, uniqueName('Kept.Lib'))).status).toBe(201);
    expect(other.status).toBe('pending');
  });

  it('a lock suspends the keys trusted publishing made, and a member leaving revokes those made for the organization', async () => {
    const support = await siteAdmin();
    const { admin, member, name, repository } = await organizationPublisher();
    const key = await service.trustedPublishingKey(member.username, service.workflowToken(repository));
    expect((await service.lockAccount(support, member.username)).status).toBe(200);
    expect((await service.push(key, uniqueName('Locked.Lib'))).body.detail).toMatch(/suspended/);
    expect((await service.unlockAccount(support, member.username)).status).toBe(200);
    expect((await service.push(key, uniqueName('Unlocked.Lib'))).status).toBe(201);
    await service.removeMember(name, admin, member);
    expect((await service.push(key, uniqueName('Left.Lib'))).body.code).toBe('invalid_api_key');
  });
});

describe("the account's list of keys", () => {
  it('does not grow with every build: keys trusted publishing made drop out once expired', async () => {
    const { user, repository } = await publisher();
    const own = await service.createKey(user);
    const start = Date.now();
    for (let build = 0; build < 4; build += 1) {
      jest.spyOn(clock, 'now').mockReturnValue(new Date(start + build * 20 * 60 * 1000));
      await service.trustedPublishingKey(user.username, service.workflowToken(repository));
    }
    const keys = await listKeys({ ...user, sessionToken: await service.signIn(user.person) });
    expect(keys.map((k: { id: string; trustedPublishing: boolean }) => [k.id === own.id, k.trustedPublishing])).toEqual([
      [true, false],
      [false, true],
    ]);
  });
});
