/**
 * The development identity's documents at Microsoft's paths: what MSAL and the service read before any sign-in.
 * (Its sign-in itself, through oidc-provider, runs in a real browser in developmentConsole.test.ts.)
 */
import * as crypto from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import { createDevelopmentIdentity } from '../local/identity/developmentIdentity';
import { PERSONAL_ACCOUNT_TENANT } from './standins/identity';
import { listenOnLoopback, type LoopbackServer } from '../local/standins/listen';

const WORK_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const identity = createDevelopmentIdentity({ clientId: 'local-development' });
let server: LoopbackServer;
let scripts: LoopbackServer;

beforeAll(async () => {
  server = await listenOnLoopback(identity.handle);
  scripts = await listenOnLoopback(identity.mintForScripts);
  identity.setLoginHost(server.url);
});
afterAll(async () => {
  await server.close();
  await scripts.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });

describe('discovery documents', () => {
  it.each([
    ['common', '{tenantid}'],
    ['organizations', '{tenantid}'],
    ['consumers', PERSONAL_ACCOUNT_TENANT],
    [WORK_TENANT, WORK_TENANT],
    [WORK_TENANT.toUpperCase(), WORK_TENANT],
  ])('for %s name the endpoints under that tenant and the issuer %s', async (tenant, issuerTenant) => {
    const response = await get(`/${tenant}/v2.0/.well-known/openid-configuration`, { Origin: 'http://localhost:3000' });
    expect(response.status).toBe(200);
    // Readable from any page, as Microsoft's are.
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await response.json()).toMatchObject({
      issuer: `${server.url}/${issuerTenant}/v2.0`,
      authorization_endpoint: `${server.url}/${tenant}/oauth2/v2.0/authorize`,
      token_endpoint: `${server.url}/${tenant}/oauth2/v2.0/token`,
      end_session_endpoint: `${server.url}/${tenant}/oauth2/v2.0/logout`,
      jwks_uri: `${server.url}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      id_token_signing_alg_values_supported: ['RS256'],
      subject_types_supported: ['pairwise'],
    });
  });

  it('exist for tenants only', async () => {
    for (const path of ['/contoso/v2.0/.well-known/openid-configuration', '/common/.well-known/openid-configuration', '/']) {
      expect((await get(path)).status).toBe(404);
    }
  });
});

describe('key sets', () => {
  it('are the same at the v2.0 and the v1.0 path, and verify the tokens it mints', async () => {
    const v2 = (await (await get(`/${WORK_TENANT}/discovery/v2.0/keys`)).json()) as { keys: crypto.JsonWebKey[] };
    const v1 = await (await get(`/${WORK_TENANT}/discovery/keys`)).json();
    expect(v1).toEqual(v2);
    const { idToken } = (await (await fetch(scripts.url, { method: 'POST', body: JSON.stringify({ email: 'ada@outlook.example' }) })).json()) as {
      idToken: string;
    };
    const key = crypto.createPublicKey({ key: v2.keys[0], format: 'jwk' });
    expect(
      jwt.verify(idToken, key, { algorithms: ['RS256'], issuer: `${server.url}/${PERSONAL_ACCOUNT_TENANT}/v2.0`, audience: 'local-development' }),
    ).toMatchObject({ email: 'ada@outlook.example' });
  });

  it('answer a preflight from any origin', async () => {
    const response = await fetch(`${server.url}/common/discovery/v2.0/keys`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'GET' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });
});
