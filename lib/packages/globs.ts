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

/** Case-insensitive, `*` matching any run of characters (also none); nothing else is special. */
export function globMatches(glob: string, packageId: string): boolean {
  const pattern = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}$`, 'i').test(packageId);
}
