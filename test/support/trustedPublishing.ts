import { randomUUID } from 'node:crypto';
import { clock } from '../../lib/shared/clock';
import { container } from '../../lib/shared/storage/cosmos';
import type { GitHubRepository, WorkflowRunDescription } from '../../local/githubActions/oidcTokens';
import type { GitLabProject, PipelineJobDescription } from '../../local/gitlab/oidcTokens';
import type { WorkflowTokenOptions } from '../standins/githubActions';
import type { JobTokenOptions } from '../standins/gitlab';
import type { Member } from './organizations';
import { uniqueName } from './people';
import type { ApiResponse, TestService } from './service';

/** The body of `POST /api/me/trusted-publishers` for a GitHub Actions workflow. */
export interface TrustedPublisherRequest {
  owner: string;
  provider?: 'github';
  repositoryOwner: string;
  repository: string;
  workflowFile: string;
  environment?: string | null;
  packageGlobs?: string[];
  scopes?: string[];
}

/** `POST /api/me/trusted-publishers` as `user`: by default a policy of `user` for `repository`'s release.yml. */
export function requestTrustedPublisher(
  service: TestService,
  user: Pick<Member, 'username' | 'sessionToken'>,
  repository: Pick<GitHubRepository, 'owner' | 'name'>,
  overrides: Partial<TrustedPublisherRequest> = {},
): Promise<ApiResponse> {
  const body: TrustedPublisherRequest = {
    owner: user.username,
    repositoryOwner: repository.owner,
    repository: repository.name,
    workflowFile: 'release.yml',
    ...overrides,
  };
  return postPolicy(service, user, body);
}

const postPolicy = (service: TestService, user: Pick<Member, 'sessionToken'>, body: object): Promise<ApiResponse> =>
  service.call('POST', '/api/me/trusted-publishers', { token: user.sessionToken, body });

type AddedPolicy = { id: string; status: string; [field: string]: unknown };

/** The policy a request added, failing the test unless the service answered 201. */
function added(response: ApiResponse, user: Pick<Member, 'username'>): AddedPolicy {
  if (response.status !== 201) throw new Error(`adding a trusted publisher for ${user.username} failed: ${response.status} ${response.text}`);
  return response.body;
}

/** Adds a policy as `requestTrustedPublisher` does, and fails the test unless the service answered 201. */
export async function addTrustedPublisher(
  service: TestService,
  user: Pick<Member, 'username' | 'sessionToken'>,
  repository: Pick<GitHubRepository, 'owner' | 'name'>,
  overrides: Partial<TrustedPublisherRequest> = {},
): Promise<AddedPolicy> {
  return added(await requestTrustedPublisher(service, user, repository, overrides), user);
}

/** The body of `POST /api/me/trusted-publishers` for a GitLab CI/CD project. */
export interface GitLabPublisherRequest {
  owner: string;
  provider: 'gitlab';
  namespace: string;
  project: string;
  ciConfigPath?: string;
  environment?: string | null;
  packageGlobs?: string[];
  scopes?: string[];
}

/** `POST /api/me/trusted-publishers` as `user`: by default a `gitlab` policy of `user` for `project`'s .gitlab-ci.yml. */
export function requestGitLabPublisher(
  service: TestService,
  user: Pick<Member, 'username' | 'sessionToken'>,
  project: Pick<GitLabProject, 'namespace' | 'path'>,
  overrides: Partial<GitLabPublisherRequest> = {},
): Promise<ApiResponse> {
  const body: GitLabPublisherRequest = { owner: user.username, provider: 'gitlab', namespace: project.namespace, project: project.path, ...overrides };
  return postPolicy(service, user, body);
}

/** Adds a policy as `requestGitLabPublisher` does, and fails the test unless the service answered 201. */
export async function addGitLabPublisher(
  service: TestService,
  user: Pick<Member, 'username' | 'sessionToken'>,
  project: Pick<GitLabProject, 'namespace' | 'path'>,
  overrides: Partial<GitLabPublisherRequest> = {},
): Promise<AddedPolicy> {
  return added(await requestGitLabPublisher(service, user, project, overrides), user);
}

/** `GET /api/me/trusted-publishers` as `user`, failing the test unless it answers 200. */
export async function trustedPublishersOf(service: TestService, user: Pick<Member, 'sessionToken'>) {
  const response = await service.call('GET', '/api/me/trusted-publishers', { token: user.sessionToken });
  if (response.status !== 200) throw new Error(`listing trusted publishers failed: ${response.status} ${response.text}`);
  return response.body;
}

/** `DELETE /api/me/trusted-publishers/{id}` by `by`. */
export const removeTrustedPublisher = (service: TestService, by: Pick<Member, 'sessionToken'>, id: string): Promise<ApiResponse> =>
  service.call('DELETE', `/api/me/trusted-publishers/${id}`, { token: by.sessionToken });

/** The token GitHub Actions gives a run of `workflowFile` (default release.yml) in `repository`, issued by the service's clock. */
export function workflowToken(
  service: TestService,
  repository: GitHubRepository,
  run: Partial<WorkflowRunDescription> = {},
  options: WorkflowTokenOptions = {},
): string {
  return service.github.mint({ repository, workflowFile: 'release.yml', ...run }, { issuedAt: clock.now(), ...options });
}

/** The ID token GitLab gives a job of a pipeline of `project` (its .gitlab-ci.yml, on main), issued by the service's clock. */
export function pipelineToken(
  service: TestService,
  project: GitLabProject,
  job: Partial<PipelineJobDescription> = {},
  options: JobTokenOptions = {},
): string {
  return service.gitlab.mint({ project, ...job }, { issuedAt: clock.now(), ...options });
}

/**
 * `POST /api/v2/token` exactly as the NuGet/login action sends it (NuGet/login src/index.ts): the token as
 * Bearer, `Content-Type: application/json`, `User-Agent: nuget/login-action`, `{ username, tokenType: "ApiKey" }`.
 */
export function exchangeToken(service: TestService, username: string, oidcToken: string): Promise<ApiResponse> {
  return service.call('POST', '/api/v2/token', {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${oidcToken}`, 'User-Agent': 'nuget/login-action' },
    rawBody: JSON.stringify({ username, tokenType: 'ApiKey' }),
  });
}

/**
 * The exchange's answer as the NuGet/login action takes it: exactly 200 `{ tokenType: "ApiKey", expires, apiKey }`,
 * the key expiring 15 minutes after `requestedAt` (ms). Answers the key.
 */
export function expectKeyAsNuGetLoginTakesIt(response: ApiResponse, requestedAt: number): string {
  expect(response.status).toBe(200);
  expect(Object.keys(response.body)).toEqual(['tokenType', 'expires', 'apiKey']);
  expect(response.body.tokenType).toBe('ApiKey');
  expect(response.body.apiKey).toMatch(/^gak1\.[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/);
  const lifetime = Date.parse(response.body.expires) - requestedAt;
  expect(lifetime).toBeGreaterThan(14.9 * 60 * 1000);
  expect(lifetime).toBeLessThanOrEqual(15 * 60 * 1000 + 5000);
  return response.body.apiKey;
}

/** What NuGet/login shows of a failed exchange: the status and `error`, and the body where it is not NuGet's shape. */
export function refusal(response: Pick<ApiResponse, 'status' | 'body' | 'text'>): string {
  const shape = JSON.stringify(Object.keys(response.body ?? {})) === '["error"]' ? '' : ` (body ${response.text})`;
  return `${response.status} ${response.body?.error ?? ''}${shape}`;
}

/**
 * Exchanges a token `tokenFor` makes as `username` and, at once, as a username nobody has, and expects both refused
 * alike, 401 with `sentence` and `WWW-Authenticate: Bearer`: what is wrong with a token says nothing about accounts.
 */
export async function expectTokenRefusedForAnyone(service: TestService, username: string, tokenFor: () => string, sentence: string): Promise<void> {
  const [known, unknown] = await Promise.all([exchangeToken(service, username, tokenFor()), exchangeToken(service, uniqueName('nobody'), tokenFor())]);
  expect(refusal(known)).toBe(`401 ${sentence}`);
  expect(refusal(unknown)).toBe(`401 ${sentence}`);
  expect(known.headers.get('www-authenticate')).toBe('Bearer');
}

/** The key a workflow run gets for `username`'s policy, failing the test unless the exchange answered 200. */
export async function trustedPublishingKey(service: TestService, username: string, oidcToken: string): Promise<string> {
  const response = await exchangeToken(service, username, oidcToken);
  if (response.status !== 200) throw new Error(`the token exchange for ${username} failed: ${response.status} ${response.text}`);
  return response.body.apiKey;
}

/** The one refusal for an unknown username, no policy and a policy that does not match: NuGet.org's sentence. */
export const noMatch = (username: string) => `401 No matching trust policy owned by user '${username}' was found.`;

/**
 * A policy `maker` made for `repository`'s release.yml (and `fields`) as the service first stored it, written
 * straight in the store: in the maker's partition, GitHub's fields and ids at the top level (before providers), no
 * slot naming it (before slots), no globs or scopes; owned by the maker unless `fields` name an organization
 * (`ownerId`, `ownerName`), as policies for organizations were stored before organizations held their own.
 */
export async function storePolicyAsFirstStored(
  maker: { id: string; username: string },
  repository: Pick<GitHubRepository, 'owner' | 'name'>,
  fields: Record<string, unknown> = {},
): Promise<string> {
  const now = clock.now();
  const id = randomUUID();
  await container('trustedPublishers').items.create({
    id,
    creatorId: maker.id,
    creatorName: maker.username,
    ownerId: maker.id,
    ownerName: maker.username,
    repositoryOwner: repository.owner,
    repository: repository.name,
    workflowFile: 'release.yml',
    environment: null,
    repositoryOwnerId: null,
    repositoryId: null,
    createdAt: now.toISOString(),
    lapsesAt: new Date(now.getTime() + 7 * 24 * 60 * 60 * 1000).toISOString(),
    pinnedAt: null,
    lastUsedAt: null,
    ...fields,
  });
  return id;
}
