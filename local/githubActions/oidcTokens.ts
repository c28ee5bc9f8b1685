/**
 * The OIDC tokens GitHub Actions gives a workflow run, shaped after GitHub's own documentation, for the
 * development issuer behind `npm start` and the tests' stand-in alike, so neither can mint a token GitHub
 * never issues:
 * - Claims and header: https://docs.github.com/actions/reference/security/oidc ("OIDC token claims": the
 *   JOSE header `typ`, `alg`, `x5t`, `kid`; `iss`, `aud`, `sub`, `jti`, `nbf`, `exp`, `iat`; and GitHub's own
 *   claims, every one a string) and the example token of "About security hardening with OpenID Connect"
 *   (`nbf` = `iat` − 600, `exp` = `iat` + 300; ids such as `repository_id` "74" and `repository_owner_id` "65"
 *   as numeric strings). `environment` and `environment_node_id` are there only for a job that runs in a
 *   deployment environment.
 * - `sub`: `repo:{owner}/{repo}:environment:{name}` for a job in an environment, `…:pull_request` for a pull
 *   request, else `…:ref:{ref}` (":" inside a value is written "%3A").
 * - Discovery: `{issuer}/.well-known/openid-configuration` names `{issuer}/.well-known/jwks`, where RSA keys
 *   (`kty` RSA, `alg` RS256, `use` sig, `kid`, `n`, `e`, `x5t`; GitHub also adds the certificate chain, `x5c`,
 *   which no relying party here reads) sign with RS256.
 */
import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import * as jwt from 'jsonwebtoken';
import { requestTarget, sendJson } from '../standins/http';
import { newRsaKeyPair, type RsaKeyPair } from '../standins/rsaKeyPair';

/** The real issuer; the stand-ins serve the same paths under a loopback origin of their own. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

/** The token's lifetime (exp − iat) and how far `nbf` is back-dated, as GitHub's example token shows them. */
export const TOKEN_LIFETIME_SECONDS = 300;
export const NOT_BEFORE_SKEW_SECONDS = 600;

/** What GitHub's discovery document lists in `claims_supported`. */
export const CLAIMS_SUPPORTED = [
  'sub',
  'aud',
  'exp',
  'iat',
  'iss',
  'jti',
  'nbf',
  'ref',
  'sha',
  'repository',
  'repository_id',
  'repository_owner',
  'repository_owner_id',
  'enterprise',
  'enterprise_id',
  'run_id',
  'run_number',
  'run_attempt',
  'actor',
  'actor_id',
  'workflow',
  'workflow_ref',
  'workflow_sha',
  'head_ref',
  'base_ref',
  'event_name',
  'ref_type',
  'ref_protected',
  'environment',
  'environment_node_id',
  'job_workflow_ref',
  'job_workflow_sha',
  'repository_visibility',
  'runner_environment',
];

export function discoveryDocument(issuer: string): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks`,
    subject_types_supported: ['public', 'pairwise'],
    response_types_supported: ['id_token'],
    claims_supported: CLAIMS_SUPPORTED,
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid'],
  };
}

export interface GitHubSigningKey {
  /** GitHub's kids look like GUIDs (38826b17-6a30-5f9b-b169-8beb8202f723). */
  kid: string;
  /** The certificate's SHA-1 thumbprint at GitHub; here the public key's, there being no certificate. */
  x5t: string;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
}

export function newGitHubSigningKey({ privateKey, publicKey }: RsaKeyPair = newRsaKeyPair()): GitHubSigningKey {
  const x5t = crypto.createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url');
  return { kid: crypto.randomUUID(), x5t, privateKey, publicKey };
}

/** The key set at `{issuer}/.well-known/jwks`. */
export function gitHubKeySet(keys: readonly GitHubSigningKey[]): { keys: Array<Record<string, unknown>> } {
  return {
    keys: keys.map((key) => {
      const { n, e } = key.publicKey.export({ format: 'jwk' });
      return { kty: 'RSA', alg: 'RS256', use: 'sig', kid: key.kid, n, e, x5t: key.x5t };
    }),
  };
}

/** A repository as GitHub's tokens name it: its owner and name, and the numeric ids of both. */
export interface GitHubRepository {
  owner: string;
  name: string;
  id: string;
  ownerId: string;
  visibility: 'public' | 'private' | 'internal';
}

/** What a workflow run is: where and what it runs, and who started it. */
export interface WorkflowRunDescription {
  repository: GitHubRepository;
  /** The file in .github/workflows, e.g. release.yml. */
  workflowFile: string;
  /** The workflow's `name:` (default: "Release"). */
  workflowName?: string;
  /** Default refs/heads/main. */
  ref?: string;
  /** The job's deployment environment, if it names one. */
  environment?: string;
  /** Default push. */
  eventName?: string;
  actor?: { login: string; id: string };
  runId?: string;
  runNumber?: string;
  runAttempt?: string;
  /**
   * For a job that calls a reusable workflow, the called workflow (`{owner}/{repo}/.github/workflows/{file}@{ref}`,
   * perhaps of another repository); by default the run's own workflow.
   */
  jobWorkflowRef?: string;
}

const hex = (bytes: number) => crypto.randomBytes(bytes).toString('hex');
const numeric = () => String(crypto.randomInt(1_000_000_000, 99_000_000_000));
const escapeSubject = (value: string) => value.replace(/:/g, '%3A');

function subjectOf(run: WorkflowRunDescription, repository: string, ref: string, eventName: string): string {
  if (run.environment !== undefined) return `repo:${repository}:environment:${escapeSubject(run.environment)}`;
  if (eventName === 'pull_request') return `repo:${repository}:pull_request`;
  return `repo:${repository}:ref:${escapeSubject(ref)}`;
}

export interface WorkflowTokenOptions {
  issuer: string;
  audience: string;
  /** Seconds since the epoch. */
  issuedAt: number;
}

/** The claims of the OIDC token GitHub Actions gives `run`, in the order real tokens show them, and no others. */
export function workflowRunClaims(run: WorkflowRunDescription, options: WorkflowTokenOptions): Record<string, unknown> {
  const { repository: repo } = run;
  const repository = `${repo.owner}/${repo.name}`;
  const ref = run.ref ?? 'refs/heads/main';
  const eventName = run.eventName ?? 'push';
  const sha = hex(20);
  const workflowRef = `${repository}/.github/workflows/${run.workflowFile}@${ref}`;
  const actor = run.actor ?? { login: 'octocat', id: '583231' };
  return {
    jti: crypto.randomUUID(),
    sub: subjectOf(run, repository, ref, eventName),
    ...(run.environment !== undefined ? { environment: run.environment } : {}),
    aud: options.audience,
    ref,
    sha,
    repository,
    repository_owner: repo.owner,
    repository_owner_id: repo.ownerId,
    run_id: run.runId ?? numeric(),
    run_number: run.runNumber ?? String(crypto.randomInt(1, 500)),
    run_attempt: run.runAttempt ?? '1',
    repository_visibility: repo.visibility,
    repository_id: repo.id,
    actor_id: actor.id,
    actor: actor.login,
    workflow: run.workflowName ?? 'Release',
    head_ref: '',
    base_ref: '',
    event_name: eventName,
    ref_protected: 'false',
    ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    workflow_ref: workflowRef,
    workflow_sha: sha,
    job_workflow_ref: run.jobWorkflowRef ?? workflowRef,
    job_workflow_sha: sha,
    runner_environment: 'github-hosted',
    ...(run.environment !== undefined ? { environment_node_id: `EN_kwDO${crypto.randomBytes(12).toString('base64url')}` } : {}),
    iss: options.issuer,
    nbf: options.issuedAt - NOT_BEFORE_SKEW_SECONDS,
    exp: options.issuedAt + TOKEN_LIFETIME_SECONDS,
    iat: options.issuedAt,
  };
}

/** Signs as GitHub does: RS256, with `typ`, `alg`, `x5t` and `kid` in the header. */
export function signWorkflowToken(claims: Record<string, unknown>, key: GitHubSigningKey): string {
  return jwt.sign(claims, key.privateKey, {
    algorithm: 'RS256',
    header: { typ: 'JWT', alg: 'RS256', x5t: key.x5t, kid: key.kid } as jwt.JwtHeader,
    // The claims carry their own iat.
    noTimestamp: !('iat' in claims),
  });
}

/**
 * Serves the issuer's two documents, as GitHub does at its origin (matched at the end of the path, so the
 * issuer may sit under a path, as GitHub Enterprise Server's does). Undefined for any other path.
 */
export function serveIssuerDocuments(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  issuer: string,
  keys: () => { keys: Array<Record<string, unknown>> } | 'unavailable',
): boolean {
  const { pathname } = requestTarget(req);
  if (req.method !== 'GET') return false;
  if (pathname.endsWith('/.well-known/openid-configuration')) {
    sendJson(res, 200, discoveryDocument(issuer));
    return true;
  }
  if (pathname.endsWith('/.well-known/jwks')) {
    const set = keys();
    if (set === 'unavailable') sendJson(res, 503, { message: 'Service Unavailable' });
    else sendJson(res, 200, set);
    return true;
  }
  return false;
}
