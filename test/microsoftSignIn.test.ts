import { randomUUID } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { container } from '../lib/shared/storage/cosmos';
import { useTestService } from './support/service';
import { decodeClaims } from './support/microsoftShapes';
import { newPerson, uniqueName } from './support/people';

const service = useTestService();

const signIn = (body: unknown) => service.call('POST', '/api/auth/microsoft', { body });

describe('signing in with Microsoft', () => {
  it('signs in the linked account with a session that works', async () => {
    const { person, username } = await service.register();
    const response = await signIn({ idToken: service.idTokenFor(person) });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'signed_in', account: { username, kind: 'user' } });
    const me = await service.call('GET', '/api/me', { token: response.body.sessionToken });
    expect(me.body.username).toBe(username);
  });

  it('costs at most three Cosmos requests, all point operations', async () => {
    const { person } = await service.register();
    const idToken = service.idTokenFor(person);
    service.cosmos.reset();
    expect((await signIn({ idToken })).status).toBe(200);
    const requests = service.cosmos.documentRequests();
    expect(requests.length).toBeLessThanOrEqual(3);
    // Reads name one document; the only write is the security log entry.
    expect(requests.filter((r) => r.startsWith('GET')).every((r) => /\/docs\/[^/]+$/.test(r))).toBe(true);
    expect(requests.filter((r) => r.startsWith('POST'))).toHaveLength(1);
  });

  it('asks an unknown Microsoft account to register, with its email address', async () => {
    const person = newPerson();
    const response = await signIn({ idToken: service.idTokenFor(person) });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'registration_required', emailAddress: person.email });

    const noEmail = await signIn({ idToken: service.identity.mint({ email: undefined, preferred_username: 'someone' }) });
    expect(noEmail.body).toEqual({ status: 'registration_required', emailAddress: null });
  });

  it('identifies the person by tenant and object id: the same email under another Microsoft account does not sign in', async () => {
    const { person } = await service.register();
    const impostor = newPerson({ email: person.email });
    const response = await signIn({ idToken: service.idTokenFor(impostor) });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({
      code: 'email_linked_to_another_microsoft_account',
      detail: `The account with email '${person.email}' is linked with another Microsoft account. If you would like to update the linked Microsoft account you can do so from the account settings page.`,
    });
    expect(response.body).not.toHaveProperty('sessionToken');
  });

  it('sends the owner of a password-only account to password sign-in, and an organization address nowhere', async () => {
    async function seedAccount(kind: 'user' | 'organization', email: string) {
      const id = randomUUID();
      await container('accounts').items.create({
        id, kind, username: uniqueName(), emailAddress: email, emailConfirmed: true, pendingEmailAddress: null,
        microsoftAccount: null, passwordHash: kind === 'user' ? 'legacy' : null, sessionVersion: 1, organizations: [],
        createdAt: new Date().toISOString(), deletion: null,
      });
      await container('claims').items.create({ id: `email:${email.toLowerCase()}`, accountId: id, claimedAt: new Date().toISOString() });
    }
    const legacy = newPerson();
    await seedAccount('user', legacy.email);
    const legacyResponse = await signIn({ idToken: service.idTokenFor(legacy) });
    expect(legacyResponse.status).toBe(409);
    expect(legacyResponse.body.code).toBe('password_sign_in_required');

    const orgAddress = newPerson();
    await seedAccount('organization', orgAddress.email);
    const orgResponse = await signIn({ idToken: service.idTokenFor(orgAddress) });
    expect(orgResponse.status).toBe(409);
    expect(orgResponse.body.code).toBe('email_belongs_to_organization');
  });
});

describe('checking the ID token', () => {
  const person = newPerson();
  const otherTenant = '11111111-2222-4333-8444-555555555555';
  const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60 * 1000);
  const claimsOf = () => ({ email: person.email, oid: person.oid, tid: person.tid });

  const refused: Array<[string, () => string]> = [
    ['an expired token', () => service.identity.mint(claimsOf(), { issuedAt: minutesAgo(70), expiresInSeconds: 3600 })],
    ['a token issued more than 10 minutes ago (a replay)', () => service.identity.mint(claimsOf(), { issuedAt: minutesAgo(11) })],
    ['a token not yet valid', () => service.identity.mint({ ...claimsOf(), nbf: Math.floor(Date.now() / 1000) + 3600 })],
    ['a token for another app', () => service.identity.mint({ ...claimsOf(), aud: 'someone-elses-app' })],
    ['a token whose issuer is another tenant', () => service.identity.mint({ ...claimsOf(), iss: `${process.env.MICROSOFT_LOGIN_HOST}/${otherTenant}/v2.0` })],
    ['a token from another login host', () => service.identity.mint({ ...claimsOf(), iss: `https://login.evil.example/${person.tid}/v2.0` })],
    ['a token signed with a key the platform does not publish', () => service.identity.mint(claimsOf(), { signWith: 'foreign' })],
    ['an unsigned token (alg none)', () => service.identity.mint(claimsOf(), { algorithm: 'none' })],
    ['a token HMAC-signed with the public key (algorithm confusion)', () => service.identity.mint(claimsOf(), { algorithm: 'HS256' })],
    ['a token with no tenant', () => service.identity.mint({ ...claimsOf(), tid: undefined })],
    ['a token whose tenant is not a GUID', () => service.identity.mint({ ...claimsOf(), tid: '../../evil' })],
    ['a token with no object id', () => service.identity.mint({ ...claimsOf(), oid: undefined })],
    ['a token with no issue time', () => service.identity.mint({ ...claimsOf(), iat: undefined })],
    ['something that is not a JWT', () => 'not-a-token'],
  ];

  it.each(refused)('refuses %s as invalid_id_token', async (_label, token) => {
    const response = await signIn({ idToken: token() });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('invalid_id_token');
  });

  it('requires a personal account to show two-step verification by its raw acr claim, and nothing else', async () => {
    const withoutAcr = await signIn({ idToken: service.identity.mint(claimsOf(), { mfa: false }) });
    expect(withoutAcr.status).toBe(403);
    expect(withoutAcr.body.code).toBe('mfa_required');
    expect(withoutAcr.body.detail).toMatch(/two-step verification/);
    // The same token comes from a frontend that did not ask for it: the detail says that too.
    expect(withoutAcr.body.detail).toMatch(/If it is on already, the sign-in page did not ask Microsoft to check it \(acr_values\)/);

    // What earlier stand-ins minted, and no real v2.0 ID token carries: amr, and the claim name .NET maps acr to.
    for (const impostor of [
      { amr: ['pwd', 'mfa'] },
      { 'http://schemas.microsoft.com/claims/authnclassreference': 'urn:microsoft:policies:mfa' },
      { acr: '1' },
      { acr: ['urn:microsoft:policies:mfa'] },
    ]) {
      const response = await signIn({ idToken: service.identity.mint({ ...claimsOf(), ...impostor }, { mfa: false }) });
      expect({ impostor, status: response.status, code: response.body.code }).toEqual({ impostor, status: 403, code: 'mfa_required' });
    }

    const withAcr = await signIn({ idToken: service.identity.mint(claimsOf()) });
    expect(withAcr.status).toBe(200);
  });

  it('accepts only v2.0 ID tokens', async () => {
    for (const ver of ['1.0', undefined, 2]) {
      const response = await signIn({ idToken: service.identity.mint({ ...claimsOf(), ver }) });
      expect({ ver, status: response.status, code: response.body.code }).toEqual({ ver, status: 401, code: 'invalid_id_token' });
    }
  });

  it("lets a work account's tenant policy govern by default, and says so in the account", async () => {
    const worker = newPerson({ tid: otherTenant });
    // A work account's ID token never carries acr or amr.
    const idToken = service.idTokenFor(worker);
    expect(decodeClaims(idToken)).not.toHaveProperty('acr');
    const registered = await service.call('POST', '/api/accounts', { body: { idToken, username: uniqueName() } });
    expect(registered.status).toBe(201);
    expect(registered.body.account.microsoftAccount).toEqual({ email: worker.email, accountType: 'work', twoFactor: 'tenant_policy' });

    const signedIn = await signIn({ idToken: service.idTokenFor(worker) });
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.account.microsoftAccount.twoFactor).toBe('tenant_policy');
    // An mfaToken means nothing in tenant mode.
    expect((await signIn({ idToken: service.idTokenFor(worker), mfaToken: 'anything' })).status).toBe(200);
  });

  it('shows a personal account as verified two-factor', async () => {
    const { sessionToken } = await service.register();
    const me = await service.call('GET', '/api/me', { token: sessionToken });
    expect(me.body.microsoftAccount).toMatchObject({ accountType: 'personal', twoFactor: 'verified' });
  });

  it('fetches the signing keys once, and again for an unknown key id at most once a minute', async () => {
    await signIn({ idToken: service.identity.mint(claimsOf()) });
    const fetched = service.identity.jwksRequests;
    await signIn({ idToken: service.identity.mint(claimsOf()) });
    await signIn({ idToken: service.identity.mint(claimsOf()) });
    expect(service.identity.jwksRequests).toBe(fetched);

    service.identity.rotateKeys();
    // Made-up key ids must not make the service hammer the platform.
    expect((await signIn({ idToken: service.identity.mint(claimsOf()) })).status).toBe(401);
    expect(service.identity.jwksRequests).toBe(fetched);

    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 2 * 60 * 1000));
    try {
      const afterRotation = await signIn({ idToken: service.identity.mint(claimsOf()) });
      expect(afterRotation.status).toBe(200);
      expect(service.identity.jwksRequests).toBe(fetched + 1);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('keeps signing in with cached keys while the platform is down, and fails closed without them', async () => {
    await signIn({ idToken: service.identity.mint(claimsOf()) });
    service.identity.setOutage(true);
    try {
      expect((await signIn({ idToken: service.identity.mint(claimsOf()) })).status).toBe(200);

      const neverSeenTenant = newPerson({ tid: randomUUID() });
      const response = await signIn({ idToken: service.idTokenFor(neverSeenTenant) });
      expect(response.status).toBe(503);
      expect(response.body.code).toBe('identity_provider_unavailable');
      expect(response.headers.get('retry-after')).toBeTruthy();
    } finally {
      service.identity.setOutage(false);
    }
  });
});

describe('what the Microsoft redirect reported instead of a token', () => {
  it('explains both ways out of an unmanaged Entra ID tenant', async () => {
    const response = await signIn({
      error: 'invalid_request',
      errorDescription: "AADSTS65005: The application is not supported for this unmanaged tenant 'contoso.example'.",
    });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('unmanaged_tenant');
    expect(response.body.detail).toMatch(/DNS/);
    expect(response.body.detail).toMatch(/new Microsoft account/);
  });

  it('answers a cancelled sign-in with a problem, not a session', async () => {
    const response = await signIn({ error: 'access_denied', errorDescription: 'The user cancelled.' });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('microsoft_sign_in_failed');
  });

  it('refuses a body that mixes a token with an error', async () => {
    const response = await signIn({ idToken: 'x', error: 'access_denied' });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('invalid_request');
  });
});
