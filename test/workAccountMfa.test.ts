/**
 * WORK_ACCOUNT_MFA=verified: a work account shows multifactor sign-in with a v1.0 access token for
 * MICROSOFT_MFA_API_AUDIENCE (`mfaToken`), wherever an ID token is accepted. Personal accounts still show it by
 * their `acr`.
 */
import { randomUUID } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { useTestService } from './support/service';
import { newPerson, uniqueName, type Person } from './support/people';
import type { AccessTokenMintOptions } from './standins/identity';

const MFA_API = 'api://gallery-mfa-check';
const WORK_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';


const service = useTestService({ settings: { WORK_ACCOUNT_MFA: 'verified', MICROSOFT_MFA_API_AUDIENCE: MFA_API } });

const worker = (overrides: Partial<Person> = {}) => newPerson({ tid: WORK_TENANT, ...overrides });
const mfaTokenFor = (person: Person, options: Partial<AccessTokenMintOptions> = {}, claims: Record<string, unknown> = {}) =>
  service.identity.mintAccessToken(
    { email: person.email, oid: person.oid, tid: person.tid, name: person.name, ...claims },
    { audience: MFA_API, issuedAt: clock.now(), ...options },
  );
const signIn = (body: unknown) => service.call('POST', '/api/auth/microsoft', { body });

async function registerWorker(person: Person = worker()) {
  const response = await service.call('POST', '/api/accounts', {
    body: { idToken: service.idTokenFor(person), mfaToken: mfaTokenFor(person), username: uniqueName() },
  });
  expect(response.status).toBe(201);
  return { person, ...response.body };
}

describe('a work account in verified mode', () => {
  it('signs in with an mfaToken that shows mfa, and the account says it was verified', async () => {
    const { person, account, sessionToken } = await registerWorker();
    expect(account.microsoftAccount).toEqual({ email: person.email, accountType: 'work', twoFactor: 'verified' });

    const response = await signIn({ idToken: service.idTokenFor(person), mfaToken: mfaTokenFor(person) });
    expect(response.status).toBe(200);
    expect(response.body.account.microsoftAccount.twoFactor).toBe('verified');
    expect((await service.call('GET', '/api/me', { token: sessionToken })).body.microsoftAccount.twoFactor).toBe('verified');
  });

  it('answers mfa_required without an mfaToken, or with one that shows no mfa, wherever an ID token is accepted', async () => {
    const { person } = await registerWorker();
    const stranger = worker();
    const { sessionToken } = await service.register();
    const attempts = (mfaToken: (p: Person) => { mfaToken?: string }) => [
      signIn({ idToken: service.idTokenFor(person), ...mfaToken(person) }),
      service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(stranger), username: uniqueName(), ...mfaToken(stranger) } }),
      service.call('PUT', '/api/me/microsoft-account', { token: sessionToken, body: { idToken: service.idTokenFor(stranger), ...mfaToken(stranger) } }),
    ];
    for (const mfaToken of [() => ({}), (p: Person) => ({ mfaToken: mfaTokenFor(p, { mfa: false }) })]) {
      for (const response of await Promise.all(attempts(mfaToken))) {
        expect(response.status).toBe(403);
        expect(response.body.code).toBe('mfa_required');
        expect(response.body.detail).toMatch(/multifactor/);
      }
    }
    // Nothing was linked or registered along the way.
    expect((await signIn({ idToken: service.idTokenFor(stranger), mfaToken: mfaTokenFor(stranger) })).body.status).toBe('registration_required');
  });

  const minutesAgo = (minutes: number) => new Date(clock.now().getTime() - minutes * 60 * 1000);
  const FORGED_SIGNATURE = 'signed with a key the platform does not publish';
  const invalid: Array<[string, (person: Person) => string]> = [
    ['for another API', (p) => mfaTokenFor(p, { audience: 'api://someone-else' })],
    ['requested by another app', (p) => mfaTokenFor(p, {}, { appid: randomUUID() })],
    ['of another person', (p) => mfaTokenFor(p, {}, { oid: randomUUID() })],
    ['of the same person id in another tenant', (p) => mfaTokenFor(p, {}, { tid: randomUUID() })],
    ['issued by the v2.0 issuer', (p) => mfaTokenFor(p, {}, { iss: `${process.env.MICROSOFT_LOGIN_HOST}/${p.tid}/v2.0` })],
    ['issued by another tenant', (p) => mfaTokenFor(p, {}, { iss: `https://sts.windows.net/${randomUUID()}/` })],
    ['of version 2.0', (p) => mfaTokenFor(p, {}, { ver: '2.0' })],
    ['expired', (p) => mfaTokenFor(p, { issuedAt: minutesAgo(120) })],
    ['not yet valid', (p) => mfaTokenFor(p, {}, { nbf: Math.floor(clock.now().getTime() / 1000) + 3600 })],
    [FORGED_SIGNATURE, (p) => mfaTokenFor(p, { signWith: 'foreign' })],
    ['HMAC-signed with the public key', (p) => mfaTokenFor(p, { algorithm: 'HS256' })],
    ['unsigned', (p) => mfaTokenFor(p, { algorithm: 'none' })],
    ['an ID token in its place', (p) => service.idTokenFor(p)],
    ['no JWT at all', () => 'not-a-token'],
  ];

  it.each(invalid)('refuses an mfaToken %s as invalid_id_token', async (label, mfaToken) => {
    // A tenant whose keys the service has never fetched.
    const person = worker({ tid: service.identity.createTenant() });
    const body = { idToken: service.idTokenFor(person), mfaToken: mfaToken(person) };
    const fetchedBefore = service.identity.jwksRequests;
    const response = await signIn(body);
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('invalid_id_token');
    expect(response.body.detail).toMatch(/MFA token/);
    // The ID token's v2.0 keys are fetched; the v1.0 keys only for a token that nothing but its signature gives away.
    expect(service.identity.jwksRequests - fetchedBefore).toBe(label === FORGED_SIGNATURE ? 2 : 1);
  });

  it('records what the last sign-in showed: an account registered in tenant mode becomes verified', async () => {
    // Another instance still in tenant mode, as during a change of WORK_ACCOUNT_MFA.
    process.env.WORK_ACCOUNT_MFA = 'tenant';
    const tenantMode = await service.startSecondInstance().finally(() => {
      process.env.WORK_ACCOUNT_MFA = 'verified';
    });
    try {
      const person = worker();
      const registered = await tenantMode.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(person), username: uniqueName() } });
      expect(registered.body.account.microsoftAccount.twoFactor).toBe('tenant_policy');

      const signedIn = await signIn({ idToken: service.idTokenFor(person), mfaToken: mfaTokenFor(person) });
      expect(signedIn.body.account.microsoftAccount.twoFactor).toBe('verified');
      const me = await service.call('GET', '/api/me', { token: registered.body.sessionToken });
      expect(me.body.microsoftAccount.twoFactor).toBe('verified');

      // The next sign-in in the same mode writes nothing but its security log entry.
      service.cosmos.reset();
      expect((await signIn({ idToken: service.idTokenFor(person), mfaToken: mfaTokenFor(person) })).status).toBe(200);
      expect(service.cosmos.documentRequests().length).toBeLessThanOrEqual(3);
    } finally {
      await tenantMode.stop();
    }
  });
});

describe('a personal account in verified mode', () => {
  it('still shows two-step verification by its acr, with or without an mfaToken', async () => {
    const { person } = await service.register();
    expect((await signIn({ idToken: service.idTokenFor(person) })).status).toBe(200);
    const noAcr = await signIn({ idToken: service.identity.mint({ email: person.email, oid: person.oid }, { mfa: false, issuedAt: clock.now() }), mfaToken: mfaTokenFor(person) });
    expect(noAcr.status).toBe(403);
    expect(noAcr.body.code).toBe('mfa_required');
  });
});
