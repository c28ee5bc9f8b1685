/**
 * A small RDAP client over `fetch`: which server answers for a domain (RFC 9224's bootstrap file, cached), and
 * what that registry says of the domain (RFC 9083's domain object: its status and its `events`). No RDAP
 * client on npm is well kept, and this needs little: one JSON file and one GET per domain.
 *
 * Every failure is an answer (`unanswered`, with why), never a throw: a registry that is slow, down or
 * rate limiting leaves the domain for the next run, and nothing a request waits on ever calls this.
 */
import { z } from 'zod';
import { clock } from './clock';
import { settings } from './settings';

/** What a registry said of a domain: RFC 9083 section 5.3, reduced to what decides whether it lapsed. */
export interface DomainRegistration {
  /** The latest `registration` event: when the domain was (last) registered. */
  registration: string | null;
  /** The latest `expiration` event. */
  expiration: string | null;
  /** RFC 9083 section 10.2.2's status values (`active`, `pending delete`, `redemption period`, …). */
  status: string[];
}

export type UnansweredReason = 'not_found' | 'server_error' | 'timeout' | 'malformed' | 'rate_limited';

export type RdapAnswer =
  | { kind: 'found'; domain: DomainRegistration }
  /** `retryAfterMs`: for `rate_limited`, how long the server asked to be left alone. */
  | { kind: 'unanswered'; reason: UnansweredReason; retryAfterMs?: number };

/** Where to ask, for the domains of each top-level domain (or longer suffix) the bootstrap file names. */
export interface RdapBootstrap {
  /** The base URL of the server for `domain` (ending in `/`), by RFC 9224's longest match; none for a suffix nobody serves. */
  serverFor(domain: string): string | undefined;
}

/** RFC 9224 section 4: `services` is a list of [entries, base URLs] pairs; the rest of the file is not needed. */
const bootstrapFile = z.object({
  services: z.array(z.tuple([z.array(z.string()), z.array(z.string())]).rest(z.unknown())),
});

const MAX_BOOTSTRAP_BYTES = 4 * 1024 * 1024;
const MAX_DOMAIN_BYTES = 1024 * 1024;
/** IANA publishes the file a few times a month at most; a day-old copy is current enough. */
const BOOTSTRAP_LIFETIME_MS = 24 * 60 * 60 * 1000;
const BOOTSTRAP_TIMEOUT_MS = 30_000;
/** A 429 without a usable Retry-After: wait a minute before asking that server again. */
const DEFAULT_RETRY_AFTER_MS = 60_000;

const isLoopback = (hostname: string) => hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);

/** https anywhere, http only on loopback (the stand-in), as every service URL of this app; with the `/` RFC 9224 requires. */
function usableBase(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) return undefined;
  return value.endsWith('/') ? value : `${value}/`;
}

/** Reads at most `max` bytes of the body; more is refused as malformed rather than held in memory. */
async function limitedText(response: Response, max: number): Promise<string | undefined> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function bootstrapFrom(file: z.infer<typeof bootstrapFile>): RdapBootstrap {
  const servers = new Map<string, string>();
  for (const [entries, urls] of file.services) {
    // RFC 9224 section 3: a client picks one of the URLs; https first, as the RFC advises.
    const base = [...urls].sort((a, b) => Number(b.startsWith('https:')) - Number(a.startsWith('https:'))).map(usableBase).find(Boolean);
    if (!base) continue;
    for (const entry of entries) servers.set(entry.toLowerCase().replace(/\.$/, ''), base);
  }
  return {
    serverFor(domain) {
      // RFC 9224 section 4: the entry matching the most labels, from the right, wins.
      const labels = domain.toLowerCase().split('.');
      for (let start = 0; start < labels.length; start += 1) {
        const found = servers.get(labels.slice(start).join('.'));
        if (found) return found;
      }
      return undefined;
    },
  };
}

let cached: { bootstrap: RdapBootstrap; fetchedAt: number } | undefined;

/**
 * The bootstrap file at `RDAP_BOOTSTRAP_URL`, fetched at most once a day per instance. When it cannot be
 * fetched, the copy held stands; without one, undefined (nothing can be asked this time).
 */
export async function rdapBootstrap(): Promise<RdapBootstrap | undefined> {
  const now = clock.now().getTime();
  if (cached && now - cached.fetchedAt < BOOTSTRAP_LIFETIME_MS) return cached.bootstrap;
  try {
    const response = await fetch(settings().RDAP_BOOTSTRAP_URL, {
      headers: { Accept: 'application/json' },
      signal: AbortSignal.timeout(BOOTSTRAP_TIMEOUT_MS),
    });
    const parsed = response.ok ? bootstrapFile.safeParse(parseJson(await limitedText(response, MAX_BOOTSTRAP_BYTES))) : undefined;
    if (parsed?.success) cached = { bootstrap: bootstrapFrom(parsed.data), fetchedAt: now };
  } catch {
    // Unreachable: the copy held, if any, stands.
  }
  return cached?.bootstrap;
}

/** RFC 9083 section 4.5: an event; eventDate is an RFC 3339 date. */
const rdapEvent = z.object({ eventAction: z.string(), eventDate: z.string().refine((value) => !Number.isNaN(Date.parse(value))) }).loose();

/** RFC 9083 section 5.3: the domain object class, with only the members read here checked. */
const domainObject = z
  .object({
    objectClassName: z.literal('domain'),
    ldhName: z.string(),
    status: z.array(z.string()).optional(),
    events: z.array(rdapEvent).optional(),
  })
  .loose();

/** The latest event of one action, as an ISO string. */
function latest(events: z.infer<typeof rdapEvent>[], action: string): string | null {
  const dates = events.filter((event) => event.eventAction === action).map((event) => Date.parse(event.eventDate));
  return dates.length > 0 ? new Date(Math.max(...dates)).toISOString() : null;
}

/** RFC 9110's Retry-After: seconds, or an HTTP date. */
function retryAfterMs(header: string | null): number {
  if (header === null) return DEFAULT_RETRY_AFTER_MS;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? DEFAULT_RETRY_AFTER_MS : Math.max(0, at - Date.now());
}

/**
 * RFC 9083's domain lookup, `{server}domain/{name}` (RFC 9082 section 3.1.3), asking for `application/rdap+json`
 * (RFC 7480 section 4.2). `name` is the registered domain in A-labels.
 */
export async function lookUpDomain(server: string, name: string, timeoutMs: number): Promise<RdapAnswer> {
  let response: Response;
  try {
    response = await fetch(`${server}domain/${encodeURIComponent(name)}`, {
      headers: { Accept: 'application/rdap+json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    return { kind: 'unanswered', reason: 'timeout' };
  }
  if (response.status === 429) {
    await response.body?.cancel();
    return { kind: 'unanswered', reason: 'rate_limited', retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    return { kind: 'unanswered', reason: response.status === 404 ? 'not_found' : 'server_error' };
  }
  let text: string | undefined;
  try {
    text = await limitedText(response, MAX_DOMAIN_BYTES);
  } catch {
    return { kind: 'unanswered', reason: 'timeout' };
  }
  const parsed = domainObject.safeParse(parseJson(text));
  // The registry answered for another name (a redirect gone wrong): nothing it says is about this domain.
  if (!parsed.success || parsed.data.ldhName.toLowerCase().replace(/\.$/, '') !== name) return { kind: 'unanswered', reason: 'malformed' };
  const events = parsed.data.events ?? [];
  return {
    kind: 'found',
    domain: { registration: latest(events, 'registration'), expiration: latest(events, 'expiration'), status: parsed.data.status ?? [] },
  };
}
