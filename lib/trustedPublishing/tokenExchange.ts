import { createHash } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { clock } from '../shared/clock';
import type { Log } from '../shared/log';
import { Problem } from '../shared/problems';
import { enforceRateLimit, type RateLimit } from '../shared/rateLimits';
import { container, isConflict } from '../shared/storage/cosmos';
import { readAccount, type AccountDocument } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { createTrustedPublishingKey, revokeTrustedPublishingKeys, type KeyRefusals } from '../packages/apiKeys';
import { roleOf, type OrganizationDocument } from '../organizations/organization';
import { CLOCK_TOLERANCE_SECONDS, verifyWorkflowToken, type WorkflowRun } from './githubToken';
import { currentPolicy, hasLapsed, markUsed, pinPolicy, policiesCreatedBy, type TrustedPublisherDocument } from './policies';

/**
 * `POST /api/v2/token`, NuGet.org's token API: a GitHub Actions workflow run trades its OIDC token for a
 * short-lived API key, as the NuGet/login action asks (`{ username, tokenType: "ApiKey" }`, the token as
 * Bearer). The steps follow NuGetGallery's TokenApiController and FederatedCredentialService, with these
 * differences: the token is checked before the username is looked up, and nothing that fails before a
 * policy fully matches says why, so a caller without a token of a trusted workflow learns nothing about
 * which accounts or policies exist; a policy is pinned only by a token that fully matches it.
 */
export const tokenRequestBody = z
  .object({
    username: usernameField.describe('The account that made the trust policy (not the owner it makes keys for)'),
    tokenType: z.literal('ApiKey'),
  })
  .strict();

export const tokenResponse = z.object({
  tokenType: z.literal('ApiKey'),
  expires: z.string().describe('When the key stops working, 15 minutes after it was made'),
  apiKey: z.string().describe('The key: scope package:push for every package id, for the policy\'s owner'),
});

/** Per client address: a build farm behind one address publishes a few hundred packages at most in a quarter of an hour. */
const EXCHANGES_PER_CLIENT: RateLimit = { name: 'token-exchange:client', max: 300, windowSeconds: 15 * 60 };

/** How long a spent token's record outlives the token, beyond the clock tolerance it is accepted with. */
const SPENT_TOKEN_MARGIN_SECONDS = 5 * 60;

const refused = (detail: string) => new Problem('unauthorized', detail);
const cannotIssue = (detail: string) => new Problem('invalid_request', detail);

/** The one answer for an unknown username, no policy, and a policy that does not match: NuGet.org's sentence. */
const noMatchingPolicy = (username: string) => refused(`No matching trust policy owned by user '${username}' was found.`);

/**
 * What NuGet.org's token API asks of a request's headers beyond the Bearer token: a JSON content type (its
 * parameters, such as a charset, allowed) and a User-Agent. Refused with 400: the contract answers this route
 * with 400 or 401 only (NuGet.org answers a wrong content type 415).
 */
export function checkTokenRequestHeaders(request: HttpRequest): void {
  const mediaType = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType !== 'application/json') throw cannotIssue("The request must have a Content-Type of 'application/json'.");
  if ((request.headers.get('user-agent') ?? '').trim() === '') throw cannotIssue('A User-Agent header is required.');
}

/**
 * Whether the policy trusts this run: its repository owner and repository (case-insensitively, as GitHub
 * names are), the ids it was pinned to (or, not yet pinned, its 7 days not passed), the workflow file the job
 * runs (`job_workflow_ref`: a reusable workflow of another repository never matches) and, when the policy
 * names one, the deployment environment (case-insensitively, as GitHub's environment names are).
 */
function trusts(policy: TrustedPublisherDocument, run: WorkflowRun, now: number): boolean {
  const repository = `${policy.repositoryOwner}/${policy.repository}`.toLowerCase();
  if (run.repositoryOwner.toLowerCase() !== policy.repositoryOwner.toLowerCase() || run.facts.repository.toLowerCase() !== repository) return false;
  if (policy.repositoryId !== null) {
    if (run.facts.repositoryId !== policy.repositoryId || run.repositoryOwnerId !== policy.repositoryOwnerId) return false;
  } else if (hasLapsed(policy, now)) {
    return false;
  }
  const prefix = `${repository}/.github/workflows/`;
  if (!run.jobWorkflowRef.toLowerCase().startsWith(prefix)) return false;
  const fileAndRef = run.jobWorkflowRef.slice(prefix.length);
  const at = fileAndRef.indexOf('@');
  if (at <= 0 || fileAndRef.slice(0, at).toLowerCase() !== policy.workflowFile.toLowerCase()) return false;
  return policy.environment === null || (run.environment ?? '').toLowerCase() === policy.environment.toLowerCase();
}

/**
 * Past a full match the caller holds a token of the workflow the policy trusts, so it may learn why no key
 * is made (NuGet.org does the same): the account that made the policy, or the owner, is locked or gone, or
 * the creator no longer belongs to the owning organization. Answers the owner the key is for.
 */
async function ownerToIssueFor(creator: AccountDocument, policy: TrustedPublisherDocument): Promise<AccountDocument> {
  if (creator.kind !== 'user') {
    throw cannotIssue(`'${creator.username}' is an organization now: a trust policy works only for the individual account that made it.`);
  }
  if (creator.lock) throw cannotIssue(`The account '${creator.username}' is locked by support.`);
  if (policy.ownerId === creator.id) return creator;
  const owner = await readAccount(policy.ownerId);
  if (owner?.kind !== 'organization' || owner.deletedAt) throw cannotIssue(`The owner '${policy.ownerName}' of the matching trust policy no longer exists.`);
  if (owner.lock) throw cannotIssue(`The organization '${owner.username}' is locked by support.`);
  if (owner.frozen) throw frozenOwner(owner.username);
  if (!roleOf(owner as OrganizationDocument, creator.id)) throw notAllowedFor(owner.username);
  return owner;
}

const frozenOwner = (owner: string) => cannotIssue(`The organization '${owner}' is frozen: one of its admins must unfreeze it first.`);

const notAllowedFor = (owner: string) =>
  cannotIssue(
    `The scopes on the generated API key are not valid. Confirm that you still have permissions to operate on behalf of package owner '${owner}'.`,
  );

/** What the key being made is refused with, should its holder or owner change while it is made. */
const EXCHANGE_REFUSALS = (creator: AccountDocument): KeyRefusals => ({
  holderLocked: () => cannotIssue(`The account '${creator.username}' is locked by support.`),
  ownerLocked: (owner) => cannotIssue(`The organization '${owner}' is locked by support.`),
  ownerFrozen: frozenOwner,
  ownerNotAllowed: notAllowedFor,
});

/**
 * Spends the token: a record under its issuer and `jti`, created if absent, so a second exchange of the
 * same token is refused on any instance. It lives a while past the token's own expiry (`ttl` only tidies
 * up: after that the token itself is refused as expired).
 */
async function spend(run: WorkflowRun, policy: TrustedPublisherDocument): Promise<void> {
  const id = createHash('sha256').update(`${run.issuer}\n${run.jti}`).digest('hex');
  const secondsLeft = run.expiresAt - Math.floor(clock.now().getTime() / 1000);
  const ttl = Math.max(1, secondsLeft + CLOCK_TOLERANCE_SECONDS + SPENT_TOKEN_MARGIN_SECONDS);
  try {
    await container('usedOidcTokens').items.create({ id, policyId: policy.id, expiresAt: new Date(run.expiresAt * 1000).toISOString(), ttl });
  } catch (error) {
    if (isConflict(error)) throw refused('This bearer token has already been used. A new bearer token must be used for each request.');
    throw error;
  }
}

/**
 * Trades a workflow run's OIDC token for a key: verifies the token; finds, among the policies `username`
 * made (oldest first), one that trusts the run; checks the accounts; spends the token; pins the policy on
 * its first use (which its maker, and an organization's admins, are told of); makes the key (scope
 * package:push, glob `*`, the policy's owner, 15 minutes), recorded in
 * the creator's log and the owning organization's trail; and checks once the key exists that the policy was
 * not removed meanwhile.
 */
export async function exchangeToken(token: string, input: z.infer<typeof tokenRequestBody>, clientAddress: string, log: Log) {
  await enforceRateLimit(EXCHANGES_PER_CLIENT, clientAddress);
  const run = await verifyWorkflowToken(token);
  const creator = await accountHolding({ kind: 'username', name: input.username });
  if (!creator || creator.deletedAt) throw noMatchingPolicy(input.username);
  const now = clock.now().getTime();
  const policy = (await policiesCreatedBy(creator.id)).find((candidate) => trusts(candidate, run, now));
  if (!policy) throw noMatchingPolicy(input.username);

  const owner = await ownerToIssueFor(creator, policy);
  await spend(run, policy);
  const ids = { repositoryOwnerId: run.repositoryOwnerId, repositoryId: run.facts.repositoryId };
  // A policy pinned to other ids at the same moment (a repository made again under the name) never matched.
  const matches = policy.repositoryId === null ? await pinPolicy(creator, policy, ids, clientAddress, log) : await markUsed(policy);
  if (!matches) throw noMatchingPolicy(input.username);

  const { secret, expiresAt } = await createTrustedPublishingKey(
    creator,
    owner,
    { ...run.facts, policyId: policy.id, workflowFile: policy.workflowFile, environment: run.environment ?? null },
    EXCHANGE_REFUSALS(creator),
    clientAddress,
  );
  // Removed while the key was made: its removal may have looked for keys before this one existed.
  if (!(await currentPolicy(policy))) {
    await revokeTrustedPublishingKeys(creator.id, policy.id);
    throw noMatchingPolicy(input.username);
  }
  return { tokenType: 'ApiKey' as const, expires: expiresAt, apiKey: secret };
}
