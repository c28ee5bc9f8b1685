import { z } from 'zod';

/** A package id: letters, digits, and `.`, `_`, `-` between them, as NuGet allows. */
export const packageIdField = z
  .string()
  .max(100)
  .regex(/^[A-Za-z0-9_]+([.-][A-Za-z0-9_]+)*$/, 'must be a package id: letters, digits, underscores, with periods or hyphens between them')
  .meta({ examples: ['Contoso.Utilities'] });

/** A glob over package ids: the id's characters and `*`, the only wildcard. */
export const packageGlobField = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.*-]+$/, 'must be a package id pattern: id characters and *');

/**
 * Case-insensitive, `*` matching any run of characters (also none); nothing else is special. Linear in the
 * lengths of the id and the glob whatever the glob, with no regular expression built from it: the literal
 * pieces between the stars must be the id's start (the first), its end (the last) and, in order between
 * them, the rest, each found at its leftmost place after the one before (leftmost is never worse for the
 * pieces that follow). Each search is Knuth–Morris–Pratt, and each resumes where the previous one ended.
 */
export function globMatches(glob: string, packageId: string): boolean {
  const id = packageId.toLowerCase();
  const pieces = glob.toLowerCase().split('*');
  const first = pieces[0];
  if (pieces.length === 1) return id === first;
  const last = pieces[pieces.length - 1];
  if (first.length + last.length > id.length || !id.startsWith(first) || !id.endsWith(last)) return false;
  let from = first.length;
  const end = id.length - last.length;
  for (const piece of pieces.slice(1, -1)) {
    const found = indexWithin(id, piece, from, end);
    if (found < 0) return false;
    from = found + piece.length;
  }
  return true;
}

/** Where `piece` first occurs in `text[from, end)`, or -1: Knuth–Morris–Pratt, O(end − from + piece length). */
function indexWithin(text: string, piece: string, from: number, end: number): number {
  if (piece.length === 0) return from;
  const fallback = new Array<number>(piece.length).fill(0);
  for (let i = 1, k = 0; i < piece.length; i += 1) {
    while (k > 0 && piece[i] !== piece[k]) k = fallback[k - 1];
    if (piece[i] === piece[k]) k += 1;
    fallback[i] = k;
  }
  for (let i = from, matched = 0; i < end; i += 1) {
    while (matched > 0 && text[i] !== piece[matched]) matched = fallback[matched - 1];
    if (text[i] === piece[matched]) matched += 1;
    if (matched === piece.length) return i - piece.length + 1;
  }
  return -1;
}
