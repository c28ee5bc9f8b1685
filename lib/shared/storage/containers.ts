/**
 * Every Cosmos DB container the service uses, with its partition key. infra/ declares the same list, and a
 * test holds the two together.
 */
export const CONTAINERS = {
  /** Accounts and organizations, one document each, read by id on every authenticated call. */
  accounts: { partitionKey: '/id' },
  /**
   * Uniqueness claims: a document whose id is the normalised key (`username:…`, `email:…`,
   * `microsoft:{tid}:{oid}`). Creating it is the lock; Cosmos answers 409 to the second writer.
   */
  claims: { partitionKey: '/id' },
  /** One-time tokens (email confirmation, …), stored under the SHA-256 of the secret. */
  tokens: { partitionKey: '/id' },
  /** Emails waiting to be sent or sent, so none is lost while ACS is down and none is sent twice. */
  outbox: { partitionKey: '/id' },
  /** The security log, one partition per account so reading one's own log is a single-partition query. */
  audit: { partitionKey: '/accountId' },
  /**
   * API keys under the identifier embedded in the key itself, so checking a key is one point read. The
   * secret is stored only as a SHA-256 hash.
   */
  apiKeys: { partitionKey: '/id' },
  /** Packages under their lower-case id: owners, versions, listed; the push check reads one by id. */
  packages: { partitionKey: '/id' },
  /**
   * Which packages an account or organization owns, one partition per owner, so its packages are a
   * single-partition query (deletion preview, organization deletion). The package document is the truth.
   */
  ownerships: { partitionKey: '/accountId' },
  /** Reserved id prefixes, bucketed by an id's first segment, so a push reads one bucket by id. */
  prefixes: { partitionKey: '/id' },
  /**
   * Deletion requests, one per account under its id: when it is due, which steps are done, and the lease of
   * the timer run processing it, so an interrupted run is finished by the next and two runs never overlap.
   */
  deletions: { partitionKey: '/id' },
  /** Rate-limit counters, one per limit, hashed key and time window, so limits hold across instances. */
  rateLimits: { partitionKey: '/id' },
} as const;

export type ContainerName = keyof typeof CONTAINERS;
