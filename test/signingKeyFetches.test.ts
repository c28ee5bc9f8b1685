/**
 * What a stranger can make the service fetch. Sign-in, registration and the token exchange take tokens from
 * anyone, and each names where its keys are (a Microsoft token any tenant); one key set cache serves them all
 * (lib/shared/identity/jwks.ts). A token wrong on its face fetches nothing, a tenant that does not exist or an
 * issuer that is down is asked at most once a minute, a flood of forged tokens fetches a bounded number of key
 * sets and never pushes out the keys of the tenants people sign in from.
 */
import { randomUUID } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { CLIENT_ID, useTestService } from './support/service';
import { newPerson } from './support/people';

const service = useTestService();

const signIn = (idToken: string) => service.call('POST', '/api/auth/microsoft', { body: { idToken } });
const minutesAgo = (minutes: number) => new Date(clock.now().getTime() - minutes * 60 * 1000);
const fetches = () => service.identity.jwksRequests;
/** Moves the service's clock to `ms` after `start`. */
const moveClockTo = (start: number, ms: number) => jest.spyOn(clock, 'now').mockReturnValue(new Date(start + ms));

/** A forger's token naming `tid`, with the platform's current kid and every claim right but the signature. */
const forgedFor = (tid: string) => service.identity.mint({ tid }, { signWith: 'foreign', issuedAt: clock.now() });

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<number>): Promise<number[]> {
  const results: number[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(run))));
  return results;
}

describe('a Microsoft ID token wrong on its face', () => {
  const host = () => process.env.MICROSOFT_LOGIN_HOST!;
  const workToken = (tid: string, claims: Record<string, unknown> = {}, options: Parameters<typeof service.identity.mint>[1] = {}) =>
    service.identity.mint({ tid, email: 'someone@contoso.example', ...claims }, { issuedAt: clock.now(), ...options });

  it.each<[string, (tid: string) => string]>([
    ['issued by another tenant', (tid) => workToken(tid, { iss: `${host()}/${randomUUID()}/v2.0` })],
    ['issued by another host', (tid) => workToken(tid, { iss: `https://login.example/${tid}/v2.0` })],
    ['issued by the v1.0 issuer', (tid) => workToken(tid, { iss: `https://sts.windows.net/${tid}/` })],
    ['for another app', (tid) => workToken(tid, { aud: 'another-client-id' })],
    ['for this app among others', (tid) => workToken(tid, { aud: [CLIENT_ID, 'another-client-id'] })],
    ['of version 1.0', (tid) => workToken(tid, { ver: '1.0' })],
    ['expired', (tid) => workToken(tid, {}, { issuedAt: minutesAgo(120) })],
    ['without an expiry', (tid) => workToken(tid, { exp: undefined })],
    ['not yet valid', (tid) => workToken(tid, { nbf: Math.floor(clock.now().getTime() / 1000) + 3600 })],
    ['issued more than 10 minutes ago', (tid) => workToken(tid, {}, { issuedAt: minutesAgo(11) })],
    ['naming no account', (tid) => workToken(tid, { oid: undefined })],
    ['HMAC-signed with the public key', (tid) => workToken(tid, {}, { algorithm: 'HS256' })],
    ['unsigned', (tid) => workToken(tid, {}, { algorithm: 'none' })],
    ['naming a tenant by domain', () => workToken('contoso.onmicrosoft.com')],
  ])('%s is refused without fetching any keys', async (_label, token) => {
    const before = fetches();
    const response = await signIn(token(service.identity.createTenant()));
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('invalid_id_token');
    expect(fetches()).toBe(before);
  });
});

describe('key sets that cannot be had', () => {
  it('asks about a tenant that does not exist once, and refuses its tokens as invalid', async () => {
    const nobody = randomUUID();
    const before = fetches();
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await signIn(forgedFor(nobody));
      expect({ attempt, status: response.status, code: response.body.code }).toEqual({ attempt, status: 401, code: 'invalid_id_token' });
    }
    expect(fetches()).toBe(before + 1);
  });

  it('asks a platform that is down for keys it has no copy of at most once a minute', async () => {
    const start = Date.now();
    const person = newPerson({ tid: service.identity.createTenant() });
    service.identity.setOutage(true);
    try {
      const before = fetches();
      for (let attempt = 0; attempt < 3; attempt++) {
        const response = await signIn(service.idTokenFor(person));
        expect(response.status).toBe(503);
        expect(response.body.code).toBe('identity_provider_unavailable');
      }
      expect(fetches()).toBe(before + 1);

      service.identity.setOutage(false);
      moveClockTo(start, 30 * 1000);
      expect((await signIn(service.idTokenFor(person))).status).toBe(503);
      expect(fetches()).toBe(before + 1);

      moveClockTo(start, 61 * 1000);
      expect((await signIn(service.idTokenFor(person))).body.status).toBe('registration_required');
      expect(fetches()).toBe(before + 2);
    } finally {
      service.identity.setOutage(false);
    }
  });
});

describe('a flood of forged tokens', () => {
  it('naming random tenants fetches at most 60 key sets a minute', async () => {
    moveClockTo(Date.now(), 10 * 60 * 1000);
    const before = fetches();
    const statuses = await inBatches(Array.from({ length: 200 }, () => forgedFor(randomUUID())), 25, async (token) => (await signIn(token)).status);
    expect(statuses.filter((status) => status !== 401 && status !== 503)).toEqual([]);
    expect(fetches() - before).toBeLessThanOrEqual(60);
  });


  it('naming tenants that exist fetches at most 60 key sets a minute, and never pushes out the keys of tenants people sign in from', async () => {
    const start = Date.now();
    moveClockTo(start, 0);
    const people = [newPerson(), newPerson({ tid: service.identity.createTenant() })];
    for (const person of people) expect((await signIn(service.idTokenFor(person))).body.status).toBe('registration_required');

    // More tenants than the cache ever held (1000), a hundred a minute for eleven minutes.
    const fetchedEachMinute: number[] = [];
    for (let minute = 0; minute < 11; minute++) {
      moveClockTo(start, minute * 61 * 1000 + 1000);
      const before = fetches();
      const tokens = Array.from({ length: 100 }, () => forgedFor(service.identity.createTenant()));
      const statuses = await inBatches(tokens, 25, async (token) => (await signIn(token)).status);
      // Refused as forged (401), or, once this minute's fetches for strangers are spent, asked to try later (503).
      expect(statuses.filter((status) => status !== 401 && status !== 503)).toEqual([]);
      fetchedEachMinute.push(fetches() - before);
    }

    const afterFlood = fetches();
    for (const person of people) expect((await signIn(service.idTokenFor(person))).body.status).toBe('registration_required');
    expect({ boundedEveryMinute: fetchedEachMinute.every((count) => count <= 60), fetchedAgainAfterFlood: fetches() - afterFlood }).toEqual({
      boundedEveryMinute: true,
      fetchedAgainAfterFlood: 0,
    });
  });
});

describe('a GitHub Actions token wrong on its face', () => {
  it.each<[string, () => Date, string]>([
    ['expired', () => minutesAgo(120), 'The JSON web token has expired.'],
    ['not yet valid', () => minutesAgo(-60), 'The JSON web token is not yet valid.'],
  ])('%s is refused without fetching GitHub’s keys', async (_label, issuedAt, error) => {
    const before = service.github.jwksRequests;
    const token = service.workflowToken(service.github.repository('contoso/contoso-sdk'), {}, { issuedAt: issuedAt() });
    const response = await service.exchangeToken('someone', token);
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ error });
    expect(service.github.jwksRequests).toBe(before);
  });
});
