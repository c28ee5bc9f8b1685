/**
 * A stand-in for RDAP: IANA's bootstrap file for domain names (RFC 9224) and the registries' RDAP servers it
 * names (RFC 9083), on one loopback port. `npm start` serves it with a few example domains; the tests set each
 * domain healthy, expired, registered again or failing (a 5xx, a timeout, a 429 with Retry-After).
 *
 * The shapes follow the real ones:
 * - the bootstrap file as IANA publishes it at https://data.iana.org/rdap/dns.json (RFC 9224 section 4:
 *   `version`, `publication`, `description`, `services` as [[TLDs], [base URLs ending in /]]);
 * - a domain as Verisign's server answers for a .com name (`https://rdap.verisign.com/com/v1/domain/NAME`): the
 *   domain object class of RFC 9083 section 5.3 with `objectClassName`, `handle`, the `ldhName` in upper case,
 *   `links`, RFC 9083 section 10.2.2 `status` values, the registrar `entities` (with its IANA id and abuse
 *   contact), `events` (`registration`, `expiration`, `last changed`, `last update of RDAP database`),
 *   `secureDNS`, `nameservers`, `rdapConformance` and the `notices` of the ICANN response profile; compare RFC 9083
 *   section 5.3's example;
 * - an unknown name: 404 with RFC 9083 section 6's error response; a throttled client: 429, with `Retry-After`
 *   (RFC 7480 section 5.5).
 */
import { createHash } from 'node:crypto';
import type * as http from 'node:http';
import { requestTarget, sendJson } from './http';

/** What a registry holds for a name. `registration: 'now'` answers with the moment of each look-up (registered again just now). */
export interface DomainRecord {
  registration: Date | 'now';
  expiration: Date;
  status?: string[];
}

/** How a look-up of a name fails on purpose. */
export type LookupFault = { status: 500 | 502 | 503 } | { status: 429; retryAfterSeconds: number } | 'timeout';

export interface RdapLookup {
  /** The server's path (`/com/v1/`), standing for the registry asked. */
  server: string;
  name: string;
  status: number;
  /** Date.now() when it arrived: what pacing is measured by. */
  at: number;
}

export interface RdapStandIn {
  handle: http.RequestListener;
  /** The stand-in's own origin, which the bootstrap file's URLs and the answers' links use. */
  setOrigin(origin: string): void;
  /** Where the bootstrap file is: `RDAP_BOOTSTRAP_URL`. */
  bootstrapUrl(): string;
  /** The registry holds `name` so (registered, expiring, with status). */
  register(name: string, record: DomainRecord): void;
  /** Registered ten years ago, expiring in a year, as most names are. */
  healthy(name: string, now?: Date): void;
  /** Its expiration passed at `at`. */
  expired(name: string, at: Date): void;
  /** Registered anew at `at` (after it lapsed and someone else took it), expiring a year later. */
  reregistered(name: string, at: Date): void;
  /** Its look-ups fail so, until set otherwise; `times` look-ups only, if given. */
  failing(name: string, fault: LookupFault, times?: number): void;
  /** Every look-up of a name of the TLD fails so (the whole registry in trouble), until `null`. */
  serverFault(tld: string, fault: LookupFault | null): void;
  /** The registry no longer holds it: 404. */
  forget(name: string): void;
  readonly lookups: RdapLookup[];
  /** Look-ups still being held (the timeout fault) are let go. */
  close(): void;
}

/** The registries served, by the path of their server, and the TLDs each answers for (a TLD of none of them has no server). */
const REGISTRIES: Record<string, string[]> = {
  '/com/v1/': ['com'],
  '/net/v1/': ['net'],
  '/org/': ['org'],
  '/example/': ['example'],
  '/test/': ['test'],
};

const YEAR_MS = 365 * 24 * 60 * 60 * 1000;

export function createRdapStandIn(): RdapStandIn {
  let origin = 'http://127.0.0.1';
  const records = new Map<string, DomainRecord>();
  const faults = new Map<string, { fault: LookupFault; times: number }>();
  const serverFaults = new Map<string, LookupFault>();
  const lookups: RdapLookup[] = [];
  const held = new Set<http.ServerResponse>();

  const tldOf = (name: string) => name.slice(name.lastIndexOf('.') + 1);

  function bootstrapFile() {
    return {
      version: '1.0',
      publication: '2026-01-05T18:00:01Z',
      description: 'RDAP bootstrap file for Domain Name System registrations',
      services: Object.entries(REGISTRIES).map(([path, tlds]) => [tlds, [`${origin}${path}`]]),
    };
  }

  /** Verisign's answer for a .com name, with this name's status and dates. */
  function domainObject(server: string, name: string, record: DomainRecord) {
    const upper = name.toUpperCase();
    const self = `${origin}${server}domain/${upper}`;
    const registration = record.registration === 'now' ? new Date() : record.registration;
    return {
      objectClassName: 'domain',
      handle: `${createHash('sha256').update(name).digest('hex').slice(0, 10).toUpperCase()}_DOMAIN_${tldOf(name).toUpperCase()}-VRSN`,
      ldhName: upper,
      links: [{ value: self, rel: 'self', href: self, type: 'application/rdap+json' }],
      status: record.status ?? ['client delete prohibited', 'client transfer prohibited', 'client update prohibited'],
      entities: [
        {
          objectClassName: 'entity',
          handle: '292',
          roles: ['registrar'],
          publicIds: [{ type: 'IANA Registrar ID', identifier: '292' }],
          vcardArray: ['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', 'Example Registrar, Inc.']]],
          entities: [
            {
              objectClassName: 'entity',
              roles: ['abuse'],
              vcardArray: [
                'vcard',
                [
                  ['version', {}, 'text', '4.0'],
                  ['fn', {}, 'text', ''],
                  ['tel', { type: 'voice' }, 'uri', 'tel:+1.5555550100'],
                  ['email', {}, 'text', 'abuse@registrar.example'],
                ],
              ],
            },
          ],
        },
      ],
      events: [
        { eventAction: 'registration', eventDate: registration.toISOString().replace(/\.\d{3}Z$/, 'Z') },
        { eventAction: 'expiration', eventDate: record.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z') },
        { eventAction: 'last changed', eventDate: registration.toISOString().replace(/\.\d{3}Z$/, 'Z') },
        { eventAction: 'last update of RDAP database', eventDate: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      ],
      secureDNS: { delegationSigned: false },
      nameservers: [
        { objectClassName: 'nameserver', ldhName: `NS1.${upper}` },
        { objectClassName: 'nameserver', ldhName: `NS2.${upper}` },
      ],
      rdapConformance: ['rdap_level_0', 'icann_rdap_technical_implementation_guide_1', 'icann_rdap_response_profile_1'],
      notices: [
        {
          title: 'Terms of Use',
          description: ['Service subject to Terms of Use.'],
          links: [{ value: self, rel: 'terms-of-service', href: `${origin}/terms`, type: 'text/html' }],
        },
        {
          title: 'Status Codes',
          description: ['For more information on domain status codes, please visit https://icann.org/epp'],
          links: [{ value: self, rel: 'glossary', href: 'https://icann.org/epp', type: 'text/html' }],
        },
        {
          title: 'RDDS Inaccuracy Complaint Form',
          description: ['URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf'],
          links: [{ value: self, rel: 'help', href: 'https://icann.org/wicf', type: 'text/html' }],
        },
      ],
    };
  }

  const rdapJson = { 'content-type': 'application/rdap+json' };

  function answerFault(res: http.ServerResponse, fault: LookupFault): number {
    if (fault === 'timeout') {
      // Never answered: the client gives up first (or the stand-in closes).
      held.add(res);
      res.on('close', () => held.delete(res));
      return 0;
    }
    const headers = fault.status === 429 ? { ...rdapJson, 'retry-after': String(fault.retryAfterSeconds) } : rdapJson;
    res.writeHead(fault.status, headers).end(JSON.stringify({ errorCode: fault.status, title: fault.status === 429 ? 'Too Many Requests' : 'Server Error', rdapConformance: ['rdap_level_0'] }));
    return fault.status;
  }

  /** The fault set for `name` or its registry, using up one of a limited count. */
  function faultFor(name: string): LookupFault | undefined {
    const own = faults.get(name);
    if (own) {
      own.times -= 1;
      if (own.times <= 0) faults.delete(name);
      return own.fault;
    }
    return serverFaults.get(tldOf(name));
  }

  function lookUp(server: string, name: string, res: http.ServerResponse): number {
    const fault = faultFor(name);
    if (fault) return answerFault(res, fault);
    const record = REGISTRIES[server].includes(tldOf(name)) ? records.get(name) : undefined;
    if (!record) {
      res.writeHead(404, rdapJson).end(
        JSON.stringify({ errorCode: 404, title: 'Not Found', description: [`The domain ${name.toUpperCase()} is not registered here.`], rdapConformance: ['rdap_level_0'] }),
      );
      return 404;
    }
    res.writeHead(200, rdapJson).end(JSON.stringify(domainObject(server, name, record)));
    return 200;
  }

  const handle: http.RequestListener = (req, res) => {
    const { pathname } = requestTarget(req);
    if (req.method !== 'GET') return sendJson(res, 405, { errorCode: 405, title: 'Method Not Allowed' });
    if (pathname === '/rdap/dns.json') return sendJson(res, 200, bootstrapFile());
    const match = /^(\/.*\/)domain\/([^/]+)$/.exec(pathname);
    if (!match || !REGISTRIES[match[1]]) return sendJson(res, 404, { errorCode: 404, title: 'Not Found' });
    const name = decodeURIComponent(match[2]).toLowerCase();
    const at = Date.now();
    const status = lookUp(match[1], name, res);
    lookups.push({ server: match[1], name, status, at });
  };

  return {
    handle,
    lookups,
    setOrigin: (value) => {
      origin = value.replace(/\/+$/, '');
    },
    bootstrapUrl: () => `${origin}/rdap/dns.json`,
    register: (name, record) => {
      records.set(name.toLowerCase(), record);
      faults.delete(name.toLowerCase());
    },
    healthy(name, now = new Date()) {
      this.register(name, { registration: new Date(now.getTime() - 10 * YEAR_MS), expiration: new Date(now.getTime() + YEAR_MS) });
    },
    expired(name, at) {
      this.register(name, { registration: new Date(at.getTime() - 5 * YEAR_MS), expiration: at });
    },
    reregistered(name, at) {
      this.register(name, { registration: at, expiration: new Date(at.getTime() + YEAR_MS) });
    },
    failing: (name, fault, times = Infinity) => {
      faults.set(name.toLowerCase(), { fault, times });
    },
    serverFault: (tld, fault) => {
      if (fault) serverFaults.set(tld, fault);
      else serverFaults.delete(tld);
    },
    forget: (name) => {
      records.delete(name.toLowerCase());
    },
    close: () => {
      for (const res of held) res.destroy();
    },
  };
}

/**
 * What `npm start` serves: the example domains healthy, and two whose addresses lapse when checkEmailDomains
 * runs (`POST /admin/functions/checkEmailDomains`): `expired.example`, whose registration expired a week ago,
 * and `reregistered.example`, registered again at the moment of each look-up.
 */
export function serveExampleDomains(rdap: RdapStandIn, now = new Date()): void {
  for (const name of ['example.com', 'example.net', 'example.org']) rdap.healthy(name, now);
  rdap.expired('expired.example', new Date(now.getTime() - 7 * 24 * 60 * 60 * 1000));
  rdap.register('reregistered.example', { registration: 'now', expiration: new Date(now.getTime() + YEAR_MS) });
}
