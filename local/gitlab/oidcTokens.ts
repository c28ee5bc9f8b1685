/**
 * The ID tokens GitLab CI/CD gives a pipeline job through `id_tokens`, shaped after GitLab's own documentation and
 * source, for the development issuer behind `npm start` and the tests' stand-in alike, so neither can mint a token
 * GitLab never issues:
 * - Claims: "OpenID Connect (OIDC) Authentication Using ID Tokens", Token payload
 *   (https://docs.gitlab.com/ci/secrets/id_token_authentication/#token-payload): the standard claims and GitLab's
 *   own, ids as numeric strings except `runner_id`, a number, as the documented sample shows; `environment`,
 *   `environment_protected`, `deployment_tier` and `environment_action` only for a job that specifies an
 *   environment; `user_identities` only where the user's preference adds it and `groups_direct` only behind a
 *   feature flag (neither here). `ci_config_ref_uri` is `{host}/{project_path}//{file}@{ref_path}` (GitLab's
 *   ProjectConfig::Repository#url, the host being the instance's, with its port) and, with `ci_config_sha`, null
 *   unless the configuration is a file in the project's own repository.
 * - Times (Gitlab::Ci::Jwt): `nbf` = `iat` − 5, `exp` = `iat` + the job's timeout (the sample's hour, the default).
 * - `sub`: `project_path:{group}/{project}:ref_type:{type}:ref:{branch_name}`, for a job in an environment too.
 * - Header (JSONWebToken::RSAToken): `kid`, `typ` JWT, `alg` RS256.
 * - Discovery: `{issuer}/.well-known/openid-configuration` (GitLab's OpenID Connect provider) names the key set at
 *   `{issuer}/oauth/discovery/keys`: RSA keys (`kty`, `kid`, `e`, `n`, `use` sig, `alg` RS256), whose `kid` is the
 *   key's RFC 7638 thumbprint.
 */
import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import * as jwt from 'jsonwebtoken';
import { requestTarget, sendJson } from '../standins/http';
import { newRsaKeyPair, type RsaKeyPair } from '../standins/rsaKeyPair';

/** GitLab.com; a self-managed instance is its own issuer, and the stand-ins serve the same paths on loopback. */
export const GITLAB_ISSUER = 'https://gitlab.com';
export const DISCOVERY_PATH = '/.well-known/openid-configuration';
export const KEY_SET_PATH = '/oauth/discovery/keys';

/** How far `nbf` is back-dated, and the job timeout `exp` follows unless the job has its own (a project's default, an hour). */
export const NOT_BEFORE_SKEW_SECONDS = 5;
export const DEFAULT_JOB_TIMEOUT_SECONDS = 60 * 60;

/** GitLab.com's discovery document (as a relying party recorded it: alerta/alerta's tests), under `issuer`. */
export function discoveryDocument(issuer: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    userinfo_endpoint: `${issuer}/oauth/userinfo`,
    jwks_uri: `${issuer}${KEY_SET_PATH}`,
    scopes_supported: ['api', 'read_user', 'sudo', 'read_repository', 'read_registry', 'openid', 'profile', 'email'],
    response_types_supported: ['code', 'token'],
    response_modes_supported: ['query', 'fragment'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claim_types_supported: ['normal'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'sub_legacy', 'name', 'nickname', 'email', 'email_verified', 'website', 'profile', 'picture', 'groups'],
  };
}

export interface GitLabSigningKey {
  /** The public key's RFC 7638 thumbprint, base64url (43 characters). */
  kid: string;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
}

export function newGitLabSigningKey({ privateKey, publicKey }: RsaKeyPair = newRsaKeyPair()): GitLabSigningKey {
  const { e, n } = publicKey.export({ format: 'jwk' });
  const kid = crypto.createHash('sha256').update(JSON.stringify({ e, kty: 'RSA', n })).digest('base64url');
  return { kid, privateKey, publicKey };
}

/** The key set at `{issuer}/oauth/discovery/keys`. */
export function gitLabKeySet(keys: readonly GitLabSigningKey[]): { keys: Array<Record<string, unknown>> } {
  return {
    keys: keys.map((key) => {
      const { n, e } = key.publicKey.export({ format: 'jwk' });
      return { kty: 'RSA', kid: key.kid, e, n, use: 'sig', alg: 'RS256' };
    }),
  };
}

/** A project as GitLab's tokens name it: its namespace (a user, or a group and its subgroups) and its own path, with their numeric ids. */
export interface GitLabProject {
  /** The namespace's full path: `contoso` or `contoso/sdk-team`. */
  namespace: string;
  namespaceId: string;
  /** The project's own path. */
  path: string;
  id: string;
  visibility: 'public' | 'internal' | 'private';
}

/** What a pipeline job is: where and what it runs, and who started it. */
export interface PipelineJobDescription {
  project: GitLabProject;
  /**
   * The project's CI/CD configuration file setting (default .gitlab-ci.yml): a file of its repository, or one of
   * another project (`path@group/project`) or a URL, for which GitLab names no file.
   */
  ciConfigPath?: string;
  /** A branch (default main) or, with `refType` tag, a tag. */
  ref?: string;
  refType?: 'branch' | 'tag';
  refProtected?: boolean;
  /** The environment the job specifies, if any. */
  environment?: string;
  /** The environment's deployment tier; by default the one GitLab infers from its name. */
  deploymentTier?: 'production' | 'staging' | 'testing' | 'development' | 'other';
  environmentAction?: 'start' | 'prepare' | 'stop' | 'verify' | 'access';
  /** Default push. */
  pipelineSource?: string;
  user?: { id: string; login: string; email: string; accessLevel: 'guest' | 'reporter' | 'developer' | 'maintainer' | 'owner' };
  pipelineId?: string;
  jobId?: string;
  /** The job's timeout, which its token's lifetime follows. */
  timeoutSeconds?: number;
}

const numeric = () => String(crypto.randomInt(1_000_000, 2_000_000_000));

/**
 * The tier GitLab gives an environment that names none, from its name ("Deployment tier of environments",
 * https://docs.gitlab.com/ci/environments/#deployment-tier-of-environments).
 */
function inferredTier(name: string): NonNullable<PipelineJobDescription['deploymentTier']> {
  if (/prod|live/i.test(name)) return 'production';
  if (/stag|model|demo/i.test(name)) return 'staging';
  if (/test|qc/i.test(name)) return 'testing';
  if (/dev|review|trunk/i.test(name)) return 'development';
  return 'other';
}

/** GitLab's test for a configuration it fetches from elsewhere: another project's file (ProjectConfig::ProjectSetting) or a URL. */
const isElsewhere = (ciConfigPath: string) => /^.+(yml|yaml)@.+$/.test(ciConfigPath) || /^https?:\/\//.test(ciConfigPath);

export interface JobTokenOptions {
  issuer: string;
  audience: string;
  /** Seconds since the epoch. */
  issuedAt: number;
}

/** The claims of the ID token GitLab gives `job`, in the order real tokens show them, and no others. */
export function pipelineJobClaims(job: PipelineJobDescription, options: JobTokenOptions): Record<string, unknown> {
  const { project } = job;
  const projectPath = `${project.namespace}/${project.path}`;
  const ref = job.ref ?? 'main';
  const refType = job.refType ?? 'branch';
  const refPath = `refs/${refType === 'tag' ? 'tags' : 'heads'}/${ref}`;
  const sha = crypto.randomBytes(20).toString('hex');
  const user = job.user ?? { id: '1', login: 'sample-user', email: 'sample-user@example.com', accessLevel: 'maintainer' };
  const ciConfigPath = job.ciConfigPath ?? '.gitlab-ci.yml';
  const inRepository = !isElsewhere(ciConfigPath);
  const host = options.issuer.replace(/^https?:\/\//, '');
  return {
    namespace_id: project.namespaceId,
    namespace_path: project.namespace,
    project_id: project.id,
    project_path: projectPath,
    user_id: user.id,
    user_login: user.login,
    user_email: user.email,
    user_access_level: user.accessLevel,
    pipeline_id: job.pipelineId ?? numeric(),
    pipeline_source: job.pipelineSource ?? 'push',
    job_id: job.jobId ?? numeric(),
    ref,
    ref_type: refType,
    ref_path: refPath,
    ref_protected: String(job.refProtected ?? false),
    ...(job.environment !== undefined
      ? {
          environment: job.environment,
          environment_protected: 'false',
          deployment_tier: job.deploymentTier ?? inferredTier(job.environment),
          environment_action: job.environmentAction ?? 'start',
        }
      : {}),
    runner_id: crypto.randomInt(1, 50_000_000),
    runner_environment: 'gitlab-hosted',
    sha,
    project_visibility: project.visibility,
    ci_config_ref_uri: inRepository ? `${host}/${projectPath}//${ciConfigPath}@${refPath}` : null,
    ci_config_sha: inRepository ? sha : null,
    jti: crypto.randomUUID(),
    iss: options.issuer,
    iat: options.issuedAt,
    nbf: options.issuedAt - NOT_BEFORE_SKEW_SECONDS,
    exp: options.issuedAt + (job.timeoutSeconds ?? DEFAULT_JOB_TIMEOUT_SECONDS),
    sub: `project_path:${projectPath}:ref_type:${refType}:ref:${ref}`,
    aud: options.audience,
  };
}

/** Signs as GitLab does: RS256, with `kid` and `typ` in the header. */
export function signJobToken(claims: Record<string, unknown>, key: GitLabSigningKey): string {
  return jwt.sign(claims, key.privateKey, {
    algorithm: 'RS256',
    header: { kid: key.kid, typ: 'JWT', alg: 'RS256' },
    // The claims carry their own iat.
    noTimestamp: !('iat' in claims),
  });
}

/** What an issuer serves at its two paths: its documents, or 'unavailable' while it is down. */
export interface IssuerDocuments {
  discovery(): Record<string, unknown> | 'unavailable';
  keys(): { keys: Array<Record<string, unknown>> } | 'unavailable';
}

/**
 * Serves the issuer's two documents at GitLab's paths (matched at the end of the path, so the issuer may sit
 * under one). False for any other request.
 */
export function serveIssuerDocuments(req: http.IncomingMessage, res: http.ServerResponse, documents: IssuerDocuments): boolean {
  const { pathname } = requestTarget(req);
  if (req.method !== 'GET') return false;
  const document = pathname.endsWith(DISCOVERY_PATH) ? documents.discovery() : pathname.endsWith(KEY_SET_PATH) ? documents.keys() : undefined;
  if (document === undefined) return false;
  if (document === 'unavailable') sendJson(res, 503, { message: '503 Service Unavailable' });
  else sendJson(res, 200, document);
  return true;
}
