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
import { createTrustedPublishingKey, keyStop, refusalFor, revokeTrustedPublishingKeys, type KeyRefusals } from '../packages/apiKeys';
import { CLOCK_TOLERANCE_SECONDS, verifyCiToken, type VerifiedToken } from './ciToken';
import { currentPolicy, hasLapsed, isPinnedTo, markUsed, pinPolicy, policyTrusting, type TrustedPublisherDocument } from './policies';

/**
 * `POST /api/v2/token`, NuGet.org's token API: a CI job (a GitHub Actions workflow run, or the job of another
 * provider, providers/) trades its OIDC token for a short-lived API key, as the NuGet/login action asks (`{ username, tokenType: "ApiKey" }`, the token as
 * Bearer). The steps follow NuGetGallery's TokenApiController and FederatedCredentialService, with these
 * differences: the token is checked before the username is looked up, and nothing that fails before a
 * policy fully matches says why, so a caller without a token of a trusted workflow learns nothing about
 * which accounts or policies exist; a policy is pinned only by a token that fully matches it; and `username`
 * may name an organization (NuGet.org refuses that): its own policies then, whoever made them, and the key is
 * the organization's own, so it does not stop working when the person who set it up leaves.
 */
export const tokenRequestBody = z
  .object({
    username: usernameField.describe(
      "The account that made the trust policy, or the organization that owns it: the organization's policies, whoever made them, for a key the organization holds itself",
    ),
    tokenType: z.literal('ApiKey'),
  })
  .strict();

export const tokenResponse = z.object({
  tokenType: z.literal('ApiKey'),
  expires: z.string().describe('When the key stops working, 15 minutes after it was made'),
  apiKey: z.string().describe("The key: the policy's scopes and globs (by default package:push for every package id), for the policy's owner"),
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
 * Whether the policy trusts the job: a policy of the token's provider whose criteria trust the run
 * (`provider.trusts`) and, once pinned, the ids it was pinned to; not pinned yet, its 7 days not passed.
 */
function trusts(policy: TrustedPublisherDocument, { provider, run }: VerifiedToken, now: number): boolean {
  if (policy.provider !== provider.name || !provider.trusts(policy.criteria, run)) return false;
  return policy.pinned !== null ? isPinnedTo(policy, provider.pin?.of(run) ?? {}) : !hasLapsed(policy, now);
}

/**
 * Past a full match the caller holds a token of the workflow the policy trusts, so it may learn why no key is made
 * (NuGet.org does the same): the account the job named is locked, or the owner is gone, locked or frozen, or the maker
 * named no longer belongs to the owning organization, as every key is checked (`keyStop`). Answers the owner the
 * key is for: the holder itself (a person's own policy; an organization's, named by the organization), or the
 * organization a member's key is made for.
 */
async function ownerToIssueFor(holder: AccountDocument, policy: TrustedPublisherDocument): Promise<AccountDocument> {
  const owner = policy.ownerId === holder.id ? holder : await readAccount(policy.ownerId);
  const stop = keyStop(holder, owner, policy.ownerId);
  if (stop) throw refusalFor(stop, EXCHANGE_REFUSALS(holder), policy.ownerName);
  return owner!;
}

const frozenOwner = (owner: string) => cannotIssue(`The organization '${owner}' is frozen: one of its admins must unfreeze it first.`);

const notAllowedFor = (owner: string) =>
  cannotIssue(
    `The scopes on the generated API key are not valid. Confirm that you still have permissions to operate on behalf of package owner '${owner}'.`,
  );

/** What the key being made is refused with, should its holder or owner change while it is made. */
const EXCHANGE_REFUSALS = (holder: AccountDocument): KeyRefusals => ({
  holderLocked: () => cannotIssue(`The account '${holder.username}' is locked by support.`),
  ownerLocked: (owner) => cannotIssue(`The organization '${owner}' is locked by support.`),
  ownerFrozen: frozenOwner,
  ownerNotAllowed: notAllowedFor,
  ownerGone: (owner) => cannotIssue(`The owner '${owner}' of the matching trust policy no longer exists.`),
});

/**
 * Spends the token: a record under its issuer and id (`jti`, or the provider's), created if absent, so a second
 * exchange of the same token is refused on any instance. It lives a while past the token's own expiry (`ttl`
 * only tidies up: after that the token itself is refused as expired).
 */
async function spend(token: VerifiedToken, policy: TrustedPublisherDocument): Promise<void> {
  const id = createHash('sha256').update(`${token.issuer}\n${token.tokenId}`).digest('hex');
  const secondsLeft = token.expiresAt - Math.floor(clock.now().getTime() / 1000);
  const ttl = Math.max(1, secondsLeft + CLOCK_TOLERANCE_SECONDS + SPENT_TOKEN_MARGIN_SECONDS);
  try {
    await container('usedOidcTokens').items.create({ id, policyId: policy.id, expiresAt: new Date(token.expiresAt * 1000).toISOString(), ttl });
  } catch (error) {
    if (isConflict(error)) throw refused('This bearer token has already been used. A new bearer token must be used for each request.');
    throw error;
  }
}

/**
 * Trades a CI job's OIDC token for a key: verifies the token (its provider known by its issuer); finds, among the
 * policies `username` may use (an organization's, or those a person made; oldest first, store.ts), one that trusts
 * the job; checks the accounts; spends the token; pins the policy on its first use, when its provider pins (its
 * maker, and an organization's admins, are told); makes the key (the policy's scopes and globs, the policy's
 * owner, 15 minutes, held by the account named), recorded in the holder's log and the owning organization's
 * trail; and checks once the key exists that the policy was not removed meanwhile.
 */
export async function exchangeToken(bearerToken: string, input: z.infer<typeof tokenRequestBody>, clientAddress: string, log: Log) {
  await enforceRateLimit(EXCHANGES_PER_CLIENT, clientAddress);
  const token = await verifyCiToken(bearerToken);
  const holder = await accountHolding({ kind: 'username', name: input.username });
  if (!holder || holder.deletedAt) throw noMatchingPolicy(input.username);
  const now = clock.now().getTime();
  const { provider, run } = token;
  const policy = await policyTrusting(holder, {
    criteria: (name, criteria) => name === provider.name && provider.trusts(criteria, run),
    policy: (candidate) => trusts(candidate, token, now),
  });
  if (!policy) throw noMatchingPolicy(input.username);

  const owner = await ownerToIssueFor(holder, policy);
  await spend(token, policy);
  const pinning = policy.pinned === null ? provider.pin : undefined;
  // A policy pinned to other ids at the same moment (a repository made again under the name) never matched.
  const matches = pinning ? await pinPolicy(holder, owner, policy, pinning, pinning.of(run), clientAddress, log) : await markUsed(policy);
  if (!matches) throw noMatchingPolicy(input.username);

  const { summary, logged, facts } = provider.runRecord(policy.criteria, run);
  const { secret, expiresAt } = await createTrustedPublishingKey(
    holder,
    owner,
    { scopes: policy.scopes, packageGlobs: policy.packageGlobs, grant: { policyId: policy.id, provider: provider.name, run: facts }, summary, logged },
    EXCHANGE_REFUSALS(holder),
    clientAddress,
  );
  // Removed while the key was made: its removal may have looked for keys before this one existed.
  if (!(await currentPolicy(policy))) {
    await revokeTrustedPublishingKeys(holder.id, policy.id);
    throw noMatchingPolicy(input.username);
  }
  return { tokenType: 'ApiKey' as const, expires: expiresAt, apiKey: secret };
}
