/**
 * The shape of the OIDC tokens GitHub Actions gives workflow runs, as GitHub documents them, so every token
 * our stand-ins mint is held to it and cannot drift to a shape GitHub never issues:
 * https://docs.github.com/actions/reference/security/oidc ("OIDC token claims": the JOSE header `typ`,
 * `alg`, `x5t`, `kid`; the standard claims; GitHub's own claims, all strings) and the example token of "About
 * security hardening with OpenID Connect" (`nbf` = `iat` − 600, `exp` = `iat` + 300). `environment` and
 * `environment_node_id` are there exactly when the job runs in a deployment environment; `enterprise` and
 * `enterprise_id` only for an enterprise's repositories (none here).
 */
import { decodeClaims, decodeHeader } from './microsoftShapes';

export { decodeClaims, decodeHeader };

const STANDARD = ['iss', 'aud', 'sub', 'jti', 'nbf', 'exp', 'iat'];
const GITHUB = [
  'ref',
  'sha',
  'repository',
  'repository_owner',
  'repository_owner_id',
  'run_id',
  'run_number',
  'run_attempt',
  'repository_visibility',
  'repository_id',
  'actor_id',
  'actor',
  'workflow',
  'head_ref',
  'base_ref',
  'event_name',
  'ref_protected',
  'ref_type',
  'workflow_ref',
  'workflow_sha',
  'job_workflow_ref',
  'job_workflow_sha',
  'runner_environment',
];
const WITH_ENVIRONMENT = ['environment', 'environment_node_id'];

const NUMERIC = /^\d+$/;
const SHA = /^[0-9a-f]{40}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const sorted = (names: string[]) => [...names].sort();

export interface ExpectedRun {
  issuer: string;
  audience: string;
  /** `owner/name`. */
  repository: string;
  workflowFile: string;
  environment?: string;
}

/** A workflow run's token: GitHub's header, exactly GitHub's claims, each of the type and form GitHub gives it. */
export function expectWorkflowToken(token: string, expected: ExpectedRun): void {
  const header = decodeHeader(token);
  expect(sorted(Object.keys(header))).toEqual(['alg', 'kid', 'typ', 'x5t']);
  expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: expect.any(String), x5t: expect.stringMatching(/^[\w-]{27}$/) });

  const claims = decodeClaims(token);
  const names = [...STANDARD, ...GITHUB, ...(expected.environment !== undefined ? WITH_ENVIRONMENT : [])];
  expect(sorted(Object.keys(claims))).toEqual(sorted(names));
  for (const name of names.filter((n) => !['nbf', 'exp', 'iat'].includes(n))) expect({ [name]: typeof claims[name] }).toEqual({ [name]: 'string' });
  expect(claims.nbf).toBe((claims.iat as number) - 600);
  expect(claims.exp).toBe((claims.iat as number) + 300);

  const [owner] = expected.repository.split('/');
  const ref = claims.ref as string;
  const workflowRef = `${expected.repository}/.github/workflows/${expected.workflowFile}@${ref}`;
  expect(claims).toMatchObject({
    iss: expected.issuer,
    aud: expected.audience,
    jti: expect.stringMatching(UUID),
    repository: expected.repository,
    repository_owner: owner,
    repository_id: expect.stringMatching(NUMERIC),
    repository_owner_id: expect.stringMatching(NUMERIC),
    repository_visibility: expect.stringMatching(/^(public|private|internal)$/),
    ref: expect.stringMatching(/^refs\/(heads|tags)\/.+$/),
    ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    ref_protected: expect.stringMatching(/^(true|false)$/),
    sha: expect.stringMatching(SHA),
    workflow_sha: expect.stringMatching(SHA),
    job_workflow_sha: expect.stringMatching(SHA),
    workflow_ref: workflowRef,
    job_workflow_ref: workflowRef,
    run_id: expect.stringMatching(NUMERIC),
    run_number: expect.stringMatching(NUMERIC),
    run_attempt: expect.stringMatching(NUMERIC),
    actor: expect.any(String),
    actor_id: expect.stringMatching(NUMERIC),
    event_name: expect.any(String),
    head_ref: expect.any(String),
    base_ref: expect.any(String),
    runner_environment: expect.stringMatching(/^(github-hosted|self-hosted)$/),
    sub:
      expected.environment !== undefined
        ? `repo:${expected.repository}:environment:${expected.environment}`
        : claims.event_name === 'pull_request'
          ? `repo:${expected.repository}:pull_request`
          : `repo:${expected.repository}:ref:${ref}`,
    ...(expected.environment !== undefined ? { environment: expected.environment, environment_node_id: expect.stringMatching(/^EN_/) } : {}),
  });
}

/** GitHub's discovery document and key set: RS256 keys the token's `kid` names. */
export function expectIssuerDocuments(discovery: Record<string, unknown>, keySet: { keys: Array<Record<string, unknown>> }, issuer: string): void {
  expect(discovery).toMatchObject({
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks`,
    response_types_supported: ['id_token'],
    id_token_signing_alg_values_supported: ['RS256'],
    subject_types_supported: ['public', 'pairwise'],
    scopes_supported: ['openid'],
  });
  expect(discovery.claims_supported).toEqual(expect.arrayContaining([...STANDARD, ...GITHUB, ...WITH_ENVIRONMENT]));
  expect(keySet.keys.length).toBeGreaterThan(0);
  for (const key of keySet.keys) {
    expect(sorted(Object.keys(key))).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use', 'x5t']);
    expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB' });
  }
}
