import { createHash } from 'node:crypto';

/**
 * A numeric id that is the same every time for the same kind and name (whatever its case), as GitHub keeps a
 * repository's and GitLab a project's: what the development issuers behind `npm start` give the names scripts send.
 */
export const stableId = (kind: string, name: string): string =>
  String(Number.parseInt(createHash('sha256').update(`${kind}\n${name.toLowerCase()}`).digest('hex').slice(0, 10), 16));
