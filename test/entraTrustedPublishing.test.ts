import { randomUUID } from 'node:crypto';
import { clock } from '../lib/shared/clock';
import { servicePrincipalFor } from '../local/identity/appOnlyTokens';
import { outcome, useTestService } from './support/service';
import { uniqueName } from './support/people';
import { expectKeyAsNuGetLoginTakesIt, noMatch, refusal } from './support/trustedPublishing';
import type { Member } from './support/organizations';
import type { AppOnlyTokenMintOptions, ServicePrincipal } from './standins/identity';

/**
 * Trusted publishing from Microsoft Entra workloads (provider `entra`): an Azure Pipelines job signed in through
 * a workload identity federation service connection, or any workload with a managed identity, gets the app-only
 * access token of its service principal for the gallery API (`az account get-access-token --resource <App ID
 * URI>`) and exchanges it at `POST /api/v2/token` as NuGet/login does. Only a token of the service principal a
 * policy names, of its tenant, for this service, unspent, and never a token a person signed in for gets a key.
 */
const GALLERY_API = { appIdUri: 'api://0f7a1d52-8c3b-4e6a-9b1d-2c4e6f8a0b13', clientId: '0f7a1d52-8c3b-4e6a-9b1d-2c4e6f8a0b13' };
const service = useTestService({ settings: { TRUSTED_PUBLISHING_ENTRA_AUDIENCE: `${GALLERY_API.appIdUri}, ${GALLERY_API.clientId}` } });


/** The app-only token `principal` gets for the gallery API (v1.0 unless told), issued by the service's clock. */
const appOnlyToken = (principal: ServicePrincipal, options: Partial<AppOnlyTokenMintOptions> = {}) =>
  service.identity.mintAppOnlyToken(principal, { api: GALLERY_API, issuedAt: clock.now(), ...options });

/** `POST /api/me/trusted-publishers` for an `entra` policy of `user` (its own unless `owner` says). */
const requestPolicy = (user: Pick<Member, 'username' | 'sessionToken'>, fields: Record<string, unknown>) =>
  service.call('POST', '/api/me/trusted-publishers', { token: user.sessionToken, body: { owner: user.username, provider: 'entra', ...fields } });

interface Publisher {
  user: Member;
  principal: ServicePrincipal;
  policyId: string;
}

/** A confirmed account with a policy trusting a new service principal (of a new tenant unless one is given). */
async function publisher(principal = service.identity.servicePrincipal(), fields: Record<string, unknown> = {}): Promise<Publisher> {
  const user = await service.confirmedUser();
  const response = await requestPolicy(user, { tenantId: principal.tenantId, objectId: principal.objectId, ...fields });
  if (response.status !== 201) throw new Error(`adding an entra policy failed: ${response.status} ${response.text}`);
  return { user, principal, policyId: response.body.id };
}

const listKeys = async (user: Member) => (await service.call('GET', '/api/me/api-keys', { token: user.sessionToken })).body;

describe('a policy trusting a service principal', () => {
  it('is added with the tenant and object IDs, active from the start: nothing to pin, and it never lapses', async () => {
    const user = await service.confirmedUser();
    const principal = service.identity.servicePrincipal();
    const response = await requestPolicy(user, { tenantId: principal.tenantId.toUpperCase(), objectId: principal.objectId.toUpperCase() });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      owner: user.username,
      createdBy: user.username,
      provider: 'entra',
      // As tokens carry them.
      criteria: { tenantId: principal.tenantId, objectId: principal.objectId },
      packageGlobs: ['*'],
      scopes: ['package:push'],
      status: 'active',
      lapsesAt: null,
      pinned: null,
      createdAt: expect.any(String),
      lastUsedAt: null,
    });
    expect(await service.trustedPublishersOf(user)).toEqual([response.body]);
    expect((await service.securityLog(user))[0]).toMatchObject({
      action: 'trusted_publisher_added',
      details: { policyId: response.body.id, owner: user.username, provider: 'entra', tenantId: principal.tenantId, objectId: principal.objectId },
    });
    await service.deliverNotices();
    const [added] = service.noticesTo(user.person.email, `Trusted publishing policy added: Microsoft Entra service principal ${principal.objectId}`);
    expect(added.plainText).toContain(`jobs signed in as the Microsoft Entra service principal ${principal.objectId} of the tenant ${principal.tenantId}`);
    expect(added.plainText).not.toMatch(/lapses|pins/);

    // Eight days on, unused, it still works: nothing lapses.
    jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 8 * 24 * 60 * 60 * 1000));
    expect((await service.exchangeToken(user.username, appOnlyToken(principal))).status).toBe(200);
  });

  it.each([
    [{ tenantId: 'contoso.onmicrosoft.com' }, 'tenantId'],
    [{ tenantId: '00000000-0000-0000-0000-000000000000' }, 'tenantId'],
    // Personal Microsoft accounts' tenant has no service principals.
    [{ tenantId: '9188040d-6c67-4c5b-b112-36a304b66dad' }, 'tenantId'],
    [{ tenantId: undefined }, 'tenantId'],
    [{ objectId: 'my-service-connection' }, 'objectId'],
    [{ objectId: '{4b2f3c1d-5e6f-4a7b-8c9d-0e1f2a3b4c5d}' }, 'objectId'],
    [{ objectId: 42 }, 'objectId'],
    [{ objectId: undefined }, 'objectId'],
    // GitHub's criteria are unknown fields of an entra policy.
    [{ repositoryOwner: 'contoso' }, 'repositoryOwner'],
    [{ environment: 'release' }, 'environment'],
  ])('refuses %j (%s), naming the field, and adds nothing', async (fields, field) => {
    const user = await service.confirmedUser();
    const response = await requestPolicy(user, { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', objectId: '4b2f3c1d-5e6f-4a7b-8c9d-0e1f2a3b4c5d', ...fields });
    expect(outcome(response)).toBe('400 invalid_request');
    expect(response.body.detail).toContain(`'${field}'`);
    expect(await service.trustedPublishersOf(user)).toEqual([]);
  });

  it("says what the object ID is when it is not one", async () => {
    const user = await service.confirmedUser();
    const response = await requestPolicy(user, { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', objectId: 'release-connection' });
    expect(response.body.detail).toMatch(/objectId.*the service principal's object ID \(not its application's client ID\)/);
  });
});

describe('a job signed in as the service principal', () => {
  it.each(['1.0', '2.0'] as const)(
    'exchanges its v%s token for exactly 200 { tokenType, expires, apiKey }: a key that pushes for the policy owner for 15 minutes',
    async (version) => {
      const { user, principal } = await publisher();
      const before = Date.now();
      const apiKey = expectKeyAsNuGetLoginTakesIt(await service.exchangeToken(user.username, appOnlyToken(principal, { version })), before);

      const packageId = uniqueName('Entra.Lib');
      expect((await service.push(apiKey, packageId)).status).toBe(201);
      expect((await service.getPackage(packageId)).body.owners).toEqual([user.username]);
      jest.spyOn(clock, 'now').mockReturnValue(new Date(Date.now() + 15 * 60 * 1000 + 1000));
      expect((await service.push(apiKey, uniqueName('Late.Lib'))).body.code).toBe('invalid_api_key');
    },
  );

  it('gets a key that names the application, service principal and tenant, in the key list and the log; it cannot be edited', async () => {
    const { user, principal, policyId } = await publisher();
    const token = appOnlyToken(principal);
    const key = await service.trustedPublishingKey(user.username, token);
    const [listed] = await listKeys(user);
    expect(listed).toMatchObject({
      id: key.split('.')[1],
      description: `Trusted publishing: application ${principal.appId}, service principal ${principal.objectId}, tenant ${principal.tenantId}`,
      scopes: ['package:push'],
      packageGlobs: ['*'],
      trustedPublishing: true,
    });
    const edit = await service.editKey(user, listed.id, { description: 'mine now' });
    expect(outcome(edit)).toBe('409 trusted_publishing_key');
    expect(edit.body.detail).toBe(
      'This key was made by trusted publishing for one CI job: it cannot be edited or regenerated, and it stops working by itself 15 minutes after it was made. Revoke it if you must stop it sooner.',
    );
    const [made] = (await service.securityLog(user)).filter((event) => event.action === 'trusted_publishing_key_created');
    expect(made.details).toEqual({
      keyId: listed.id,
      owner: user.username,
      policyId,
      tenantId: principal.tenantId,
      objectId: principal.objectId,
      applicationId: principal.appId,
    });
    // The policy notes its use; there is nothing to pin, so nothing is pinned, announced or queued.
    const [policy] = await service.trustedPublishersOf(user);
    expect(policy).toMatchObject({ status: 'active', pinned: null, lapsesAt: null, lastUsedAt: expect.any(String) });
    expect((await service.securityLog(user)).map((event) => event.action)).not.toContain('trusted_publisher_pinned');
  });

  it("of a managed identity: the key names the identity by its resource ID's name, and the log by the whole ID", async () => {
    const principal = service.identity.servicePrincipal({ managedIdentity: 'gallery-publisher' });
    const { user } = await publisher(principal);
    await service.trustedPublishingKey(user.username, appOnlyToken(principal, { version: '2.0' }));
    const [listed] = await listKeys(user);
    expect(listed.description).toBe(`Trusted publishing: managed identity gallery-publisher, service principal ${principal.objectId}, tenant ${principal.tenantId}`);
    const [made] = (await service.securityLog(user)).filter((event) => event.action === 'trusted_publishing_key_created');
    expect(made.details).toMatchObject({ applicationId: principal.appId, managedIdentity: principal.managedIdentityResourceId });
  });

  it("bounds its keys by the policy's globs and scopes", async () => {
    const { user, principal } = await publisher(undefined, { packageGlobs: ['Contoso.*'], scopes: ['package:pushversion'] });
    const owned = `Contoso.${uniqueName('Lib')}`;
    const setup = await service.createKey(user, { scopes: ['package:push'], packageGlobs: ['*'] });
    expect((await service.push(setup, owned)).status).toBe(201);
    const key = await service.trustedPublishingKey(user.username, appOnlyToken(principal));
    expect((await service.push(key, owned, '1.1.0')).status).toBe(200);
    expect(outcome(await service.push(key, `Contoso.${uniqueName('New')}`))).toBe('403 api_key_scope');
    expect(outcome(await service.push(key, uniqueName('Fabrikam.Lib')))).toBe('403 api_key_scope');
  });

  it('costs a bounded number of Cosmos DB requests, its first exchange too: no pin, no notice', async () => {
    const { user, principal } = await publisher();
    for (let exchange = 0; exchange < 2; exchange += 1) {
      service.cosmos.reset();
      await service.trustedPublishingKey(user.username, appOnlyToken(principal));
      // As a GitHub token's (test/tokenExchange.test.ts): the rate limit, the username and its account, its
      // policies (one query in its partition, the plan first), the spent token, the policy's use, the key's
      // listing and creation, the looks after it, the log, the policy.
      expect(service.cosmos.documentRequests().length).toBeLessThanOrEqual(12);
      expect(service.cosmos.queries().map((line) => line.replace(/^POST \/dbs\/[^/]+/, ''))).toEqual(Array(2).fill('/colls/trustedPublishers/docs'));
      expect(service.cosmos.documentRequests().filter((line) => line.includes('/colls/outbox/'))).toEqual([]);
    }
  });
});

describe('nothing but the service principal the policy names gets a key', () => {
  it('another service principal of the same tenant, or the same object ID in another tenant: the one no-match sentence', async () => {
    const { user, principal } = await publisher();
    const colleague = service.identity.servicePrincipal({ tenantId: principal.tenantId });
    const elsewhere: ServicePrincipal = { ...principal, tenantId: service.identity.createTenant() };
    for (const other of [colleague, elsewhere]) {
      expect(refusal(await service.exchangeToken(user.username, appOnlyToken(other)))).toBe(noMatch(user.username));
    }
    // An unknown username answers the same.
    const nobody = uniqueName('nobody');
    expect(refusal(await service.exchangeToken(nobody, appOnlyToken(principal)))).toBe(noMatch(nobody));
    expect(await listKeys(user)).toEqual([]);
  });

  it('spends each token once, by its uti: a replay is refused, with any username', async () => {
    const { user, principal } = await publisher();
    const token = appOnlyToken(principal);
    expect((await service.exchangeToken(user.username, token)).status).toBe(200);
    const spent = '401 This bearer token has already been used. A new bearer token must be used for each request.';
    expect(refusal(await service.exchangeToken(user.username, token))).toBe(spent);
    // Another token of the same service principal carrying the spent uti is the same token to the exchange.
    const { uti } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { uti: string };
    expect(refusal(await service.exchangeToken(user.username, appOnlyToken(principal, { claims: { uti } })))).toBe(spent);
    expect((await service.exchangeToken(user.username, appOnlyToken(principal))).status).toBe(200);
  });
});

describe('tokens that are not app-only tokens of a Microsoft Entra tenant for this service', () => {
  const hour = 60 * 60 * 1000;
  const refusals: Array<[string, (p: ServicePrincipal) => string, string]> = [
    ['for another API (Azure Resource Manager)', (p) => appOnlyToken(p, { api: { appIdUri: 'https://management.azure.com', clientId: '797f4846-ba00-4fd7-ba43-dac1f8f63013' } }), 'The JSON web token has an incorrect audience.'],
    ["v2.0, for the API's App ID URI, where v2.0 tokens carry its client ID", (p) => appOnlyToken(p, { version: '2.0', claims: { aud: 'api://another-api' } }), 'The JSON web token has an incorrect audience.'],
    ['from another login host', (p) => appOnlyToken(p, { version: '2.0', claims: { iss: `https://login.example/${p.tenantId}/v2.0` } }), 'The JSON web token was not issued by GitHub Actions, GitLab CI/CD or Microsoft Entra ID: its iss claim is not supported.'],
    ["with another tenant's issuer than its tid", (p) => appOnlyToken(p, { claims: { iss: 'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/' } }), `The JSON web token's iss claim must be https://sts.windows.net/{tid}/, the issuer of the tenant its tid claim names for a v1.0 token.`],
    ['with a v1.0 issuer and ver 2.0', (p) => appOnlyToken(p, { claims: { ver: '2.0' } }), `The JSON web token's iss claim must be {host}/{tid}/v2.0, the issuer of the tenant its tid claim names for a v2.0 token.`],
    ['with a tid that is no tenant ID', (p) => appOnlyToken(p, { claims: { tid: 'contoso.onmicrosoft.com' } }), 'The JSON web token must have a tid claim that is a tenant ID (a GUID).'],
    ['with another version', (p) => appOnlyToken(p, { claims: { ver: '3.0' } }), 'The JSON web token must have a ver claim with a value of 1.0 or 2.0.'],
    ['expired', (p) => appOnlyToken(p, { issuedAt: new Date(Date.now() - 2 * hour) }), 'The JSON web token has expired.'],
    ['not yet valid', (p) => appOnlyToken(p, { claims: { nbf: Math.floor(Date.now() / 1000) + 600 } }), 'The JSON web token is not yet valid.'],
    ['issued in the future', (p) => appOnlyToken(p, { issuedAt: new Date(Date.now() + 10 * 60 * 1000) }), 'The JSON web token is not yet valid.'],
    ['without uti', (p) => appOnlyToken(p, { claims: { uti: undefined } }), 'The JSON web token must have a uti claim.'],
    ['without oid', (p) => appOnlyToken(p, { claims: { oid: undefined } }), "The JSON web token is missing the required claim 'oid'."],
    ['whose sub is not its oid', (p) => appOnlyToken(p, { claims: { sub: '/eid1/c/pub/t/MiSI_7AJe0O9IsoTwAN97Q/a/rISbSSETf0KqFyZ8ppdXmA/sc/0ca3ddd9' } }), 'The JSON web token sub claim must match the oid claim.'],
    ['without appid', (p) => appOnlyToken(p, { claims: { appid: undefined } }), "The JSON web token must have an appid claim: the application's client ID."],
    [
      'v1.0, of an application signed in with a client secret',
      (p) => appOnlyToken(p, { credential: 'secret' }),
      'The JSON web token must have an appidacr claim with a value of 2: the application must sign in with a federated credential, a managed identity or a certificate, never a client secret.',
    ],
    [
      'v2.0, of an application signed in with a client secret',
      (p) => appOnlyToken(p, { version: '2.0', credential: 'secret' }),
      'The JSON web token must have an azpacr claim with a value of 2: the application must sign in with a federated credential, a managed identity or a certificate, never a client secret.',
    ],
    ['a forged signature under the right kid', (p) => appOnlyToken(p, { signWith: 'foreign' }), 'The JSON web token has an invalid signature.'],
    ['HS256 with the public key as secret', (p) => appOnlyToken(p, { algorithm: 'HS256' }), 'The JSON web token must be signed with RS256.'],
    ['unsigned', (p) => appOnlyToken(p, { algorithm: 'none' }), 'The JSON web token must be signed with RS256.'],
  ];

  it.each(refusals)('%s: 401, the same for a known and an unknown username', async (_label, tokenFor, sentence) => {
    const { user, principal } = await publisher();
    const expected = sentence.replace('{tid}', principal.tenantId).replace('{host}', process.env.MICROSOFT_LOGIN_HOST!);
    await service.expectTokenRefusedForAnyone(user.username, () => tokenFor(principal), expected);
    expect(await listKeys(user)).toEqual([]);
  });

  describe("a person's token where an app's is required", () => {
    it('a delegated access token a person signed in to an app got for the gallery API: refused', async () => {
      const { user, principal } = await publisher();
      // A person of the same tenant whose object ID is the one the policy names cannot be; even so, refused.
      const person = { tid: principal.tenantId, oid: principal.objectId, email: 'grace@contoso.example' };
      const delegated = service.identity.mintAccessToken(person, { audience: GALLERY_API.appIdUri });
      // Even one claiming to be app-only: a token with delegated permissions (scp) is a person's.
      const claimingApp = service.identity.mintAccessToken({ ...person, idtyp: 'app', sub: principal.objectId, appidacr: '2' }, { audience: GALLERY_API.appIdUri });
      for (const token of [delegated, claimingApp]) {
        expect(refusal(await service.exchangeToken(user.username, token))).toBe(
          '401 The JSON web token was issued to a person signed in to an application (a delegated token): only an app-only access token (idtyp app) of the service principal itself is accepted.',
        );
      }
      const asUser = appOnlyToken(principal, { claims: { idtyp: 'user' } });
      expect(refusal(await service.exchangeToken(user.username, asUser))).toMatch(/^401 The JSON web token was issued to a person signed in to an application/);
    });

    it('an ID token, as a gallery API registration that also signs people in would get: refused', async () => {
      const { user, principal } = await publisher();
      const idToken = service.identity.mint({ email: 'grace@contoso.example', tid: principal.tenantId, oid: principal.objectId, aud: GALLERY_API.clientId });
      expect(refusal(await service.exchangeToken(user.username, idToken))).toBe(
        '401 The JSON web token must have an idtyp claim with a value of app: an app-only access token, from a gallery API registration that emits the idtyp optional claim.',
      );
    });

    it('an app-only token without idtyp (the API registration does not ask for it): refused, saying so', async () => {
      const { user, principal } = await publisher();
      expect(refusal(await service.exchangeToken(user.username, appOnlyToken(principal, { claims: { idtyp: undefined } })))).toMatch(
        /^401 The JSON web token must have an idtyp claim with a value of app/,
      );
    });
  });

  it("a forged token of a tenant Microsoft does not know: refused after one look at that tenant's key set", async () => {
    const { user } = await publisher();
    // Never issued a token, so the platform answers for its key set as for no tenant (400 AADSTS90002).
    const unknown = servicePrincipalFor(randomUUID(), randomUUID());
    const before = service.identity.jwksRequests;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect(refusal(await service.exchangeToken(user.username, appOnlyToken(unknown, { signWith: 'foreign' })))).toBe('401 The JSON web token has an invalid signature.');
    }
    expect(service.identity.jwksRequests - before).toBe(1);
  });

  it("refuses all that the token shows before its tenant's keys are fetched", async () => {
    const principal = service.identity.servicePrincipal();
    const { user } = await publisher(principal);
    const before = service.identity.jwksRequests;
    for (const [, tokenFor] of refusals.filter(([label]) => !/forged|expired|future|not yet/.test(label))) {
      await service.exchangeToken(user.username, tokenFor(principal));
    }
    await service.exchangeToken(user.username, service.identity.mintAccessToken({ tid: principal.tenantId, email: 'grace@contoso.example' }, { audience: GALLERY_API.appIdUri }));
    expect(service.identity.jwksRequests).toBe(before);
  });
});

describe('an instance where TRUSTED_PUBLISHING_ENTRA_AUDIENCE is unset', () => {
  it('has the provider off: new policies are refused naming provider, tokens as of no known issuer; existing policies stay listed', async () => {
    const { user, principal } = await publisher();
    // This instance read its settings already; one started now reads them without the audience.
    const saved = process.env.TRUSTED_PUBLISHING_ENTRA_AUDIENCE;
    delete process.env.TRUSTED_PUBLISHING_ENTRA_AUDIENCE;
    const off = await service.startSecondInstance();
    try {
      const created = await off.call('POST', '/api/me/trusted-publishers', {
        token: user.sessionToken,
        body: { owner: user.username, provider: 'entra', tenantId: principal.tenantId, objectId: service.identity.servicePrincipal().objectId },
      });
      expect(outcome(created)).toBe('400 invalid_request');
      expect(created.body.detail).toBe("The field 'provider' names Microsoft Entra ID, whose tokens this service is not set up to take.");

      const exchanged = await off.call('POST', '/api/v2/token', {
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${appOnlyToken(principal)}`, 'User-Agent': 'azure-pipelines' },
        rawBody: JSON.stringify({ username: user.username, tokenType: 'ApiKey' }),
      });
      expect(refusal(exchanged)).toBe('401 The JSON web token was not issued by GitHub Actions or GitLab CI/CD: its iss claim is not supported.');

      const listed = await off.call('GET', '/api/me/trusted-publishers', { token: user.sessionToken });
      expect(listed.body).toEqual([expect.objectContaining({ provider: 'entra', criteria: { tenantId: principal.tenantId, objectId: principal.objectId } })]);
    } finally {
      await off.stop();
      process.env.TRUSTED_PUBLISHING_ENTRA_AUDIENCE = saved;
    }
    expect(await listKeys(user)).toEqual([]);
  });
});
