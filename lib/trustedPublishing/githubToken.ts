import type { JwtPayload } from 'jsonwebtoken';
import { secondsSinceEpoch } from '../shared/clock';
import { verifyWithSigningKey } from '../shared/identity/jwks';
import { decodeUnverified, isRs256WithKid, lifetimeFault, type LifetimeFault } from '../shared/identity/unverifiedToken';
import { jwt } from '../shared/jwt';
import { Problem } from '../shared/problems';
import { settings } from '../shared/settings';
import type { WorkflowRunFacts } from '../packages/apiKeys';

/**
 * The GitHub Actions OIDC token a workflow run presents to the token exchange, checked as NuGet.org checks it
 * (NuGetGallery's FederatedCredentialPolicyEvaluator and GitHubTokenPolicyValidator) but with the algorithm
 * pinned: RS256 only, signed by a key of `{GITHUB_OIDC_ISSUER}/.well-known/jwks` (fetched and cached as
 * Microsoft's are), `iss` = GITHUB_OIDC_ISSUER, exactly one `aud` = TRUSTED_PUBLISHING_AUDIENCE, within its
 * lifetime, with a `jti`. Claims: https://docs.github.com/actions/reference/security/oidc. What is refused here
 * is about the token alone, so the sentences may say what is wrong: they tell nothing about accounts.
 */
export interface WorkflowRun {
  /** Spent once (tokenExchange.ts): the issuer and `jti`. */
  issuer: string;
  jti: string;
  /** `exp`, in seconds since the epoch. */
  expiresAt: number;
  repositoryOwner: string;
  repositoryOwnerId: string;
  /** `{owner}/{repo}/.github/workflows/{file}@{ref}` of the workflow the job runs in. */
  jobWorkflowRef: string;
  /** Present only when the job runs in a deployment environment. */
  environment: string | undefined;
  /** What the key made for the run keeps of it (its repository, `ref`, `sha`, run, `actor`, `event_name`). */
  facts: WorkflowRunFacts;
}

/** GitHub back-dates `nbf`; a minute covers the clocks of this service's instances. */
export const CLOCK_TOLERANCE_SECONDS = 60;
/** What a policy is matched on: a token without one of these is refused as such (NuGet does the same). */
const REQUIRED_CLAIMS = ['repository', 'repository_id', 'repository_owner', 'repository_owner_id', 'job_workflow_ref', 'event_name'] as const;

const refused = (detail: string) => new Problem('unauthorized', detail);

const issuerUnavailable = () =>
  new Problem('service_unavailable', "GitHub's token signing keys cannot be fetched right now. Run the job again in a few minutes.", { 'Retry-After': '30' });

const INVALID_SIGNATURE = 'The JSON web token has an invalid signature.';
const LIFETIME_FAULTS: Record<LifetimeFault, string> = {
  // jsonwebtoken checks exp only where there is one; GitHub's tokens always carry it, and a token without one would never end.
  no_expiry: 'The JSON web token must have an exp claim.',
  expired: 'The JSON web token has expired.',
  not_yet_valid: 'The JSON web token is not yet valid.',
};

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Verifies the token a workflow run presents and answers what it says about the run. */
export async function verifyWorkflowToken(token: string): Promise<WorkflowRun> {
  const decoded = decodeUnverified(token);
  if (!decoded) throw refused('The bearer token could not be parsed as a JSON web token.');
  const { header, payload } = decoded;
  // All that the token shows is checked before GitHub's keys are looked up, so a forged one never makes the service fetch.
  if (header.alg !== 'RS256') throw refused('The JSON web token must be signed with RS256.');
  if (!isRs256WithKid(header)) throw refused('The JSON web token must name its signing key (kid).');
  const { GITHUB_OIDC_ISSUER: issuer, TRUSTED_PUBLISHING_AUDIENCE: audience } = settings();
  if (payload.iss !== issuer) throw refused('The JSON web token was not issued by GitHub Actions: its iss claim is not supported.');
  if (typeof payload.aud !== 'string') throw refused('The JSON web token must have exactly one aud claim value.');
  if (payload.aud !== audience) throw refused('The JSON web token has an incorrect audience.');
  if (typeof payload.jti !== 'string' || payload.jti.trim() === '') throw refused('The JSON web token must have a jti claim.');
  const lifetime = lifetimeFault(payload, CLOCK_TOLERANCE_SECONDS);
  if (lifetime) throw refused(LIFETIME_FAULTS[lifetime]);
  const missing = REQUIRED_CLAIMS.find((name) => text(payload[name]) === '');
  if (missing) throw refused(`The JSON web token is missing the required claim '${missing}'.`);

  const claims = await verifyWithSigningKey(`${issuer}/.well-known/jwks`, header.kid, issuerUnavailable, (key) => {
    try {
      return jwt.verify(token, key, {
        algorithms: ['RS256'],
        issuer,
        audience,
        clockTimestamp: secondsSinceEpoch(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }) as JwtPayload;
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      throw refused(name === 'TokenExpiredError' ? LIFETIME_FAULTS.expired : name === 'NotBeforeError' ? LIFETIME_FAULTS.not_yet_valid : INVALID_SIGNATURE);
    }
  });
  if (!claims) throw refused(INVALID_SIGNATURE);
  return {
    issuer,
    jti: payload.jti,
    expiresAt: payload.exp as number, // lifetimeFault found it there
    repositoryOwner: text(claims.repository_owner),
    repositoryOwnerId: text(claims.repository_owner_id),
    jobWorkflowRef: text(claims.job_workflow_ref),
    environment: typeof claims.environment === 'string' ? claims.environment : undefined,
    facts: {
      repository: text(claims.repository),
      repositoryId: text(claims.repository_id),
      ref: text(claims.ref),
      sha: text(claims.sha),
      runId: text(claims.run_id),
      runAttempt: text(claims.run_attempt),
      actor: text(claims.actor),
      eventName: text(claims.event_name),
    },
  };
}
