import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { clock } from './clock';
import { Problem } from './problems';
import { container, isNotFound, isPreconditionFailed, readDocument, type StoredDocument } from './storage/cosmos';

export type TokenPurpose = 'confirm-email' | 'reset-password' | 'organization-invitation' | 'transform' | 'package-owner-invitation';

/**
 * Whom a token is for: the account, the address the email goes to, and the account's security stamp at the
 * time. Redeeming checks the address is still the account's and the stamp unchanged (lib/accounts).
 */
export interface TokenRecipient {
  accountId: string;
  emailAddress: string;
  securityStamp: number;
}

export interface TokenDocument extends StoredDocument {
  purpose: TokenPurpose;
  accountId: string;
  /** The address the email with the token went to. */
  emailAddress: string;
  /** The account's security stamp when the token was issued; tokens issued before stamps were kept have none (0). */
  securityStamp?: number;
  /** What the token is about beyond its account: the organization an invitation is to, the account to transform. */
  subjectId?: string;
  expiresAt: string;
  /** Lets Cosmos DB tidy up; expiry itself is checked in code against `expiresAt`. */
  ttl: number;
}

/** The token of an email link, as a body field: base64url, so nothing else reaches storage. */
export const tokenField = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be the token from the email link')
  .meta({ examples: ['kq3Yc2m8ZxV0b1nR4tW7yA9eD6fH5jL2pS8uQ0iO3gE'] });

/** 256 random bits: unguessable, so a lookup by its hash leaks nothing worth timing. */
function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A token just issued: its secret, for the email that carries it, and when it stops working. */
export interface IssuedToken {
  id: string;
  secret: string;
  expiresAt: string;
}

/** Stores only the hash of a fresh one-time secret, and returns the secret for the email that carries it. */
export async function issueToken(
  purpose: TokenPurpose,
  { accountId, emailAddress, securityStamp }: TokenRecipient,
  lifetimeMs: number,
  subjectId?: string,
): Promise<IssuedToken> {
  const secret = newSecret();
  const document: TokenDocument = {
    id: hashSecret(secret),
    purpose,
    accountId,
    emailAddress,
    securityStamp,
    ...(subjectId ? { subjectId } : {}),
    expiresAt: new Date(clock.now().getTime() + lifetimeMs).toISOString(),
    ttl: Math.ceil(lifetimeMs / 1000) + 24 * 60 * 60,
  };
  await container('tokens').items.create(document);
  return { secret, id: document.id, expiresAt: document.expiresAt };
}

const invalidToken = () =>
  new Problem('invalid_token', 'This link is not valid: it may have expired or been used already. Ask for a new one.');

/** The live token for `secret`, or invalid_token for unknown, expired or other-purpose ones. */
export async function findToken(secret: string, purpose: TokenPurpose): Promise<TokenDocument> {
  const token = /^[A-Za-z0-9_-]{20,100}$/.test(secret) ? await readDocument<TokenDocument>('tokens', hashSecret(secret)) : undefined;
  if (!token || token.purpose !== purpose || Date.parse(token.expiresAt) <= clock.now().getTime()) throw invalidToken();
  return token;
}

/** Uses the token up; of two concurrent uses only one succeeds, the other gets invalid_token. */
export async function spendToken(token: TokenDocument): Promise<void> {
  try {
    await container('tokens').item(token.id, token.id).delete({ accessCondition: { type: 'IfMatch', condition: token._etag ?? '' } });
  } catch (error) {
    if (isNotFound(error) || isPreconditionFailed(error)) throw invalidToken();
    throw error;
  }
}

/** The tokens issued to an account or about it, by purpose, a query across partitions (account deletion). */
export async function tokensConcerning(accountId: string, purpose: TokenPurpose): Promise<TokenDocument[]> {
  const { resources } = await container('tokens')
    .items.query<TokenDocument>({
      query: 'SELECT * FROM c WHERE (c.accountId = @id OR c.subjectId = @id) AND c.purpose = @purpose',
      parameters: [
        { name: '@id', value: accountId },
        { name: '@purpose', value: purpose },
      ],
    })
    .fetchAll();
  return resources;
}

/**
 * Deletes every token issued to an account or about it (account deletion), once the domains they stand for
 * have forgotten them.
 */
export async function dropTokensConcerning(accountId: string): Promise<void> {
  const tokens = container('tokens').items.query<{ id: string }>(
    { query: 'SELECT c.id FROM c WHERE c.accountId = @id OR c.subjectId = @id', parameters: [{ name: '@id', value: accountId }] },
    { maxItemCount: 100 },
  );
  while (tokens.hasMoreResults()) {
    for (const { id } of (await tokens.fetchNext()).resources) {
      try {
        await container('tokens').item(id, id).delete();
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }
}
