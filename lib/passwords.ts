import { Problem } from './http/problems';

/**
 * OWASP's argon2id row: 19 MiB of memory, two passes, one lane. The encoded hash carries its own salt and
 * parameters, so they can be raised later without breaking stored hashes.
 */
const HASH_OPTIONS = { memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;
const MIN_PASSWORD_LENGTH = 8;
/** Long passphrases are welcome; the bound only keeps hashing cheap to ask for. */
export const MAX_PASSWORD_LENGTH = 1024;

type Argon2 = typeof import('argon2');
let argon2: Argon2 | undefined;
/** The native module loads on first use: most requests never touch a password. */
function hasher(): Argon2 {
  argon2 ??= require('argon2') as Argon2;
  return argon2;
}

let commonPasswords: Set<string> | undefined;
/** About 49,000 of the most common passwords, most frequent first, from the zxcvbn-ts project's list. */
function isCommon(password: string): boolean {
  if (!commonPasswords) {
    const { dictionary } = require('@zxcvbn-ts/language-common') as { dictionary: Record<string, string[]> };
    commonPasswords = new Set(dictionary['passwords-common']);
  }
  return commonPasswords.has(password.toLowerCase());
}

/**
 * NIST SP 800-63B: at least 8 characters, any Unicode, no composition rules; refused when it is a common
 * password or the account's own username or email address.
 */
export function assertAcceptablePassword(password: string, account: { username: string; emailAddress: string }): void {
  const normalised = password.normalize('NFKC');
  const weak = (why: string) => new Problem('weak_password', `Choose another password: ${why}`);
  if ([...normalised].length < MIN_PASSWORD_LENGTH) throw weak(`it must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  const lower = normalised.toLowerCase();
  if (lower === account.username.toLowerCase() || lower === account.emailAddress.toLowerCase()) {
    throw weak('it must not be your username or email address.');
  }
  if (isCommon(normalised)) throw weak('it is one of the most common passwords, which attackers try first.');
}

export async function hashPassword(password: string): Promise<string> {
  const { hash, argon2id } = hasher();
  return hash(password.normalize('NFKC'), { ...HASH_OPTIONS, type: argon2id });
}

let decoyHash: Promise<string> | undefined;

/**
 * Checks a password in constant time. Without a stored hash it still spends the same effort on a decoy, so
 * an unknown username answers no faster than a wrong password.
 */
export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  decoyHash ??= hashPassword('decoy password never stored');
  const matches = await hasher().verify(storedHash ?? (await decoyHash), password.normalize('NFKC'));
  return storedHash !== null && matches;
}
