import { z } from 'zod';
import { Problem } from '../shared/problems';
import { settings } from '../shared/settings';

const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]$/;
const USERNAME_RULE =
  'User names must start and end with a letter or number, and may only contain letters, numbers, underscores, periods, and hyphens in between.';

/** Usernames and organization names share one case-insensitive namespace. */
export function normaliseName(name: string): string {
  return name.toLowerCase();
}

/**
 * Named in SITE_ADMINS (case-insensitively): whoever holds the name is a site admin, so it must never pass
 * from the account that held it to another.
 */
export const isSiteAdminName = (name: string): boolean => settings().SITE_ADMINS.some((admin) => normaliseName(admin) === normaliseName(name));

export function normaliseEmail(address: string): string {
  return address.toLowerCase();
}

export const usernameUnavailable = (name: string) =>
  new Problem('username_unavailable', `The username '${name}' is not available.`);

export const emailInUse = (address: string) =>
  new Problem('email_in_use', `The email address '${address}' is already in use by a different account.`);

export function assertValidUsername(name: string): void {
  if (name.length < 3 || name.length > 64 || !USERNAME_PATTERN.test(name)) {
    throw new Problem('invalid_username', USERNAME_RULE);
  }
}

/**
 * A name that finds an account or organization (in a body or a path): one the naming rule allows, since no
 * other can exist, so nothing else reaches storage; a well-formed name nobody holds is simply not found.
 */
export const usernameField = z
  .string()
  .min(3)
  .max(64)
  .regex(USERNAME_PATTERN, 'must be a username: letters, digits, underscores, periods and hyphens, starting and ending with a letter or digit')
  .meta({ examples: ['contoso'] });

/** A name to register or create: the naming rule answers its own problem code (`invalid_username`). */
export const newUsernameField = z.string().max(256);

/**
 * An address that mail can be sent to and that is safe to put in a header: no control characters, no
 * angle brackets or quotes that could smuggle a second recipient.
 */
export const emailAddressField = z
  .email()
  .max(254)
  .refine((value) => !/[\u0000-\u001f\u007f<>"',;\s]/.test(value), 'must be a plain email address');
