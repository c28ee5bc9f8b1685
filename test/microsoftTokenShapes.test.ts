/**
 * Every token our stand-ins mint has the shape of Microsoft's documented tokens (test/support/microsoftShapes.ts):
 * the tests' identity stand-in, and the development identity behind `npm start` (its shortcut for scripts here;
 * its browser sign-in in developmentConsole.test.ts). They share the code that shapes the claims
 * (local/identity/microsoftTokens.ts), so holding both here keeps them from drifting apart or back.
 */
import { createDevelopmentIdentity, type DevelopmentIdentity } from '../local/identity/developmentIdentity';
import { createIdentityStandIn } from './standins/identity';
import { listenOnLoopback, type LoopbackServer } from '../local/standins/listen';
import { decodeClaims, expectPersonalIdToken, expectV1AccessToken, expectWorkIdToken } from './support/microsoftShapes';

const CLIENT_ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const MFA_API = 'api://gallery-mfa';
const WORK_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const LOGIN_HOST = 'https://login.example';

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
  let expected: { loginHost: string; clientId: string };

  beforeAll(async () => {
    identity = createDevelopmentIdentity({ clientId: CLIENT_ID, mfaApiAudience: MFA_API });
    server = await listenOnLoopback(identity.mintForScripts);
    identity.setLoginHost(server.url);
    expected = { loginHost: server.url, clientId: CLIENT_ID };
  });
  afterAll(() => server.close());

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

  it.each([{ email: 42 }, { email: 'not-an-address' }, { email: 'a@b.example', accountType: 'school' }, { email: 'a@b.example', tid: 'x' }, []])(
    'refuse the request %j',
    async (body) => {
      expect((await mint(body)).status).toBe(400);
    },
  );
});
