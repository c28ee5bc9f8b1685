import { clock } from '../lib/shared/clock';
import { useTestService, type ApiResponse } from './support/service';
import { uniqueName } from './support/people';
import type { Member } from './support/organizations';
import { noMatch, refusal } from './support/trustedPublishing';
import type { GitLabProject } from './standins/gitlab';

/**
 * Trusted publishing from GitLab CI/CD (the `gitlab` provider): a policy names a project, the CI/CD configuration
 * file its pipelines run and optionally an environment, and a job's ID token (`id_tokens: { aud }`) gets a key at
 * `POST /api/v2/token` as NuGet/login's protocol asks, once, while every other token is refused in NuGet.org's
 * shape without telling anyone who holds no token of a trusted job which accounts or policies exist.
 */
const service = useTestService();

/** A project on the stand-in GitLab no other test uses. */
const newProject = (namespace = uniqueName('group')): GitLabProject => service.gitlab.project(`${namespace}/${uniqueName('project')}`);
const fullPath = (project: GitLabProject) => `${project.namespace}/${project.path}`;
const DAY = 24 * 60 * 60 * 1000;
const NO_CONFIGURATION_FILE =
  "The JSON web token names no CI/CD configuration file (its ci_config_ref_uri claim is null): GitLab names one only when the pipeline's configuration is a file in the project's own repository, which trusted publishing requires.";

interface Publisher {
  user: Member;
  project: GitLabProject;
  policyId: string;
}

/** A confirmed account with a `gitlab` policy for a new project's .gitlab-ci.yml (and `overrides`). */
async function publisher(overrides: Record<string, unknown> = {}): Promise<Publisher> {
  const user = await service.confirmedUser();
  const project = newProject();
  const { id } = await service.addGitLabPublisher(user, project, overrides);
  return { user, project, policyId: id };
}

const policyOf = async (user: Member) => (await service.trustedPublishersOf(user))[0];
/** The stand-in instance's host, as `ci_config_ref_uri` begins. */
const host = () => service.gitlab.issuer.replace(/^http:\/\//, '');

describe('adding a GitLab policy', () => {
  it('answers the policy with its criteria, pending its first use for 7 days, lists it, records it and tells its maker', async () => {
    const user = await service.confirmedUser();
    const project = newProject();
    const response = await service.requestGitLabPublisher(user, project);
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      owner: user.username,
      createdBy: user.username,
      provider: 'gitlab',
      criteria: { namespace: project.namespace, project: project.path, ciConfigPath: '.gitlab-ci.yml', environment: null },
      packageGlobs: ['*'],
      scopes: ['package:push'],
      status: 'pending',
      lapsesAt: expect.any(String),
      pinned: null,
      createdAt: expect.any(String),
      lastUsedAt: null,
    });
    expect(Date.parse(response.body.lapsesAt) - Date.parse(response.body.createdAt)).toBe(7 * DAY);
    expect(await service.trustedPublishersOf(user)).toEqual([response.body]);
    expect((await service.securityLog(user))[0]).toMatchObject({
      action: 'trusted_publisher_added',
      details: { policyId: response.body.id, owner: user.username, provider: 'gitlab', project: fullPath(project), ciConfigPath: '.gitlab-ci.yml', packageGlobs: '*', scopes: 'package:push' },
    });
    await service.deliverNotices();
    const [added] = service.noticesTo(user.person.email, `Trusted publishing policy added: ${fullPath(project)}, .gitlab-ci.yml`);
    expect(added.plainText).toContain(
      `jobs of pipelines of the CI/CD configuration .gitlab-ci.yml of the GitLab project ${fullPath(project)} (in any environment) can now get API keys`,
    );
  });

  it('takes subgroups, a configuration file in a subfolder and an environment, and keeps the names as typed', async () => {
    const user = await service.confirmedUser();
    const criteria = { namespace: 'Contoso/Platform/SDK-Team', project: 'Contoso.Sdk_1', ciConfigPath: 'ci/Release.YAML', environment: 'Production EU' };
    const policy = await service.addGitLabPublisher(user, { namespace: criteria.namespace, path: criteria.project }, criteria);
    expect(policy.criteria).toEqual(criteria);
    // Paths made before GitLab's current rules (a leading '_', a '-' at the end) still exist.
    expect((await service.addGitLabPublisher(user, { namespace: '_legacy-', path: '_old.project' })).criteria).toMatchObject({ namespace: '_legacy-', project: '_old.project' });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['an empty namespace', { namespace: '' }, "The field 'namespace' must be a GitLab group's full path"],
    ['a namespace with a trailing slash', { namespace: 'contoso/' }, "The field 'namespace' must be a GitLab group's full path"],
    ['a namespace as a URL', { namespace: 'https://gitlab.com/contoso' }, "The field 'namespace' must be a GitLab group's full path"],
    ['a namespace with an empty subgroup', { namespace: 'contoso//sdk' }, "The field 'namespace' must be a GitLab group's full path"],
    ['a namespace starting with a dash', { namespace: '-contoso' }, "The field 'namespace' must be a GitLab group's full path"],
    ['a namespace ending in .git', { namespace: 'contoso.git' }, "The field 'namespace' must be a GitLab group's full path"],
    ['a namespace deeper than 20 subgroups', { namespace: Array.from({ length: 22 }, (_, i) => `g${i}`).join('/') }, "The field 'namespace' must be a GitLab group's full path"],
    ['a project with its namespace', { project: 'contoso/contoso-sdk' }, "The field 'project' must be the project's own path, without its namespace or a URL"],
    ['a project ending in .atom', { project: 'feed.atom' }, "The field 'project' must be the project's own path"],
    ['a project of 256 characters', { project: 'p'.repeat(256) }, "The field 'project' must be the project's own path"],
    ['a configuration path from the root', { ciConfigPath: '/.gitlab-ci.yml' }, "The field 'ciConfigPath' must be the path of a .yml or .yaml file in the project's repository"],
    ['a configuration path with ..', { ciConfigPath: 'ci/../release.yml' }, "The field 'ciConfigPath' must be the path of a .yml or .yaml file"],
    ['a configuration that is no YAML file', { ciConfigPath: 'ci/release.json' }, "The field 'ciConfigPath' must be the path of a .yml or .yaml file"],
    ['a configuration in another project', { ciConfigPath: 'templates/release.yml@platform/ci-templates' }, "The field 'ciConfigPath' must be a file in the project's own repository, not one in another project (path@group/project)"],
    ['a configuration at a URL', { ciConfigPath: 'https://example.com/ci/release.yml' }, "The field 'ciConfigPath' must be a file in the project's repository, not a URL"],
    ['an environment starting with a slash', { environment: '/production' }, "The field 'environment' must be the name of a GitLab environment"],
    ['an environment with other characters', { environment: 'production!' }, "The field 'environment' must be the name of a GitLab environment"],
    ['an empty environment', { environment: ' ' }, "The field 'environment' must be the name of a GitLab environment"],
    ["a GitHub policy's field", { workflowFile: 'release.yml' }, "The field 'workflowFile' is not recognised."],
  ])('refuses %s, naming the field', async (_label, overrides, detail) => {
    const user = await service.confirmedUser();
    const response = await service.requestGitLabPublisher(user, newProject(), overrides);
    expect(`${response.status} ${response.body.code}`).toBe('400 invalid_request');
    expect(response.body.detail).toContain(detail);
    expect(await service.trustedPublishersOf(user)).toEqual([]);
  });

  it("refuses a GitLab field in a GitHub policy, and names every provider to one that is none of them", async () => {
    const user = await service.confirmedUser();
    const github = await service.requestTrustedPublisher(user, service.github.repository(`${uniqueName('octo')}/${uniqueName('repo')}`), { namespace: 'contoso' } as never);
    expect(github.body.detail).toBe("The field 'namespace' is not recognised.");
    const unknown = await service.requestGitLabPublisher(user, newProject(), { provider: 'bitbucket' } as never);
    expect(unknown.body.detail).toBe('The field \'provider\' must be one of "github", "gitlab", "entra".');
  });
});

describe('a pipeline job the policy trusts', () => {
  it('gets exactly 200 { tokenType, expires, apiKey }, a key that pushes for the policy owner, and pins the policy to the project', async () => {
    const { user, project, policyId } = await publisher();
    const before = Date.now();
    const response = await service.exchangeToken(user.username, service.pipelineToken(project, { pipelineId: '574', jobId: '302' }));
    expect(response.status).toBe(200);
    expect(Object.keys(response.body)).toEqual(['tokenType', 'expires', 'apiKey']);
    expect(response.body.tokenType).toBe('ApiKey');
    expect(response.body.apiKey).toMatch(/^gak1\.[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/);
    const lifetime = Date.parse(response.body.expires) - before;
    expect(lifetime).toBeGreaterThan(14.9 * 60 * 1000);
    expect(lifetime).toBeLessThanOrEqual(15 * 60 * 1000 + 5000);

    const packageId = uniqueName('GitLab.Lib');
    expect((await service.push(response.body.apiKey, packageId)).status).toBe(201);
    expect((await service.getPackage(packageId)).body.owners).toEqual([user.username]);

    const keyId = response.body.apiKey.split('.')[1];
    expect(await service.apiKeysOf(user)).toEqual([
      expect.objectContaining({ id: keyId, description: `Trusted publishing: ${fullPath(project)}, .gitlab-ci.yml, pipeline 574`, trustedPublishing: true }),
    ]);
    const log = await service.securityLog(user);
    expect(log.slice(0, 3).map((e) => [e.action, e.details])).toEqual([
      ['package_pushed', expect.objectContaining({ package: packageId, keyId, trustedPublishing: 'true' })],
      ['trusted_publishing_key_created', { keyId, owner: user.username, policyId, project: fullPath(project), ciConfigPath: '.gitlab-ci.yml', pipelineId: '574', jobId: '302' }],
      ['trusted_publisher_pinned', expect.objectContaining({ policyId, provider: 'gitlab', namespaceId: project.namespaceId, projectId: project.id })],
    ]);
    expect(await policyOf(user)).toMatchObject({
      status: 'active',
      lapsesAt: null,
      pinned: { namespaceId: project.namespaceId, projectId: project.id, pinnedAt: expect.any(String) },
      lastUsedAt: expect.any(String),
    });
    await service.deliverNotices();
    const [pinned] = service.noticesTo(user.person.email, `Trusted publishing policy first used: ${fullPath(project)}, .gitlab-ci.yml`);
    expect(pinned.plainText).toContain(`pinned to that project (GitLab project id ${project.id}, namespace id ${project.namespaceId})`);
    expect(pinned.plainText).toContain('If you did not expect that pipeline to publish now');
  });

  it('matches the namespace and project whatever their case, as GitLab finds paths; the file and environment exactly', async () => {
    const user = await service.confirmedUser();
    const project = newProject(`${uniqueName('group')}/${uniqueName('sub')}`);
    await service.addGitLabPublisher(user, { namespace: project.namespace.toUpperCase(), path: project.path.toUpperCase() }, { ciConfigPath: 'ci/release.yml', environment: 'NuGet' });
    for (const job of [{ ciConfigPath: 'ci/Release.yml', environment: 'NuGet' }, { ciConfigPath: 'ci/release.yml', environment: 'nuget' }]) {
      expect(refusal(await service.exchangeToken(user.username, service.pipelineToken(project, job)))).toBe(noMatch(user.username));
    }
    expect((await service.exchangeToken(user.username, service.pipelineToken(project, { ciConfigPath: 'ci/release.yml', environment: 'NuGet' }))).status).toBe(200);
  });

  it('without an environment, takes jobs in any environment or none, on branches and tags', async () => {
    const { user, project } = await publisher();
    for (const job of [{}, { environment: 'staging' }, { ref: 'v2.0.0', refType: 'tag' as const, pipelineSource: 'web' }]) {
      expect((await service.exchangeToken(user.username, service.pipelineToken(project, job))).status).toBe(200);
    }
  });

  it("takes the configuration file of a self-managed instance served under a path (its relative URL root, which iss leaves out)", async () => {
    const { user, project } = await publisher();
    const underRoot = `${host()}/gitlab/${fullPath(project)}//.gitlab-ci.yml@refs/heads/main`;
    expect((await service.exchangeToken(user.username, service.pipelineToken(project, {}, { claims: { ci_config_ref_uri: underRoot } }))).status).toBe(200);
  });

  it('costs what a GitHub exchange costs in Cosmos DB requests', async () => {
    const { user, project } = await publisher();
    await service.trustedPublishingKey(user.username, service.pipelineToken(project));
    service.cosmos.reset();
    await service.trustedPublishingKey(user.username, service.pipelineToken(project));
    // As test/tokenExchange.test.ts counts them: the provider changes nothing of the exchange's reads and writes.
    expect(service.cosmos.documentRequests().length).toBeLessThanOrEqual(12);
    expect(service.cosmos.queries().map((line) => line.replace(/^POST \/dbs\/[^/]+/, ''))).toEqual(Array(2).fill('/colls/trustedPublishers/docs'));
  });
});

describe('nothing but a full match gets a key, and a mismatch says only that nothing matched', () => {
  it.each<[string, (p: Publisher) => string]>([
    ['another namespace, the same project path', (p) => service.pipelineToken(service.gitlab.project(`${uniqueName('other')}/${p.project.path}`))],
    ['another project of the namespace', (p) => service.pipelineToken(service.gitlab.project(`${p.project.namespace}/${uniqueName('other')}`))],
    ['the same project path in a subgroup of the namespace', (p) => service.pipelineToken(service.gitlab.project(`${p.project.namespace}/sub/${p.project.path}`))],
    ['another configuration file', (p) => service.pipelineToken(p.project, { ciConfigPath: 'ci/release.yml' })],
    ['a file of the same name in a subfolder', (p) => service.pipelineToken(p.project, { ciConfigPath: 'ci/.gitlab-ci.yml' })],
    ['a ci_config_ref_uri of another project', (p) => service.pipelineToken(p.project, {}, { claims: { ci_config_ref_uri: `${host()}/${uniqueName('other')}/${p.project.path}//.gitlab-ci.yml@refs/heads/main` } })],
    ['a ci_config_ref_uri of another instance', (p) => service.pipelineToken(p.project, {}, { claims: { ci_config_ref_uri: `gitlab.com/${fullPath(p.project)}//.gitlab-ci.yml@refs/heads/main` } })],
    ['a ci_config_ref_uri at another ref than the job', (p) => service.pipelineToken(p.project, {}, { claims: { ci_config_ref_uri: `${host()}/${fullPath(p.project)}//.gitlab-ci.yml@refs/heads/other` } })],
    // What GitLab writes behind its default_jwt_ci_config_ref_uri flag for a configuration in another project.
    ['the setting of a configuration in another project', (p) => service.pipelineToken(p.project, {}, { claims: { ci_config_ref_uri: `${host()}/${fullPath(p.project)}//.gitlab-ci.yml@platform/ci@refs/heads/main` } })],
    ['a namespace_path that disagrees with project_path', (p) => service.pipelineToken(p.project, {}, { claims: { namespace_path: uniqueName('other') } })],
    ['a GitHub Actions run of the same names', (p) => service.workflowToken(service.github.repository(fullPath(p.project)), { workflowFile: 'gitlab-ci.yml' })],
  ])('%s', async (_label, tokenFor) => {
    const p = await publisher();
    expect(refusal(await service.exchangeToken(p.user.username, tokenFor(p)))).toBe(noMatch(p.user.username));
    // The policy was not pinned by it.
    expect(await policyOf(p.user)).toMatchObject({ status: 'pending', pinned: null });
  });

  it('an environment the policy names: a job in another environment, or in none, is refused', async () => {
    const p = await publisher({ environment: 'production' });
    for (const environment of ['staging', undefined]) {
      expect(refusal(await service.exchangeToken(p.user.username, service.pipelineToken(p.project, { environment })))).toBe(noMatch(p.user.username));
    }
    expect((await service.exchangeToken(p.user.username, service.pipelineToken(p.project, { environment: 'production' }))).status).toBe(200);
  });

  it('a policy pinned to a project deleted and made again under the same path, or under a namespace made again: refused', async () => {
    const { user, project } = await publisher();
    await service.trustedPublishingKey(user.username, service.pipelineToken(project));
    const again = service.gitlab.recreate(fullPath(project));
    expect(refusal(await service.exchangeToken(user.username, service.pipelineToken(again)))).toBe(noMatch(user.username));
    const movedNamespace = { ...project, namespaceId: `${project.namespaceId}9` };
    expect(refusal(await service.exchangeToken(user.username, service.pipelineToken(movedNamespace)))).toBe(noMatch(user.username));
    expect(await policyOf(user)).toMatchObject({ status: 'active', pinned: { projectId: project.id, namespaceId: project.namespaceId } });
    // The project it is pinned to still publishes.
    expect((await service.exchangeToken(user.username, service.pipelineToken(project))).status).toBe(200);
  });

  it('a policy never used lapses after 7 days', async () => {
    const { user, project } = await publisher();
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 7 * DAY + 60_000));
    expect(refusal(await service.exchangeToken(user.username, service.pipelineToken(project)))).toBe(noMatch(user.username));
    expect((await service.trustedPublishersOf({ sessionToken: await service.signIn(user.person) }))[0].status).toBe('lapsed');
  });

  it('a token is spent once, by its jti', async () => {
    const { user, project } = await publisher();
    const token = service.pipelineToken(project);
    expect((await service.exchangeToken(user.username, token)).status).toBe(200);
    expect(refusal(await service.exchangeToken(user.username, token))).toBe('401 This bearer token has already been used. A new bearer token must be used for each request.');
    expect(await service.apiKeysOf(user)).toHaveLength(1);
  });
});

describe('tokens GitLab did not issue for this service, or no longer valid', () => {
  const tokenRefusals: Array<[string, (project: GitLabProject) => string, string]> = [
    ["another audience (GitLab's default, the instance's URL)", (p) => service.pipelineToken(p, {}, { audience: service.gitlab.issuer }), 'The JSON web token has an incorrect audience.'],
    ['another issuer (GitLab.com, where another is configured)', (p) => service.pipelineToken(p, {}, { claims: { iss: 'https://gitlab.com' } }), 'The JSON web token was not issued by GitHub Actions or GitLab CI/CD: its iss claim is not supported.'],
    ['expired (its job timed out an hour ago)', (p) => service.pipelineToken(p, {}, { issuedAt: new Date(Date.now() - 2 * 60 * 60 * 1000) }), 'The JSON web token has expired.'],
    ['not yet valid', (p) => service.pipelineToken(p, {}, { issuedAt: new Date(Date.now() + 10 * 60 * 1000) }), 'The JSON web token is not yet valid.'],
    ['a forged signature under the right kid', (p) => service.pipelineToken(p, {}, { signWith: 'foreign' }), 'The JSON web token has an invalid signature.'],
    ['without jti', (p) => service.pipelineToken(p, {}, { claims: { jti: undefined } }), 'The JSON web token must have a jti claim.'],
    ['without project_id', (p) => service.pipelineToken(p, {}, { claims: { project_id: undefined } }), "The JSON web token is missing the required claim 'project_id'."],
    ['of a pipeline whose configuration is in another project', (p) => service.pipelineToken(p, { ciConfigPath: '.gitlab-ci.yml@platform/ci-templates' }), NO_CONFIGURATION_FILE],
    ['without ci_config_ref_uri (GitLab before 16.2)', (p) => service.pipelineToken(p, {}, { claims: { ci_config_ref_uri: undefined, ci_config_sha: undefined } }), NO_CONFIGURATION_FILE],
  ];

  it.each(tokenRefusals)('%s: 401, the same for a known and an unknown username', async (_label, tokenFor, sentence) => {
    const { user, project } = await publisher();
    const [known, unknown] = await Promise.all([service.exchangeToken(user.username, tokenFor(project)), service.exchangeToken(uniqueName('nobody'), tokenFor(project))]);
    expect(refusal(known)).toBe(`401 ${sentence}`);
    expect(refusal(unknown)).toBe(`401 ${sentence}`);
    expect(known.headers.get('www-authenticate')).toBe('Bearer');
    expect(await service.apiKeysOf(user)).toEqual([]);
  });
});

describe("the issuer's keys, found by OpenID discovery", () => {
  /** An exchange on an instance of the app whose caches start empty. */
  const exchangeOn = (instance: { call: typeof service.call }, username: string, token: string): Promise<ApiResponse> =>
    instance.call('POST', '/api/v2/token', {
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'User-Agent': 'nuget/login-action' },
      rawBody: JSON.stringify({ username, tokenType: 'ApiKey' }),
    });

  it('fetches the discovery document and the key set once, keeps them a day, and fetches them again after', async () => {
    const { user, project } = await publisher();
    const fresh = await service.startSecondInstance();
    try {
      const [discoveries, keySets] = [service.gitlab.discoveryRequests, service.gitlab.jwksRequests];
      const answers = await Promise.all(Array.from({ length: 3 }, () => exchangeOn(fresh, user.username, service.pipelineToken(project))));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      expect(await exchangeOn(fresh, user.username, service.pipelineToken(project))).toMatchObject({ status: 200 });
      expect([service.gitlab.discoveryRequests - discoveries, service.gitlab.jwksRequests - keySets]).toEqual([1, 1]);

      const aDayLater = new Date(Date.now() + DAY + 60_000);
      jest.spyOn(clock, 'now').mockReturnValue(aDayLater);
      jest.spyOn(fresh.clock, 'now').mockReturnValue(aDayLater);
      expect((await exchangeOn(fresh, user.username, service.pipelineToken(project))).status).toBe(200);
      expect([service.gitlab.discoveryRequests - discoveries, service.gitlab.jwksRequests - keySets]).toEqual([2, 2]);
    } finally {
      await fresh.stop();
    }
  });

  it('an instance that never reached the issuer answers 503 to run the job again; one that did keeps working', async () => {
    const { user, project } = await publisher();
    await service.trustedPublishingKey(user.username, service.pipelineToken(project));
    service.gitlab.setOutage(true);
    const fresh = await service.startSecondInstance();
    try {
      const answer = await exchangeOn(fresh, user.username, service.pipelineToken(project));
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('30');
      expect(answer.body).toEqual({ error: 'The token signing keys of GitLab CI/CD cannot be fetched right now. Run the job again in a few minutes.' });
      expect((await service.exchangeToken(user.username, service.pipelineToken(project))).status).toBe(200);
    } finally {
      service.gitlab.setOutage(false);
      await fresh.stop();
    }
  });
});
