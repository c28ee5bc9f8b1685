import { z } from 'zod';

/**
 * Package versions as NuGet has them: NuGet.Versioning's parser (NuGetVersion.TryParse), NuGet.org's own
 * refusals at push on top, its normalized form, and its order. A hand-written scanner, linear in the input:
 * no regular expression runs over the whole string.
 */
export interface NuGetVersion {
  /** `Major.Minor.Patch`, `.Revision` only when not 0, then `-` and the release labels as given: what is shown. */
  normalized: string;
  /** The normalized form in lower case: two versions are one exactly when their keys are equal. */
  key: string;
  /** `normalized` with `+` and the build metadata, if any (what NuGet.org's length limit counts). */
  full: string;
  /** Four numbers, each at most 2147483647. */
  numbers: [number, number, number, number];
  releaseLabels: string[];
}

export type VersionReading = { version: NuGetVersion } | { refusal: string };

/** NuGet.org's limit on the full version string. */
export const MAX_VERSION_LENGTH = 64;
/** NuGet.org's limit on an id and a full version together. */
export const MAX_ID_AND_VERSION_LENGTH = 160;

const INT_MAX = '2147483647';
const EXAMPLE = 'such as 1.0.0, 1.0.0.1 or 1.0.0-beta.1';

const isDigit = (c: string) => c >= '0' && c <= '9';
const isLetter = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
/** `[0-9A-Za-z-]`, ASCII only, as SemanticVersion's IsValidPart allows. */
const isLabelCharacter = (c: string) => isDigit(c) || isLetter(c) || c === '-';
const allDigits = (s: string) => [...s].every(isDigit);

/** .NET's Trim would also take Unicode spaces; only what a file or a shell may leave around a version goes. */
function trimAsciiSpace(value: string): string {
  const space = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
  let start = 0;
  let end = value.length;
  while (start < end && space(value[start])) start += 1;
  while (end > start && space(value[end - 1])) end -= 1;
  return value.slice(start, end);
}

/** A numeric part: ASCII digits (leading zeros allowed), at most int.MaxValue, compared as text to stay exact. */
function numericPart(part: string): number | string {
  if (part.length === 0 || !allDigits(part)) return `must be numbers separated by periods, ${EXAMPLE}`;
  const digits = part.replace(/^0+(?=\d)/, '');
  if (digits.length > INT_MAX.length || (digits.length === INT_MAX.length && digits > INT_MAX)) {
    return `must have numbers no larger than ${INT_MAX}`;
  }
  return Number(digits);
}

/** Dot-separated identifiers of `[0-9A-Za-z-]`: release labels (no leading zero in a number) or build metadata. */
function identifiers(section: string, what: 'prerelease label' | 'build metadata'): string[] | string {
  const parts = section.split('.');
  for (const part of parts) {
    if (part.length === 0) return `must not have an empty part in its ${what} (after '${what === 'build metadata' ? '+' : '-'}' or around a period)`;
    if (![...part].every(isLabelCharacter)) return `must have only letters, digits and hyphens in its ${what}`;
    if (what === 'prerelease label' && part.length > 1 && part[0] === '0' && allDigits(part)) {
      return `must not have a numeric prerelease label with a leading zero ('${part}')`;
    }
  }
  return parts;
}

/**
 * NuGetVersion.TryParse: `numbers[-labels][+metadata]`, 1 to 4 numbers; the first `-` or `+` ends the
 * numbers and, after a `-`, the first `+` ends the labels. What NuGet.org adds at push is `readVersion`'s.
 */
function parseVersion(input: string): VersionReading {
  const value = trimAsciiSpace(input);
  if (value.length === 0) return { refusal: `must be a version, ${EXAMPLE}` };
  let numbersEnd = value.length;
  for (let i = 0; i < value.length; i += 1) {
    if (value[i] === '-' || value[i] === '+') {
      numbersEnd = i;
      break;
    }
  }
  let labelsEnd = value.length;
  if (value[numbersEnd] === '-') {
    const plus = value.indexOf('+', numbersEnd + 1);
    if (plus >= 0) labelsEnd = plus;
  } else {
    labelsEnd = numbersEnd;
  }

  const numberParts = value.slice(0, numbersEnd).split('.');
  if (numberParts.length > 4) return { refusal: `must have at most four numbers, ${EXAMPLE}` };
  const numbers: number[] = [];
  for (const part of numberParts) {
    const number = numericPart(part);
    if (typeof number === 'string') return { refusal: number };
    numbers.push(number);
  }
  while (numbers.length < 4) numbers.push(0);

  const releaseLabels = labelsEnd > numbersEnd ? identifiers(value.slice(numbersEnd + 1, labelsEnd), 'prerelease label') : [];
  if (typeof releaseLabels === 'string') return { refusal: releaseLabels };
  const metadata = labelsEnd < value.length ? identifiers(value.slice(labelsEnd + 1), 'build metadata') : [];
  if (typeof metadata === 'string') return { refusal: metadata };

  const [major, minor, patch, revision] = numbers;
  const normalized =
    `${major}.${minor}.${patch}${revision > 0 ? `.${revision}` : ''}` + (releaseLabels.length > 0 ? `-${releaseLabels.join('.')}` : '');
  return {
    version: {
      normalized,
      key: normalized.toLowerCase(),
      full: metadata.length > 0 ? `${normalized}+${metadata.join('.')}` : normalized,
      numbers: [major, minor, patch, revision],
      releaseLabels,
    },
  };
}

/**
 * A version pushed to the gallery: what NuGet.org accepts (PackageMetadata, ManifestValidator,
 * PackageHelper): NuGet's syntax, a period somewhere, a first prerelease label that starts with a letter
 * unless the version is SemVer 2 (several labels, or build metadata), at most 64 characters in full.
 */
export function readVersion(input: string): VersionReading {
  if (!input.includes('.')) return { refusal: `must have a period, ${EXAMPLE}` };
  const reading = parseVersion(input);
  if ('refusal' in reading) return reading;
  const { version } = reading;
  const semVer2 = version.releaseLabels.length > 1 || version.full !== version.normalized;
  // Older NuGet clients read a single label only when it starts with a letter.
  if (!semVer2 && version.releaseLabels.length === 1 && !isLetter(version.releaseLabels[0][0])) {
    return { refusal: `must start its prerelease label with a letter (1.0.0-beta1, not 1.0.0-1)` };
  }
  if (version.full.length > MAX_VERSION_LENGTH) {
    return { refusal: `must be at most ${MAX_VERSION_LENGTH} characters long, normalized and with its build metadata` };
  }
  return reading;
}

/** A stored version read back: its normalized form, key and sort key, and what NuGet reads it as if it can. */
export type StoredVersion = Readonly<Pick<NuGetVersion, 'normalized' | 'key'> & { sortKey: string; parsed?: Readonly<NuGetVersion> }>;

/**
 * Stored strings as read back, kept by each instance: a package document stored before versions had items of their
 * own holds all its versions, read again by every push, unlist and view of it until they are moved out, and they
 * are the same strings each time. Bounded, so distinct versions without end cannot grow it: when full it starts over.
 */
const storedReadings = new Map<string, StoredVersion>();
const MAX_STORED_READINGS = 20_000;

/**
 * A version as stored: normalized since versions were parsed as NuGet does; lower-cased as pushed before.
 * Either way this gives its normalized form, key and sort key; a stored string NuGet could not parse is its own key.
 */
export function storedVersion(stored: string): StoredVersion {
  const known = storedReadings.get(stored);
  if (known) return known;
  const reading = parseVersion(stored);
  const version: StoredVersion = Object.freeze(
    'version' in reading
      ? { normalized: reading.version.normalized, key: reading.version.key, sortKey: versionSortKey(reading.version), parsed: Object.freeze(reading.version) }
      : { normalized: stored, key: stored.toLowerCase(), sortKey: `~${stored.toLowerCase()}` },
  );
  if (storedReadings.size >= MAX_STORED_READINGS) storedReadings.clear();
  storedReadings.set(stored, version);
  return version;
}

/** NuGet's order (VersionComparer.Default): numbers, then a release before its prereleases, label by label. */
export function compareVersions(a: NuGetVersion, b: NuGetVersion): number {
  for (let i = 0; i < 4; i += 1) if (a.numbers[i] !== b.numbers[i]) return a.numbers[i] - b.numbers[i];
  const [x, y] = [a.releaseLabels, b.releaseLabels];
  if (x.length === 0 || y.length === 0) return y.length - x.length;
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const order = compareLabels(x[i], y[i]);
    if (order !== 0) return order;
  }
  return x.length - y.length;
}

/** A number as text that sorts as the number does: how many digits it has less one (none has more than ten), then them. */
const orderedNumber = (n: number): string => `${String(n).length - 1}${n}`;

/**
 * A string whose ordinal order is NuGet's order of versions (`compareVersions`), for the store to sort and page by
 * without reading every version: the four numbers, each self-delimiting (`orderedNumber`); then `~` for a release,
 * which sorts after every prerelease of the same numbers, or each release label followed by `!`: a number as `0` and
 * `orderedNumber` (numbers first, by value), a word as `1` and the word in lower case (case-insensitively ordinal).
 * `!` sorts below every label character, so a label sorts before its longer extensions (`a` before `a-` and `ab`)
 * and a list of labels before a longer one equal so far. Versions NuGet treats as one have one sort key, and only
 * they do. A stored string NuGet cannot read (none is stored now) sorts after every version, as `~` and its key.
 */
export function versionSortKey(version: Pick<NuGetVersion, 'numbers' | 'releaseLabels'>): string {
  const numbers = version.numbers.map(orderedNumber).join('');
  if (version.releaseLabels.length === 0) return `${numbers}~`;
  const labels = version.releaseLabels.map((label) => {
    const number = labelNumber(label);
    return `${number === undefined ? `1${label.toLowerCase()}` : `0${orderedNumber(number)}`}!`;
  });
  return numbers + labels.join('');
}

/** The number a label is to int.TryParse: digits, at most int.MaxValue (a longer one compares as text). */
function labelNumber(label: string): number | undefined {
  const number = allDigits(label) ? numericPart(label) : undefined;
  return typeof number === 'number' ? number : undefined;
}

/** Numbers by value and before words; words by ordinal comparison, ignoring case. */
function compareLabels(a: string, b: string): number {
  const [x, y] = [labelNumber(a), labelNumber(b)];
  if (x !== undefined && y !== undefined) return x - y;
  if (x !== undefined || y !== undefined) return x !== undefined ? -1 : 1;
  const [la, lb] = [a.toLowerCase(), b.toLowerCase()];
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/** A version field read by `read`: what it refuses is a 400 naming the field, with the reason. */
function versionSchema(read: (input: string) => VersionReading) {
  return z
    .string()
    .max(256)
    .meta({ examples: ['1.0.0'] })
    .transform((value, context): NuGetVersion => {
      const reading = read(value);
      if ('refusal' in reading) {
        context.addIssue({ code: 'custom', message: reading.refusal, input: value });
        return z.NEVER;
      }
      return reading.version;
    });
}

/** The `version` of a push: refused as NuGet.org refuses it (400 naming the field), read as NuGet reads it. */
export const versionField = versionSchema(readVersion);

/**
 * A version of a package already pushed, named in a path: any spelling NuGet reads as that version (`1.0`,
 * `1.0.0.0` and `1.0.0+build` all name `1.0.0`), as NuGet.org finds a version to unlist. NuGet.org's push
 * rules do not apply: they decided what was pushed, not how it may be named.
 */
export const versionLookupField = versionSchema(parseVersion);
