import type { JwtPayload } from 'jsonwebtoken';
import { z } from 'zod';
import { oneLine } from '../../shared/email/messages';
import { settings } from '../../shared/settings';
import type { Pin, TrustedPublishingProvider } from './provider';

/**
 * GitHub Actions: a workflow run's OIDC token, checked as NuGet.org checks it (NuGetGallery's
 * FederatedCredentialPolicyEvaluator and GitHubTokenPolicyValidator): `iss` = GITHUB_OIDC_ISSUER, its keys at
 * `{issuer}/.well-known/jwks`, one `aud` = TRUSTED_PUBLISHING_AUDIENCE, spent by its `jti`. Claims:
 * https://docs.github.com/actions/reference/security/oidc. A policy names a repository's workflow file (and
 * optionally a deployment environment) and is pinned to the repository's and its owner's numeric ids by the
 * first run that matches it, so a repository deleted and made again under the same name cannot use it.
 */

// GitHub's rules for the names a policy holds, so a policy that could never match is refused when made.
const repositoryOwnerField = z
  .string()
  .max(39)
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$/,
    "must be a GitHub user or organization name, as in github.com/<owner>: letters, digits and hyphens (not first or last), at most 39 characters",
  )
  .meta({ examples: ['contoso'] });
const repositoryField = z
  .string()
  .max(100)
  .regex(/^(?!\.\.?$)[A-Za-z0-9._-]+$/, "must be the repository's own name, without its owner or a URL: letters, digits, '.', '_' and '-', at most 100 characters")
  .meta({ examples: ['contoso-sdk'] });
const workflowFileField = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9._-]+\.ya?ml$/i, 'must be the file name of a workflow in .github/workflows, without a path: a .yml or .yaml file such as release.yml')
  .meta({ examples: ['release.yml'] });
const environmentField = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must be the name of a GitHub deployment environment, without control characters')
  .meta({ examples: ['release'] });

const criteria = z
  .object({
    repositoryOwner: repositoryOwnerField.describe('As in github.com/<owner>/<repository>'),
    repository: repositoryField.describe('As in github.com/<owner>/<repository>'),
    workflowFile: workflowFileField.describe('The file name in .github/workflows'),
    environment: environmentField.nullable().default(null).describe('The deployment environment the job must run in; none: any'),
  })
  .strict();

export type GitHubCriteria = z.output<typeof criteria>;

/** What a GitHub Actions token says about the workflow run. */
export interface WorkflowRun {
  /** `owner/name`, as the token names it. */
  repository: string;
  repositoryId: string;
  repositoryOwner: string;
  repositoryOwnerId: string;
  /** `{owner}/{repo}/.github/workflows/{file}@{ref}` of the workflow the job runs in. */
  jobWorkflowRef: string;
  /** Present only when the job runs in a deployment environment. */
  environment: string | undefined;
  ref: string;
  sha: string;
  runId: string;
  runAttempt: string;
  actor: string;
  eventName: string;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** The workflow file of `job_workflow_ref` when it is one of `repository`'s own (`owner/repo`, lower case), else undefined. */
function workflowFileOf(run: WorkflowRun, repository: string): string | undefined {
  const prefix = `${repository}/.github/workflows/`;
  if (!run.jobWorkflowRef.toLowerCase().startsWith(prefix)) return undefined;
  const fileAndRef = run.jobWorkflowRef.slice(prefix.length);
  const at = fileAndRef.indexOf('@');
  return at > 0 ? fileAndRef.slice(0, at) : undefined;
}

const workflowOf = (c: GitHubCriteria) => `the workflow ${c.workflowFile} of the GitHub repository ${c.repositoryOwner}/${c.repository}`;

export const github: TrustedPublishingProvider<GitHubCriteria, WorkflowRun> = {
  name: 'github',
  title: 'GitHub Actions',
  enabled: () => true,
  token: {
    acceptsIssuer: (issuer) => issuer === settings().GITHUB_OIDC_ISSUER,
    audiences: () => [settings().TRUSTED_PUBLISHING_AUDIENCE],
    tokenIdClaim: 'jti',
    // What a policy is matched on: a token without one of these is refused as such (NuGet does the same).
    requiredClaims: ['repository', 'repository_id', 'repository_owner', 'repository_owner_id', 'job_workflow_ref', 'event_name'],
    keySetUrl: async () => `${settings().GITHUB_OIDC_ISSUER}/.well-known/jwks`,
  },
  runOf: (claims: JwtPayload) => ({
    repository: text(claims.repository),
    repositoryId: text(claims.repository_id),
    repositoryOwner: text(claims.repository_owner),
    repositoryOwnerId: text(claims.repository_owner_id),
    jobWorkflowRef: text(claims.job_workflow_ref),
    environment: typeof claims.environment === 'string' ? claims.environment : undefined,
    ref: text(claims.ref),
    sha: text(claims.sha),
    runId: text(claims.run_id),
    runAttempt: text(claims.run_attempt),
    actor: text(claims.actor),
    eventName: text(claims.event_name),
  }),

  criteria,
  /**
   * The repository owner and repository (case-insensitively, as GitHub names are), the workflow file the job
   * runs (`job_workflow_ref` of this repository: a reusable workflow of another repository never matches, nor a
   * file in a subfolder) and, when the policy names one, the deployment environment (case-insensitively, as
   * GitHub's environment names are).
   */
  trusts(c, run) {
    const repository = `${c.repositoryOwner}/${c.repository}`.toLowerCase();
    if (run.repositoryOwner.toLowerCase() !== c.repositoryOwner.toLowerCase() || run.repository.toLowerCase() !== repository) return false;
    if (workflowFileOf(run, repository)?.toLowerCase() !== c.workflowFile.toLowerCase()) return false;
    return c.environment === null || (run.environment ?? '').toLowerCase() === c.environment.toLowerCase();
  },
  pin: {
    schema: z.object({ repositoryOwnerId: z.string(), repositoryId: z.string() }).describe("The GitHub ids of the repository's owner and the repository"),
    of: (run): Pin => ({ repositoryOwnerId: run.repositoryOwnerId, repositoryId: run.repositoryId }),
    describe: (pin) =>
      `that repository (GitHub repository id ${pin.repositoryId}, owner id ${pin.repositoryOwnerId}): only its runs get keys, never those of a repository made again under the same name`,
  },
  lapses: true,
  runRecord: (c, run) => ({
    summary: `${run.repository}, ${c.workflowFile}, run ${run.runId}`,
    logged: { repository: run.repository, workflowFile: c.workflowFile, runId: run.runId },
    facts: {
      repository: run.repository,
      repositoryId: run.repositoryId,
      ref: run.ref,
      sha: run.sha,
      runId: run.runId,
      runAttempt: run.runAttempt,
      actor: run.actor,
      eventName: run.eventName,
      workflowFile: c.workflowFile,
      environment: run.environment ?? null,
    },
  }),
  describe(c) {
    const where = c.environment === null ? ' (in any deployment environment)' : ` (in the deployment environment '${oneLine(c.environment)}')`;
    return {
      short: `${c.repositoryOwner}/${c.repository}, ${c.workflowFile}`,
      runs: `runs of ${workflowOf(c)}${where}`,
      aRun: `a run of ${workflowOf(c)}${where}`,
      publisher: 'workflow',
      firstUse: 'the first run that uses it pins it to that repository',
    };
  },
  logged: (c) => ({
    repository: `${c.repositoryOwner}/${c.repository}`,
    workflowFile: c.workflowFile,
    ...(c.environment !== null ? { environment: c.environment } : {}),
  }),
};
