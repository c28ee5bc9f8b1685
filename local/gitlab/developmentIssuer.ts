/**
 * The development stand-in for a GitLab instance's ID token issuer behind `npm start`, so a developer can try
 * trusted publishing from GitLab CI/CD without GitLab: it serves GitLab's discovery document and key set at
 * GitLab's paths (`/.well-known/openid-configuration`, `/oauth/discovery/keys`) on a loopback origin of its own,
 * and gives scripts the token a pipeline job would get, minted by ./oidcTokens (the code the tests' stand-in uses
 * too) with exactly the claims GitLab's carry.
 *
 * A job declares `id_tokens: { NUGET_OIDC_TOKEN: { aud } }` and finds the token in that variable; here a script
 * asks `POST /dev/gitlab/token` with the job it stands for:
 *   { project: "group/subgroup/project", ciConfigPath?, environment?, ref?, refType?, pipelineSource?, audience? }
 * and gets what the variable would hold: the token itself, as text. The same path always has the same ids, as on
 * GitLab.
 */
import type { DevelopmentIssuer } from '../standins/developmentIssuer';
import { asyncListener, isOptionalText, isRecord, parseJson, readBody, sendJson } from '../standins/http';
import { stableId } from '../standins/stableIds';
import { discoveryDocument, gitLabKeySet, newGitLabSigningKey, pipelineJobClaims, serveIssuerDocuments, signJobToken, type PipelineJobDescription } from './oidcTokens';

const SCRIPT_REQUEST_SHAPE =
  'POST a JSON object { "project": "group/project" } (the project\'s full path, subgroups included) with, optionally, "ciConfigPath" (.gitlab-ci.yml), ' +
  '"environment", "ref" (main), "refType" ("branch" or "tag"), "pipelineSource" (push) and "audience" (TRUSTED_PUBLISHING_AUDIENCE).';

function jobOf(body: unknown): (PipelineJobDescription & { audience?: string }) | undefined {
  if (!isRecord(body)) return undefined;
  const { project, ciConfigPath, environment, ref, refType, pipelineSource, audience } = body;
  const path = typeof project === 'string' ? /^((?:[\w.-]+\/)*[\w.-]+)\/([\w.-]+)$/.exec(project) : null;
  if (!path || ![ciConfigPath, environment, ref, pipelineSource, audience].every(isOptionalText)) return undefined;
  if (refType !== undefined && refType !== 'branch' && refType !== 'tag') return undefined;
  const [, namespace, name] = path;
  return {
    project: { namespace, namespaceId: stableId('namespace', namespace), path: name, id: stableId('project', `${namespace}/${name}`), visibility: 'public' },
    ...(ciConfigPath !== undefined ? { ciConfigPath: ciConfigPath as string } : {}),
    ...(environment !== undefined ? { environment: environment as string } : {}),
    ...(ref !== undefined ? { ref: ref as string } : {}),
    ...(refType !== undefined ? { refType } : {}),
    ...(pipelineSource !== undefined ? { pipelineSource: pipelineSource as string } : {}),
    ...(audience !== undefined ? { audience: audience as string } : {}),
  };
}

export function createDevelopmentGitLabIssuer(options: { audience: string }): DevelopmentIssuer {
  const signingKey = newGitLabSigningKey();
  let issuer = '';

  return {
    handle: (req, res) => {
      const served = serveIssuerDocuments(req, res, { discovery: () => discoveryDocument(issuer), keys: () => gitLabKeySet([signingKey]) });
      if (!served) sendJson(res, 404, { message: '404 Not Found' });
    },
    setIssuer(url: string) {
      issuer = url.replace(/\/+$/, '');
    },
    mintForScripts: asyncListener(async (req, res) => {
      const job = req.method === 'POST' ? jobOf(parseJson(await readBody(req))) : undefined;
      if (!job) {
        sendJson(res, 400, { error: SCRIPT_REQUEST_SHAPE });
        return;
      }
      const claims = pipelineJobClaims(job, { issuer, audience: job.audience ?? options.audience, issuedAt: Math.floor(Date.now() / 1000) });
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(signJobToken(claims, signingKey));
    }),
  };
}
