/**
 * Every Cosmos DB container the service uses, with its partition key and the domain that owns it: only that
 * domain's modules read and write its documents, and it clears an account's out of them when the account is
 * deleted (lib/deletion runs those clean-ups in turn). infra/ declares the same list, and a test holds the two
 * together.
 */
export const CONTAINERS = {
  /**
   * Owner: lib/accounts. Accounts and organizations, one document each, read by id on every authenticated
   * call; lib/organizations keeps an organization's members and invitations on its document.
   */
  accounts: { partitionKey: '/id' },
  /**
   * Owner: lib/accounts (claims.ts). Uniqueness claims: a document whose id is the normalised key
   * (`username:…`, `email:…`, `microsoft:{tid}:{oid}`). Creating it is the lock; Cosmos answers 409 to the
   * second writer.
   */
  claims: { partitionKey: '/id' },
  /** Owner: lib/shared/tokens.ts. One-time tokens (email confirmation, …), stored under the SHA-256 of the secret. */
  tokens: { partitionKey: '/id' },
  /** Owner: lib/shared/email. Emails waiting to be sent or sent, so none is lost while ACS is down and none is sent twice. */
  outbox: { partitionKey: '/id' },
  /** Owner: lib/shared/audit.ts. The security log, one partition per account so reading one's own log is a single-partition query. */
  audit: { partitionKey: '/accountId' },
  /**
   * Owner: lib/packages (apiKeys.ts). API keys under the identifier embedded in the key itself, so checking a
   * key is one point read. The secret is stored only as a SHA-256 hash.
   */
  apiKeys: { partitionKey: '/id' },
  /**
   * Owner: lib/packages (heldKeys.ts). One item per API key an account or organization holds, in the holder's
   * partition, written before the key and removed once it is revoked: listing an account's keys, and every sweep
   * over them, is one query within one partition, and the account document does not grow with its keys.
   */
  heldApiKeys: { partitionKey: '/holderId' },
  /**
   * Owner: lib/packages (keyExpiry.ts). One entry per live API key in the partition of the UTC day it
   * expires (`2026-01-10`), written with the key and moved when it is regenerated, so the timer that warns of
   * expiry reads the next eight days' partitions instead of every key.
   */
  apiKeyExpiries: { partitionKey: '/day' },
  /**
   * Owner: lib/packages. Packages under their lower-case id: owners, invitations, trusted-publishing-only; the push
   * check reads one by id. Its versions are items of `packageVersions`, so it stays the same size however many there are.
   */
  packages: { partitionKey: '/id' },
  /**
   * Owner: lib/packages (packageVersions.ts). One item per version of a package, in the partition of the package's
   * lower-case id, under the version's normalized key: creating it is the duplicate check (Cosmos answers the second
   * writer 409), and its sort key pages a package's versions in NuGet's order within one partition. Versions outlive
   * the accounts that pushed them: nothing here is cleared when an account is deleted.
   */
  packageVersions: { partitionKey: '/packageId' },
  /**
   * Owner: lib/packages. Which packages an account or organization owns, one partition per owner, so its
   * packages are a single-partition query (deletion preview, organization deletion). The package document
   * is the truth.
   */
  ownerships: { partitionKey: '/accountId' },
  /**
   * Owner: lib/packages (owners.ts). Copies of the owner invitations waiting for an answer, one partition per
   * account or organization they were sent to or for, so "my packages" finds them with one query each. The
   * package document is the truth.
   */
  ownerInvitations: { partitionKey: '/accountId' },
  /** Owner: lib/packages (prefixes.ts). Reserved id prefixes, bucketed by an id's first segment, so a push reads one bucket by id. */
  prefixes: { partitionKey: '/id' },
  /**
   * Owner: lib/deletion. Deletion requests, one per account under its id: when it is due, which steps are
   * done, and the lease of the timer run processing it, so an interrupted run is finished by the next and two
   * runs never overlap.
   */
  deletions: { partitionKey: '/id' },
  /**
   * Owner: lib/shared/rateLimits.ts (the limits themselves belong to the domains that count them).
   * Rate-limit counters, one per limit, hashed key and time window, so limits hold across instances.
   */
  rateLimits: { partitionKey: '/id' },
  /**
   * Owner: lib/trustedPublishing (store.ts). Trusted publishing policies, one partition per account (`creatorId`):
   * a person's holds the policies it made for itself and pointers to those it made for organizations, an
   * organization's its policies, whoever made them; so the token exchange, which knows only the username a job
   * names, finds its policies with one query within one partition.
   */
  trustedPublishers: { partitionKey: '/creatorId' },
  /**
   * Owner: lib/trustedPublishing (lapses.ts). One entry per policy that lapses unless used, in the partition of the
   * UTC day it lapses, so the timer that tells of lapses reads a few days' partitions instead of every policy.
   */
  trustedPublisherLapses: { partitionKey: '/day' },
  /**
   * Owner: lib/trustedPublishing (tokenExchange.ts). One record per CI token exchanged, under a hash of its
   * issuer and token id (`jti`, or its provider's): creating it is what spends the token, so a second exchange of the same
   * token gets Cosmos DB's 409 on any instance. Kept (`ttl`) a while beyond the token's own expiry.
   */
  usedOidcTokens: { partitionKey: '/id' },
  /**
   * Owner: lib/accounts (emailDomains/). One partition per registered domain of a confirmed address: the
   * domain's document (when it is next asked about over RDAP, what was last said of it) and an entry per account
   * or organization whose confirmed address is on it, so the timer that checks for lapsed domains finds the
   * domains due and the accounts a lapse concerns without reading every account; plus its own run's `progress`.
   */
  emailDomains: { partitionKey: '/domain' },
} as const;

export type ContainerName = keyof typeof CONTAINERS;
