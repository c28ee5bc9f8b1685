/**
 * Every token our GitLab stand-ins mint has the shape of GitLab's documented ID tokens
 * (test/support/gitlabShapes.ts, which holds GitLab's sample payload): the tests' stand-in and the development
 * issuer behind `npm start`. They share the code that shapes the claims (local/gitlab/oidcTokens.ts), so holding
 * both here keeps them from drifting apart, or away from GitLab.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import { createDevelopmentGitLabIssuer } from '../local/gitlab/developmentIssuer';
import { listenOnLoopback, type LoopbackServer } from '../local/standins/listen';
import { useDevelopmentIssuer } from './support/developmentIssuers';
import { createGitLabStandIn } from './standins/gitlab';
import { decodeClaims, decodeHeader, expectIssuerDocuments, expectJobToken } from './support/gitlabShapes';

const AUDIENCE = 'https://gallery.example';

const getJson = async (url: string) => (await fetch(url)).json() as Promise<Record<string, unknown>>;

/** The issuer's documents, found as a relying party finds them: by OpenID discovery. */
async function documentsOf(issuer: string) {
  const discovery = await getJson(`${issuer}/.well-known/openid-configuration`);
  const keySet = (await getJson(discovery.jwks_uri as string)) as { keys: Array<JsonWebKey & { kid: string }> };
  return { discovery, keySet };
}

/** Verifies `token` with the key its kid names in the issuer's published key set, as a relying party would. */
async function verifyAgainstIssuer(token: string, issuer: string): Promise<void> {
  const { keys } = (await documentsOf(issuer)).keySet;
  const jwk = keys.find((key) => key.kid === decodeHeader(token).kid);
  expect(jwk).toBeDefined();
  expect(() => jwt.verify(token, createPublicKey({ key: jwk!, format: 'jwk' }), { algorithms: ['RS256'], issuer, audience: AUDIENCE })).not.toThrow();
}

describe("the tests' GitLab stand-in", () => {
  const gitlab = createGitLabStandIn({ audience: AUDIENCE });
  let server: LoopbackServer;

  beforeAll(async () => {
    server = await listenOnLoopback(gitlab.handle);
    gitlab.setIssuer(server.url);
  });
  afterAll(() => server.close());

  it("publishes the discovery document and key set at GitLab's paths", async () => {
    const { discovery, keySet } = await documentsOf(server.url);
    expectIssuerDocuments(discovery, keySet as never, server.url);
  });

  it('mints the token of a job on a branch, signed by a published key', async () => {
    const project = gitlab.project('my-group/my-project');
    const token = gitlab.mint({ project });
    expectJobToken(token, { issuer: server.url, audience: AUDIENCE, project: 'my-group/my-project' });
    await verifyAgainstIssuer(token, server.url);
  });

  it('mints the token of a job of a subgroup project that deploys to an environment, on a tag, from a configuration in a subfolder', () => {
    const project = gitlab.project('contoso/platform/sdk-team/contoso-sdk', 'private');
    const token = gitlab.mint({ project, ciConfigPath: 'ci/release.yml', environment: 'production', ref: 'v1.2.0', refType: 'tag', pipelineSource: 'web' });
    expectJobToken(token, { issuer: server.url, audience: AUDIENCE, project: 'contoso/platform/sdk-team/contoso-sdk', ciConfigPath: 'ci/release.yml', environment: 'production' });
    expect(decodeClaims(token)).toMatchObject({
      namespace_path: 'contoso/platform/sdk-team',
      ref_type: 'tag',
      ref_path: 'refs/tags/v1.2.0',
      deployment_tier: 'production',
      pipeline_source: 'web',
      project_visibility: 'private',
    });
  });

  it('names no configuration file for a pipeline whose configuration is in another project, or at a URL', () => {
    const project = gitlab.project('my-group/my-project');
    for (const ciConfigPath of ['ci/release.yml@platform/ci-templates', 'https://example.com/ci/release.yml']) {
      expectJobToken(gitlab.mint({ project, ciConfigPath }), { issuer: server.url, audience: AUDIENCE, project: 'my-group/my-project', ciConfigPath: null });
    }
  });

  it("keeps a project's ids, gives each namespace its own, and gives a project made again under the same path a new id", () => {
    const first = gitlab.project('kept-group/kept');
    expect(gitlab.project('Kept-Group/Kept')).toBe(first);
    const sibling = gitlab.project('kept-group/other');
    const nested = gitlab.project('kept-group/sub/kept');
    expect(sibling.namespaceId).toBe(first.namespaceId);
    expect(nested.namespaceId).not.toBe(first.namespaceId);
    const again = gitlab.recreate('kept-group/kept');
    expect(again.id).not.toBe(first.id);
    expect(again.namespaceId).toBe(first.namespaceId);
    expect(decodeClaims(gitlab.mint({ project: again })).project_id).toBe(again.id);
  });
});

describe("the development issuer's tokens for scripts", () => {
  const served = useDevelopmentIssuer(createDevelopmentGitLabIssuer({ audience: AUDIENCE }));

  const mint = async (body: unknown) => {
    const response = await fetch(served.scripts, { method: 'POST', body: JSON.stringify(body) });
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  };

  it("are pipeline job tokens as GitLab gives them (the job's id_tokens variable, as text), signed by a published key", async () => {
    const { discovery, keySet } = await documentsOf(served.issuer);
    expectIssuerDocuments(discovery, keySet as never, served.issuer);
    const plain = await mint({ project: 'contoso/contoso-sdk' });
    expect([plain.status, plain.type]).toEqual([200, 'text/plain; charset=utf-8']);
    expectJobToken(plain.text, { issuer: served.issuer, audience: AUDIENCE, project: 'contoso/contoso-sdk' });
    await verifyAgainstIssuer(plain.text, served.issuer);

    const deploying = await mint({ project: 'contoso/sdk-team/contoso-sdk', ciConfigPath: 'ci/release.yml', environment: 'nuget', ref: 'v2.0.0', refType: 'tag', audience: 'api://other' });
    expectJobToken(deploying.text, { issuer: served.issuer, audience: 'api://other', project: 'contoso/sdk-team/contoso-sdk', ciConfigPath: 'ci/release.yml', environment: 'nuget' });
  });

  it('name the same project with the same ids every time', async () => {
    const first = decodeClaims((await mint({ project: 'contoso/contoso-sdk' })).text);
    const again = decodeClaims((await mint({ project: 'Contoso/Contoso-SDK', ciConfigPath: 'ci/other.yml' })).text);
    expect([again.project_id, again.namespace_id]).toEqual([first.project_id, first.namespace_id]);
  });

  it.each([{}, { project: 'contoso' }, { project: 'https://gitlab.com/contoso/sdk' }, { project: 'contoso/sdk', environment: 5 }, { project: 'contoso/sdk', refType: 'commit' }, []])(
    'refuse the request %j, saying what to send',
    async (body) => {
      const response = await mint(body);
      expect(response.status).toBe(400);
      expect(JSON.parse(response.text).error).toMatch(/"project": "group\/project"/);
    },
  );
});
