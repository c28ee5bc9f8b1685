/**
 * Every token our stand-ins mint has the shape of Microsoft's documented tokens (test/support/microsoftShapes.ts):
 * the tests' identity stand-in, and the development identity behind `npm start` (its shortcut for scripts here;
 * its browser sign-in in developmentConsole.test.ts). They share the code that shapes the claims
 * (local/identity/microsoftTokens.ts), so holding both here keeps them from drifting apart or back.
 */
import { servicePrincipalFor } from '../local/identity/appOnlyTokens';
import {
  createDevelopmentIdentity,
  DEVELOPMENT_GALLERY_API,
  DEVELOPMENT_SERVICE_PRINCIPAL,
  DEVELOPMENT_TENANT,
  type DevelopmentIdentity,
} from '../local/identity/developmentIdentity';
import { createIdentityStandIn } from './standins/identity';
import { listenOnLoopback, type LoopbackServer } from '../local/standins/listen';
import { decodeClaims, expectAppOnlyAccessToken, expectPersonalIdToken, expectV1AccessToken, expectWorkIdToken } from './support/microsoftShapes';

const CLIENT_ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const MFA_API = 'api://gallery-mfa';
const WORK_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const LOGIN_HOST = 'https://login.example';
const GALLERY_API = { appIdUri: 'api://5f90c82a-2e0c-4b3f-ba8d-f4f4b4e77c7a', clientId: '5f90c82a-2e0c-4b3f-ba8d-f4f4b4e77c7a' };

describe("the tests' identity stand-in", () => {
  const identity = createIdentityStandIn({ clientId: CLIENT_ID });
  identity.setLoginHost(LOGIN_HOST);
  const expected = { loginHost: LOGIN_HOST, clientId: CLIENT_ID };

  it('mints personal ID tokens, with acr only after two-step verification', () => {
    expectPersonalIdToken(identity.mint({ email: 'ada@outlook.example' }), { ...expected, twoStep: true });
    expectPersonalIdToken(identity.mint({ email: 'ada@outlook.example' }, { mfa: false }), { ...expected, twoStep: false });
  });

  it('mints work ID tokens, never with acr or amr, with email and xms_edov only when there', () => {
    expectWorkIdToken(identity.mint({ email: 'grace@contoso.example', tid: WORK_TENANT }), { ...expected, email: true });
    expectWorkIdToken(identity.mint({ email: 'grace@contoso.example', tid: WORK_TENANT }, { mfa: false }), { ...expected, email: true });
    expectWorkIdToken(identity.mint({ email: undefined, tid: WORK_TENANT }), { ...expected, email: false });
    expectWorkIdToken(identity.mint({ email: 'grace@contoso.example', tid: WORK_TENANT, xms_edov: true }), { ...expected, email: true, emailVerified: true });
  });

  it('mints v1.0 access tokens with amr', () => {
    const claims = { email: 'grace@contoso.example', tid: WORK_TENANT };
    expectV1AccessToken(identity.mintAccessToken(claims, { audience: MFA_API }), { audience: MFA_API, clientId: CLIENT_ID, mfa: true });
    expectV1AccessToken(identity.mintAccessToken(claims, { audience: MFA_API, mfa: false }), { audience: MFA_API, clientId: CLIENT_ID, mfa: false });
  });

  it.each(['1.0', '2.0'] as const)('mints v%s app-only access tokens of service principals and managed identities', (version) => {
    const principal = identity.servicePrincipal();
    expectAppOnlyAccessToken(identity.mintAppOnlyToken(principal, { api: GALLERY_API, version }), { version, api: GALLERY_API, principal, loginHost: LOGIN_HOST });
    const secretUser = identity.servicePrincipal({ tenantId: principal.tenantId });
    expect(secretUser.objectId).not.toBe(principal.objectId);
    expectAppOnlyAccessToken(identity.mintAppOnlyToken(secretUser, { api: GALLERY_API, version, credential: 'secret' }), {
      version,
      api: GALLERY_API,
      principal: secretUser,
      loginHost: LOGIN_HOST,
      credential: 'secret',
    });
    const managed = identity.servicePrincipal({ managedIdentity: 'publisher' });
    expect(managed.managedIdentityResourceId).toMatch(/^\/subscriptions\/[0-9a-f-]{36}\/resourcegroups\/[\w-]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/publisher$/);
    expectAppOnlyAccessToken(identity.mintAppOnlyToken(managed, { api: GALLERY_API, version }), { version, api: GALLERY_API, principal: managed, loginHost: LOGIN_HOST });
  });

  it('names the same person in the ID token and the access token', () => {
    const claims = { email: 'grace@contoso.example', tid: WORK_TENANT };
    const idToken = decodeClaims(identity.mint(claims));
    const accessToken = decodeClaims(identity.mintAccessToken(claims, { audience: MFA_API }));
    expect({ tid: accessToken.tid, oid: accessToken.oid }).toEqual({ tid: idToken.tid, oid: idToken.oid });
    // Subjects are pairwise: per app for the ID token, per API for the access token.
    expect(accessToken.sub).not.toBe(idToken.sub);
  });
});

describe("the development identity's tokens for scripts", () => {
  let identity: DevelopmentIdentity;
  let server: LoopbackServer;
  let workloads: LoopbackServer;
  let expected: { loginHost: string; clientId: string };

  beforeAll(async () => {
    identity = createDevelopmentIdentity({ clientId: CLIENT_ID, mfaApiAudience: MFA_API });
    server = await listenOnLoopback(identity.mintForScripts);
    workloads = await listenOnLoopback(identity.mintWorkloadTokenForScripts);
    identity.setLoginHost(server.url);
    expected = { loginHost: server.url, clientId: CLIENT_ID };
  });
  afterAll(() => Promise.all([server.close(), workloads.close()]));

  async function mint(body: unknown): Promise<{ status: number; idToken: string; mfaToken: string }> {
    const response = await fetch(server.url, { method: 'POST', body: JSON.stringify(body) });
    return { status: response.status, ...((await response.json()) as { idToken: string; mfaToken: string }) };
  }

  it('are personal ID tokens by default, showing two-step verification unless told otherwise', async () => {
    expectPersonalIdToken((await mint({ email: 'ada@outlook.example' })).idToken, { ...expected, twoStep: true });
    expectPersonalIdToken((await mint({ email: 'ada@outlook.example', twoStep: false })).idToken, { ...expected, twoStep: false });
  });

  it('are work ID tokens with a v1.0 access token for the MFA API', async () => {
    const { idToken, mfaToken } = await mint({ email: 'grace@contoso.example', name: 'Grace', accountType: 'work', twoStep: false });
    expectWorkIdToken(idToken, { ...expected, email: true });
    expectV1AccessToken(mfaToken, { audience: MFA_API, clientId: CLIENT_ID, mfa: false });
    expect(decodeClaims(idToken)).toMatchObject({ name: 'Grace', email: 'grace@contoso.example' });
  });

  it('sign the same email in as the same person every time', async () => {
    const first = decodeClaims((await mint({ email: 'grace@contoso.example', accountType: 'work' })).idToken);
    const again = decodeClaims((await mint({ email: 'Grace@Contoso.example', accountType: 'work' })).idToken);
    const colleague = decodeClaims((await mint({ email: 'linus@contoso.example', accountType: 'work' })).idToken);
    expect({ tid: again.tid, oid: again.oid, sub: again.sub }).toEqual({ tid: first.tid, oid: first.oid, sub: first.sub });
    expect(colleague.tid).toBe(first.tid);
    expect(colleague.oid).not.toBe(first.oid);
  });

  async function mintWorkloadToken(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(workloads.url, { method: 'POST', body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it.each(['1.0', '2.0'] as const)('give v%s app-only access tokens for the gallery API, answered as az account get-access-token answers', async (version) => {
    const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    const objectId = '9246576b-c9b6-441d-a0ca-796721fd971e';
    const { status, body } = await mintWorkloadToken({ tenantId, objectId, version });
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['accessToken', 'expires_on', 'tenant', 'tokenType']);
    expect(body).toMatchObject({ tokenType: 'Bearer', tenant: tenantId, expires_on: decodeClaims(body.accessToken as string).exp });
    expectAppOnlyAccessToken(body.accessToken as string, { version, api: DEVELOPMENT_GALLERY_API, principal: servicePrincipalFor(tenantId, objectId), loginHost: server.url });
  });

  it("give v1.0 tokens of the development tenant's service principal unless told otherwise, the same application every time", async () => {
    const first = decodeClaims((await mintWorkloadToken({})).body.accessToken as string);
    const again = decodeClaims((await mintWorkloadToken({})).body.accessToken as string);
    expect(first).toMatchObject({ ver: '1.0', tid: DEVELOPMENT_TENANT, oid: DEVELOPMENT_SERVICE_PRINCIPAL, appid: again.appid });
    expect(first.uti).not.toBe(again.uti);
  });

  it.each([{ tenantId: 'contoso' }, { objectId: 42 }, { version: '3.0' }, { version: 2 }, { tenantId: DEVELOPMENT_TENANT, scope: 'x' }, []])(
    'refuse the workload token request %j',
    async (body) => {
      expect((await mintWorkloadToken(body)).status).toBe(400);
    },
  );

  it.each([{ email: 42 }, { email: 'not-an-address' }, { email: 'a@b.example', accountType: 'school' }, { email: 'a@b.example', tid: 'x' }, []])(
    'refuse the request %j',
    async (body) => {
      expect((await mint(body)).status).toBe(400);
    },
  );
});
