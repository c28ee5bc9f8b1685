import type { JwtPayload } from 'jsonwebtoken';
import type { z } from 'zod';
import type { PublisherDescription } from '../../shared/email/messages';
import type { Problem } from '../../shared/problems';

/**
 * One CI system whose OIDC (or OAuth access) tokens the token exchange takes: everything that differs between
 * GitHub Actions, GitLab CI/CD and a Microsoft Entra workload lives behind this interface, one file each under
 * providers/, registered in providers/index.ts. The exchange (tokenExchange.ts), the token checks (ciToken.ts)
 * and the policies (policies.ts) know providers only through it.
 *
 * `Criteria` is what a policy of the provider names (its part of `POST /api/me/trusted-publishers`); `Run` is
 * what a verified token says about the job that presents it.
 */
export interface TrustedPublishingProvider<Criteria extends object = Record<string, unknown>, Run = unknown> {
  /** The policy's `provider` value ("github"), in requests, views, stored policies and the keys' grants. */
  readonly name: string;
  /** How sentences name it: "GitHub Actions". */
  readonly title: string;
  /**
   * Whether the service takes its tokens: off while its settings are unset (a provider nobody configured is
   * never a reason to stop start-up). Off, its tokens are refused as any unknown issuer's and no policy of it
   * can be added; the policies it has stay listed and make no keys.
   */
  enabled(): boolean;
  readonly token: TokenRules;
  /** What a token, verified against `token`, says about the job: what policies are matched on and keys record. */
  runOf(claims: JwtPayload): Run;

  /**
   * The fields of its criteria in `POST /api/me/trusted-publishers` beside `owner`, `provider`, `packageGlobs` and
   * `scopes` (so never named so), each checked as the CI system names things so a policy that could never match
   * is refused when added. Its output (defaults applied) is what the policy stores, the view shows in `criteria`
   * and `trusts` gets.
   */
  readonly criteria: z.ZodObject<Record<string, z.ZodType>>;
  /**
   * Whether the criteria trust the run, names compared as the CI system compares them. Only the criteria: the
   * caller checks the pin (or, not pinned, the lapse) and the owner.
   */
  trusts(criteria: Criteria, run: Run): boolean;
  /** What the first run that fully matches a policy pins it to; absent: the criteria are immutable ids already. */
  readonly pin?: PinRule<Run>;
  /** Whether a policy no run used within 7 days lapses (NuGet.org's rule for GitHub; needless for immutable ids). */
  readonly lapses: boolean;
  /** What the key made for a run, and the record of its making, keep of the run. */
  runRecord(criteria: Criteria, run: Run): RunRecord;
  /** How notices describe the policy. */
  describe(criteria: Criteria): PublisherDescription;
  /** How the security log and an organization's trail name the policy (beside its id and owner). */
  logged(criteria: Criteria): Record<string, string>;
}

/**
 * How the token exchange checks a provider's tokens. Common to all (ciToken.ts): RS256 with a `kid`, exactly one
 * `aud`, `exp` required and `iat`/`nbf` within a minute's tolerance, the signature by a key of `keySetUrl`. All
 * that can be checked without keys is checked before `keySetUrl` is asked, so a forged token makes no fetch.
 */
export interface TokenRules {
  /** Whether a token with this `iss` is the provider's: one configured issuer, or a pattern (per tenant). */
  acceptsIssuer(issuer: string): boolean;
  /** The `aud` values it takes; the token must carry exactly one of them. */
  audiences(): readonly string[];
  /** The claim naming the token once, under which it is spent: `jti` (GitHub, GitLab) or `uti` (Entra). */
  readonly tokenIdClaim: string;
  /** Claims that must be non-empty strings: what policies are matched on and what the key records. */
  readonly requiredClaims: readonly string[];
  /** Whatever else the claims must be (Entra: `idtyp` "app"), as the sentence a refusal says; undefined: fine. */
  refusal?(claims: JwtPayload): string | undefined;
  /**
   * Where its signing keys are: a fixed URL, an OpenID discovery document's `jwks_uri`, or a URL of the tenant
   * the claims name (checked by `refusal` first). Fetched keys go through lib/shared/identity/jwks.ts; a URL it
   * cannot learn (discovery down) is thrown as `unavailable()`.
   */
  keySetUrl(claims: JwtPayload, unavailable: () => Problem): Promise<string>;
}

/** Values a policy is pinned to: the ids behind the names its criteria give, which are never reused. */
export type Pin = Record<string, string>;

export interface PinRule<Run> {
  /** The pin's fields, documented: the view's `pinned` shows them with `pinnedAt`. */
  readonly schema: z.ZodObject;
  /** The ids of the run's names. */
  of(run: Run): Pin;
  /** For the notice of the first use: what the policy is pinned to now, and what that keeps out. */
  describe(pin: Pin): string;
}

/** What a trusted publishing key keeps of the run it was made for. */
export interface RunRecord {
  /** The run in a few words, for the key's description: "contoso/contoso-sdk, release.yml, run 42". */
  summary: string;
  /** What the record of the key's making names, beside the key, owner and policy. */
  logged: Record<string, string>;
  /** All the key keeps of the run, for whoever asks later which job it was. */
  facts: Record<string, string | null>;
}
