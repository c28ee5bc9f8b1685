import type { JwtPayload } from 'jsonwebtoken';
import { z } from 'zod';
import { discoveredKeySetUrl } from '../../shared/identity/jwks';
import { settings } from '../../shared/settings';
import type { Pin, TrustedPublishingProvider } from './provider';

/**
 * GitLab CI/CD: the ID token a pipeline job gets through `id_tokens` (GitLab's "OpenID Connect (OIDC)
 * Authentication Using ID Tokens", https://docs.gitlab.com/ci/secrets/id_token_authentication/), checked as
 * NuGet.org checks one (NuGetGallery's GitLabTokenPolicyValidator): `iss` = GITLAB_OIDC_ISSUER (GitLab.com or a
 * self-managed instance), its keys at the `jwks_uri` of its OpenID discovery document, one `aud` =
 * TRUSTED_PUBLISHING_AUDIENCE (the job's `id_tokens: { aud }`), spent by its `jti`. A policy names a project
 * (its namespace, groups and subgroups, and its own path), the CI/CD configuration file its pipelines run and,
 * optionally, the environment the job deploys to; the first job that matches pins it to the project's and its
 * namespace's numeric ids, so a project deleted and made again under the same path cannot use it.
 */

// GitLab's rules for paths (https://docs.gitlab.com/user/reserved_names/, "Rules for usernames, project and group
// names, and slugs"; lib/gitlab/path_regex.rb), so a policy that could never match is refused when added. New paths
// must start and end with a letter or digit, without two special characters in a row; paths made before those rules
// (a leading '_' or '.', a '-' at the end) still exist and are taken too. Reserved words are not refused: the list
// differs between GitLab versions, and a self-managed instance may run any of them.
const PATH_CHARACTERS = "letters, digits, '_', '-' and '.'";
/** One group's path (or a user's): not starting with '-', nor ending in '.', '.git' or '.atom'; at most 255 characters. */
const GROUP_PATH = String.raw`(?:[A-Za-z0-9_]|[A-Za-z0-9_.][A-Za-z0-9_.-]{0,253}[A-Za-z0-9_-])(?<!\.git|\.atom)`;
/** A group nests at most 20 levels of subgroups. */
const MAX_SUBGROUPS = 20;

const namespaceField = z
  .string()
  .regex(
    new RegExp(`^${GROUP_PATH}(?:/${GROUP_PATH}){0,${MAX_SUBGROUPS}}$`),
    `must be a GitLab group's full path (group/subgroup/...) or a username, as in gitlab.com/<namespace>/<project>: ${PATH_CHARACTERS} in each part, ` +
      `not starting with '-' nor ending in '.', '.git' or '.atom', at most ${MAX_SUBGROUPS} subgroups`,
  )
  .meta({ examples: ['contoso/sdk-team'] });
const projectField = z
  .string()
  .regex(
    /^(?!\.\.?$)[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}(?<!\.git|\.atom)$/,
    `must be the project's own path, without its namespace or a URL: ${PATH_CHARACTERS}, not starting with '-' nor ending in '.git' or '.atom', at most 255 characters`,
  )
  .meta({ examples: ['contoso-sdk'] });
/**
 * A file in the project's repository (GitLab's "Specify a custom CI/CD configuration file": no leading '/', no '..',
 * at most 255 characters). GitLab also runs a configuration from a URL or from another project (`path@group/project`),
 * but its ID tokens name no file for those pipelines (`ci_config_ref_uri` is null), and what such a file holds is
 * whatever the other project's members push to it: a policy for one could never match, and is refused.
 */
const ciConfigPathField = z
  .string()
  .max(255)
  .refine((path) => !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(path), {
    message: "must be a file in the project's repository, not a URL: GitLab's ID tokens name no file for a configuration fetched from elsewhere",
  })
  // GitLab's own test for a configuration in another project (Gitlab::Ci::ProjectConfig::ProjectSetting).
  .refine((path) => !/^.+(yml|yaml)@.+$/.test(path), {
    message:
      "must be a file in the project's own repository, not one in another project (path@group/project): GitLab's ID tokens name no file for such a pipeline, so no policy could match it",
  })
  .regex(
    /^(?!.*\.\.)(?!\/)(?!(?:.*\/)?\.\/)(?:[^/\u0000-\u001f\u007f]+\/)*[^/\u0000-\u001f\u007f]*[^/\u0000-\u001f\u007f.]\.[Yy][Aa]?[Mm][Ll]$/,
    "must be the path of a .yml or .yaml file in the project's repository, from its root, without '..' (such as .gitlab-ci.yml or ci/release.yml)",
  )
  .meta({ examples: ['.gitlab-ci.yml', 'ci/release.yml'] });
/** GitLab's environment names (Gitlab::Regex.environment_name_regex), at most 255 characters. */
const environmentField = z
  .string()
  .trim()
  .max(255)
  .regex(
    /^[A-Za-z0-9_${}. -](?:[A-Za-z0-9_/${}. -]*[A-Za-z0-9_${}. -])?$/,
    "must be the name of a GitLab environment: letters, digits, '-', '_', '/', '$', '{', '}', '.' and spaces, not starting or ending with '/'",
  )
  .meta({ examples: ['production'] });

const criteria = z
  .object({
    namespace: namespaceField.describe('As in gitlab.com/<namespace>/<project>: the group, with its subgroups, or the user'),
    project: projectField.describe("As in gitlab.com/<namespace>/<project>: the project's path"),
    ciConfigPath: ciConfigPathField.default('.gitlab-ci.yml').describe("The CI/CD configuration file its pipelines run, in the project's repository (default .gitlab-ci.yml)"),
    environment: environmentField.nullable().default(null).describe('The environment the job must deploy to; none: any'),
  })
  .strict();

export type GitLabCriteria = z.output<typeof criteria>;

/** What a GitLab ID token says about the pipeline job. */
export interface PipelineJob {
  /** `iss`: the instance, whose host begins `ci_config_ref_uri`. */
  issuer: string;
  /** The namespace's full path (`group/subgroup`), and the project's (`group/subgroup/project`). */
  namespacePath: string;
  namespaceId: string;
  projectPath: string;
  projectId: string;
  /** `{host}/{project_path}//{file}@{ref_path}` of the configuration the pipeline runs (null claims are refused). */
  ciConfigRefUri: string;
  /** Present only when the job deploys to an environment. */
  environment: string | undefined;
  /** `refs/heads/main`, `refs/tags/v1.0.0`. */
  refPath: string;
  sha: string;
  pipelineId: string;
  jobId: string;
  pipelineSource: string;
  userLogin: string;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

const NO_CONFIGURATION_FILE =
  "The JSON web token names no CI/CD configuration file (its ci_config_ref_uri claim is null): GitLab names one only when the pipeline's configuration is a file in the project's own repository, which trusted publishing requires.";

/**
 * The file of `ci_config_ref_uri` when it is one in the job's own project at the job's own ref:
 * `{host}{relative URL root}/{project_path}//{file}@{ref_path}` (GitLab's ProjectConfig::Repository#url and
 * JwtV2's claim mapper), the host that of the issuer. Anything else (another project's file, a configuration
 * setting written after the file, `…//ci.yml@group/project@refs/heads/main`) names no file of this project.
 */
function configurationFileOf(job: PipelineJob): string | undefined {
  const uri = job.ciConfigRefUri;
  const host = job.issuer.replace(/^https?:\/\//, '');
  const separator = uri.indexOf('//');
  const ref = `@${job.refPath}`;
  if (separator < 0 || !uri.endsWith(ref) || uri.length - ref.length <= separator + 2) return undefined;
  const projectAt = separator - job.projectPath.length - 1;
  if (projectAt < host.length || !uri.startsWith(host) || uri.slice(projectAt, separator) !== `/${job.projectPath}`) return undefined;
  // A self-managed instance under a path (gitlab.example.com/gitlab) has it between the host and the project.
  if (!/^(?:\/[^/]+)*$/.test(uri.slice(host.length, projectAt))) return undefined;
  return uri.slice(separator + 2, uri.length - ref.length);
}

const configurationOf = (c: GitLabCriteria) => `the CI/CD configuration ${c.ciConfigPath} of the GitLab project ${c.namespace}/${c.project}`;

export const gitlab: TrustedPublishingProvider<GitLabCriteria, PipelineJob> = {
  name: 'gitlab',
  title: 'GitLab CI/CD',
  enabled: () => true,
  token: {
    acceptsIssuer: (issuer) => issuer === settings().GITLAB_OIDC_ISSUER,
    audiences: () => [settings().TRUSTED_PUBLISHING_AUDIENCE],
    tokenIdClaim: 'jti',
    // What a policy is matched on and pinned to (NuGet requires the first four), and what the key records.
    requiredClaims: ['namespace_path', 'project_path', 'namespace_id', 'project_id', 'ref_path', 'pipeline_id', 'job_id'],
    refusal: (claims) => (typeof claims.ci_config_ref_uri === 'string' && claims.ci_config_ref_uri !== '' ? undefined : NO_CONFIGURATION_FILE),
    keySetUrl: (_claims, unavailable) => discoveredKeySetUrl(settings().GITLAB_OIDC_ISSUER, unavailable),
  },
  runOf: (claims: JwtPayload) => ({
    issuer: text(claims.iss),
    namespacePath: text(claims.namespace_path),
    namespaceId: text(claims.namespace_id),
    projectPath: text(claims.project_path),
    projectId: text(claims.project_id),
    ciConfigRefUri: text(claims.ci_config_ref_uri),
    environment: typeof claims.environment === 'string' ? claims.environment : undefined,
    refPath: text(claims.ref_path),
    sha: text(claims.sha),
    pipelineId: text(claims.pipeline_id),
    jobId: text(claims.job_id),
    pipelineSource: text(claims.pipeline_source),
    userLogin: text(claims.user_login),
  }),

  criteria,
  /**
   * The namespace and the project (case-insensitively: GitLab keeps group and project paths unique whatever their
   * case and finds them so, gitlab-org/gitlab-foss#1365, and NuGet.org compares them so), the configuration file the pipeline runs (that of `ci_config_ref_uri`, a
   * file of this project at the job's ref, compared exactly, as file paths in Git are) and, when the policy names
   * one, the environment (exactly: GitLab tells environment names apart by case, and NuGet.org compares them so).
   */
  trusts(c, job) {
    if (job.namespacePath.toLowerCase() !== c.namespace.toLowerCase()) return false;
    if (job.projectPath.toLowerCase() !== `${c.namespace}/${c.project}`.toLowerCase()) return false;
    if (configurationFileOf(job) !== c.ciConfigPath) return false;
    return c.environment === null || job.environment === c.environment;
  },
  pin: {
    schema: z.object({ namespaceId: z.string(), projectId: z.string() }).describe("The GitLab ids of the project's namespace and the project"),
    of: (job): Pin => ({ namespaceId: job.namespaceId, projectId: job.projectId }),
    describe: (pin) =>
      `that project (GitLab project id ${pin.projectId}, namespace id ${pin.namespaceId}): only its pipelines get keys, never those of a project made again under the same path`,
  },
  lapses: true,
  runRecord: (c, job) => ({
    summary: `${job.projectPath}, ${c.ciConfigPath}, pipeline ${job.pipelineId}`,
    logged: { project: job.projectPath, ciConfigPath: c.ciConfigPath, pipelineId: job.pipelineId, jobId: job.jobId },
    facts: {
      project: job.projectPath,
      projectId: job.projectId,
      ref: job.refPath,
      sha: job.sha,
      pipelineId: job.pipelineId,
      jobId: job.jobId,
      user: job.userLogin,
      pipelineSource: job.pipelineSource,
      ciConfigPath: c.ciConfigPath,
      environment: job.environment ?? null,
    },
  }),
  describe(c) {
    const where = c.environment === null ? ' (in any environment)' : ` (deploying to the environment '${c.environment}')`;
    return {
      short: `${c.namespace}/${c.project}, ${c.ciConfigPath}`,
      runs: `jobs of pipelines of ${configurationOf(c)}${where}`,
      aRun: `a job of a pipeline of ${configurationOf(c)}${where}`,
      publisher: 'pipeline',
      firstUse: 'the first job that uses it pins it to that project',
    };
  },
  logged: (c) => ({
    project: `${c.namespace}/${c.project}`,
    ciConfigPath: c.ciConfigPath,
    ...(c.environment !== null ? { environment: c.environment } : {}),
  }),
};
