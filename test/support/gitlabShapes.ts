/**
 * The shape of the ID tokens GitLab CI/CD gives pipeline jobs, as GitLab documents them, so every token our
 * stand-ins mint is held to it and cannot drift to a shape GitLab never issues: "OpenID Connect (OIDC)
 * Authentication Using ID Tokens", Token payload (https://docs.gitlab.com/ci/secrets/id_token_authentication/
 * #token-payload), whose sample is below as GitLab prints it. Every claim of the sample, of the same JSON type,
 * except `user_identities` (only where a user's preference adds it) and `groups_direct` (behind a feature flag);
 * plus `user_access_level`, which the claims table lists as always present since GitLab 16.9. The environment's
 * four claims are there exactly when the job specifies an environment.
 */
import { createHash } from 'node:crypto';
import { decodeClaims, decodeHeader } from './microsoftShapes';

export { decodeClaims, decodeHeader };

/** GitLab's documented sample payload, of a job that deploys to an environment. */
export const DOCUMENTED_SAMPLE = {
  namespace_id: '72',
  namespace_path: 'my-group',
  project_id: '20',
  project_path: 'my-group/my-project',
  user_id: '1',
  user_login: 'sample-user',
  user_email: 'sample-user@example.com',
  user_identities: [
    { provider: 'github', extern_uid: '2435223452345' },
    { provider: 'bitbucket', extern_uid: 'john.smith' },
  ],
  pipeline_id: '574',
  pipeline_source: 'push',
  job_id: '302',
  ref: 'feature-branch-1',
  ref_type: 'branch',
  ref_path: 'refs/heads/feature-branch-1',
  ref_protected: 'false',
  groups_direct: ['mygroup/mysubgroup', 'myothergroup/myothersubgroup'],
  environment: 'test-environment2',
  environment_protected: 'false',
  deployment_tier: 'testing',
  environment_action: 'start',
  runner_id: 1,
  runner_environment: 'self-hosted',
  sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
  project_visibility: 'public',
  ci_config_ref_uri: 'gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main',
  ci_config_sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
  jti: '235b3a54-b797-45c7-ae9a-f72d7bc6ef5b',
  iss: 'https://gitlab.example.com',
  iat: 1681395193,
  nbf: 1681395188,
  exp: 1681398793,
  sub: 'project_path:my-group/my-project:ref_type:branch:ref:feature-branch-1',
  aud: 'https://vault.example.com',
};

const NOT_BY_DEFAULT = ['user_identities', 'groups_direct'];
const WITH_ENVIRONMENT = ['environment', 'environment_protected', 'deployment_tier', 'environment_action'];
const EXPECTED = { ...DOCUMENTED_SAMPLE, user_access_level: 'maintainer' } as Record<string, unknown>;

const NUMERIC = /^\d+$/;
const SHA = /^[0-9a-f]{40}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const sorted = (names: string[]) => [...names].sort();

export interface ExpectedJob {
  issuer: string;
  audience: string;
  /** `group/subgroup/project`. */
  project: string;
  /** The file `ci_config_ref_uri` names; null when the configuration is not a file of the project (default .gitlab-ci.yml). */
  ciConfigPath?: string | null;
  environment?: string;
}

/** A pipeline job's token: GitLab's header, exactly GitLab's claims, each of the JSON type and form the documented sample gives it. */
export function expectJobToken(token: string, expected: ExpectedJob): void {
  const header = decodeHeader(token);
  expect(sorted(Object.keys(header))).toEqual(['alg', 'kid', 'typ']);
  expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: expect.stringMatching(/^[\w-]{43}$/) });

  const claims = decodeClaims(token);
  const names = Object.keys(EXPECTED).filter((name) => !NOT_BY_DEFAULT.includes(name) && (expected.environment !== undefined || !WITH_ENVIRONMENT.includes(name)));
  expect(sorted(Object.keys(claims))).toEqual(sorted(names));
  const ciConfigPath = expected.ciConfigPath === undefined ? '.gitlab-ci.yml' : expected.ciConfigPath;
  const nullable = ciConfigPath === null ? ['ci_config_ref_uri', 'ci_config_sha'] : [];
  for (const name of names.filter((n) => !nullable.includes(n))) expect({ [name]: typeof claims[name] }).toEqual({ [name]: typeof EXPECTED[name] });
  // As Gitlab::Ci::Jwt dates them, and as the sample's hour-long job shows.
  expect(claims.nbf).toBe((claims.iat as number) - 5);
  expect(claims.exp).toBe((claims.iat as number) + 3600);

  const namespace = expected.project.slice(0, expected.project.lastIndexOf('/'));
  const ref = claims.ref as string;
  const refPath = `refs/${claims.ref_type === 'tag' ? 'tags' : 'heads'}/${ref}`;
  expect(claims).toMatchObject({
    iss: expected.issuer,
    aud: expected.audience,
    jti: expect.stringMatching(UUID),
    namespace_path: namespace,
    namespace_id: expect.stringMatching(NUMERIC),
    project_path: expected.project,
    project_id: expect.stringMatching(NUMERIC),
    project_visibility: expect.stringMatching(/^(public|internal|private)$/),
    user_id: expect.stringMatching(NUMERIC),
    user_access_level: expect.stringMatching(/^(guest|reporter|developer|maintainer|owner)$/),
    pipeline_id: expect.stringMatching(NUMERIC),
    job_id: expect.stringMatching(NUMERIC),
    ref_type: expect.stringMatching(/^(branch|tag)$/),
    ref_path: refPath,
    ref_protected: expect.stringMatching(/^(true|false)$/),
    runner_environment: expect.stringMatching(/^(gitlab-hosted|self-hosted)$/),
    sha: expect.stringMatching(SHA),
    sub: `project_path:${expected.project}:ref_type:${claims.ref_type}:ref:${ref}`,
    ci_config_ref_uri: ciConfigPath === null ? null : `${expected.issuer.replace(/^https?:\/\//, '')}/${expected.project}//${ciConfigPath}@${refPath}`,
    ci_config_sha: ciConfigPath === null ? null : claims.sha,
    ...(expected.environment !== undefined
      ? {
          environment: expected.environment,
          environment_protected: expect.stringMatching(/^(true|false)$/),
          deployment_tier: expect.stringMatching(/^(production|staging|testing|development|other)$/),
          environment_action: expect.stringMatching(/^(start|prepare|stop|verify|access)$/),
        }
      : {}),
  });
}

/** GitLab's discovery document and key set: RS256 keys, each under its RFC 7638 thumbprint. */
export function expectIssuerDocuments(discovery: Record<string, unknown>, keySet: { keys: Array<Record<string, unknown>> }, issuer: string): void {
  expect(discovery).toMatchObject({
    issuer,
    jwks_uri: `${issuer}/oauth/discovery/keys`,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    response_types_supported: expect.arrayContaining(['code']),
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
  });
  expect(keySet.keys.length).toBeGreaterThan(0);
  for (const key of keySet.keys) {
    expect(sorted(Object.keys(key))).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB' });
    expect(key.kid).toBe(createHash('sha256').update(JSON.stringify({ e: key.e, kty: key.kty, n: key.n })).digest('base64url'));
  }
}
