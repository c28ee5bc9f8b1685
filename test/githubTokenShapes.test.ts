/**
 * Every token our GitHub Actions stand-ins mint has the shape of GitHub's documented tokens
 * (test/support/githubShapes.ts): the tests' stand-in and the development issuer behind `npm start`. They
 * share the code that shapes the claims (local/githubActions/oidcTokens.ts), so holding both here keeps them
 * from drifting apart, or away from GitHub.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import { createDevelopmentGitHubIssuer } from '../local/githubActions/developmentIssuer';
import { listenOnLoopback, type LoopbackServer } from '../local/standins/listen';
import { useDevelopmentIssuer } from './support/developmentIssuers';
import { createGitHubActionsStandIn } from './standins/githubActions';
import { decodeClaims, decodeHeader, expectIssuerDocuments, expectWorkflowToken } from './support/githubShapes';

const AUDIENCE = 'https://gallery.example';

const getJson = async (url: string) => (await fetch(url)).json() as Promise<Record<string, unknown>>;

/** Verifies `token` with the key its kid names in the issuer's published key set, as a relying party would. */
async function verifyAgainstIssuer(token: string, issuer: string): Promise<void> {
  const { keys } = (await getJson(`${issuer}/.well-known/jwks`)) as { keys: Array<JsonWebKey & { kid: string }> };
  const jwk = keys.find((key) => key.kid === decodeHeader(token).kid);
  expect(jwk).toBeDefined();
  expect(() => jwt.verify(token, createPublicKey({ key: jwk!, format: 'jwk' }), { algorithms: ['RS256'], issuer, audience: AUDIENCE })).not.toThrow();
}

describe("the tests' GitHub Actions stand-in", () => {
  const github = createGitHubActionsStandIn({ audience: AUDIENCE });
  let server: LoopbackServer;

  beforeAll(async () => {
    server = await listenOnLoopback(github.handle);
    github.setIssuer(server.url);
  });
  afterAll(() => server.close());

  it('publishes the discovery document and key set at GitHub\'s paths', async () => {
    expectIssuerDocuments(await getJson(`${server.url}/.well-known/openid-configuration`), (await getJson(`${server.url}/.well-known/jwks`)) as never, server.url);
  });

  it('mints the token of a run on a branch, signed by a published key', async () => {
    const repository = github.repository('octo-org/octo-repo');
    const token = github.mint({ repository, workflowFile: 'release.yml' });
    expectWorkflowToken(token, { issuer: server.url, audience: AUDIENCE, repository: 'octo-org/octo-repo', workflowFile: 'release.yml' });
    await verifyAgainstIssuer(token, server.url);
  });

  it('mints the token of a job in a deployment environment, and of a tag', () => {
    const repository = github.repository('octo-org/octo-repo');
    const token = github.mint({ repository, workflowFile: 'publish.yaml', environment: 'release', ref: 'refs/tags/v1.2.0', eventName: 'release' });
    expectWorkflowToken(token, { issuer: server.url, audience: AUDIENCE, repository: 'octo-org/octo-repo', workflowFile: 'publish.yaml', environment: 'release' });
    expect(decodeClaims(token)).toMatchObject({ ref_type: 'tag', event_name: 'release' });
  });

  it("keeps a repository's ids, and gives one made again under the same name a new id", () => {
    const first = github.repository('octo-org/kept');
    expect(github.repository('Octo-Org/Kept')).toBe(first);
    const again = github.recreate('octo-org/kept');
    expect(again.id).not.toBe(first.id);
    expect(again.ownerId).toBe(first.ownerId);
    expect(decodeClaims(github.mint({ repository: again, workflowFile: 'release.yml' })).repository_id).toBe(again.id);
  });
});

describe("the development issuer's tokens for scripts", () => {
  const served = useDevelopmentIssuer(createDevelopmentGitHubIssuer({ audience: AUDIENCE }));

  const mint = async (body: unknown) => {
    const response = await fetch(served.scripts, { method: 'POST', body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { value: string; error?: string } };
  };

  it('are workflow run tokens as GitHub gives them (as `{ value }`, like its token request URL), signed by a published key', async () => {
    expectIssuerDocuments(await getJson(`${served.issuer}/.well-known/openid-configuration`), (await getJson(`${served.issuer}/.well-known/jwks`)) as never, served.issuer);
    const plain = await mint({ repository: 'contoso/contoso-sdk', workflowFile: 'release.yml' });
    expect(plain.status).toBe(200);
    expectWorkflowToken(plain.body.value, { issuer: served.issuer, audience: AUDIENCE, repository: 'contoso/contoso-sdk', workflowFile: 'release.yml' });
    await verifyAgainstIssuer(plain.body.value, served.issuer);

    const inEnvironment = await mint({ repository: 'contoso/contoso-sdk', workflowFile: 'release.yml', environment: 'nuget', audience: 'api://other' });
    expectWorkflowToken(inEnvironment.body.value, { issuer: served.issuer, audience: 'api://other', repository: 'contoso/contoso-sdk', workflowFile: 'release.yml', environment: 'nuget' });
  });

  it('name the same repository with the same ids every time', async () => {
    const first = decodeClaims((await mint({ repository: 'contoso/contoso-sdk', workflowFile: 'release.yml' })).body.value);
    const again = decodeClaims((await mint({ repository: 'Contoso/Contoso-SDK', workflowFile: 'ci.yml' })).body.value);
    expect([again.repository_id, again.repository_owner_id]).toEqual([first.repository_id, first.repository_owner_id]);
  });

  it.each([{}, { repository: 'contoso', workflowFile: 'release.yml' }, { repository: 'contoso/sdk', workflowFile: '.github/workflows/release.yml' }, { repository: 'contoso/sdk', workflowFile: 'release.yml', environment: 5 }, []])(
    'refuse the request %j, saying what to send',
    async (body) => {
      const response = await mint(body);
      expect(response.status).toBe(400);
      expect(response.body.error).toMatch(/"repository": "owner\/name"/);
    },
  );
});
