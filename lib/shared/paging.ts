import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { Problem } from './problems';
import { settings } from './settings';

/** The query of a list read a page at a time: `pageSize` (1 to `max`), and the `continuationToken` of the page before. */
export function pageQuery(max: number) {
  const rule = `must be a whole number from 1 to ${max}`;
  return z.object({
    pageSize: z
      .string()
      .regex(new RegExp(`^\\d{1,${String(max).length}}$`), rule)
      .transform(Number)
      .refine((n) => n >= 1 && n <= max, rule)
      .optional(),
    continuationToken: z.string().max(4096).optional(),
  });
}

export const badContinuation = () =>
  new Problem('invalid_request', "The query parameter 'continuationToken' is not one this service gave out. Start again from the first page.");

/** The signature of a position in one list: `list` names the kind of list, `scope` whose list it is. */
function signature(list: string, scope: string, position: string): Buffer {
  return createHmac('sha256', settings().SESSION_SIGNING_KEY).update(`${list}-continuation\n${scope}\n${position}`).digest();
}

/**
 * Where the next page of a list starts, as a token the caller hands back: the position, signed for the list and
 * whose it is, so a forged or altered token, or one of another list, is refused (`positionIn`) whatever the store
 * would make of it, and it travels safely in a URL.
 */
export function continuationFor(list: string, scope: string, position: string): string {
  return `${Buffer.from(position, 'utf8').toString('base64url')}.${signature(list, scope, position).toString('base64url')}`;
}

/** The position a token from `continuationFor` of the same list holds; any other answers 400 naming the parameter. */
export function positionIn(list: string, scope: string, token: string): string {
  const [encoded, signed, ...rest] = token.split('.');
  if (rest.length > 0 || !encoded || !signed) throw badContinuation();
  const position = Buffer.from(encoded, 'base64url').toString('utf8');
  const expected = signature(list, scope, position);
  const given = Buffer.from(signed, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw badContinuation();
  return position;
}
