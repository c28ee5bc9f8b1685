/**
 * The development stand-in for GitHub Actions' OIDC issuer behind `npm start`, so a developer can try trusted
 * publishing without GitHub: it serves GitHub's discovery document and key set at GitHub's paths
 * (`/.well-known/openid-configuration`, `/.well-known/jwks`) on a loopback origin of its own, and gives
 * scripts the token a workflow run would get, minted by ./oidcTokens (the code the tests' stand-in uses too)
 * with exactly the claims GitHub's carry.
 *
 * A workflow step asks GitHub's runtime for its token (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=...`, which
 * answers `{ value }`); here a script asks `POST /dev/github-actions/token` with the run it stands for:
 *   { repository: "owner/name", workflowFile: "release.yml", environment?, ref?, eventName?, audience? }
 * and gets `{ value }` too. The same repository name always has the same ids, as on GitHub.
 */
import type * as http from 'node:http';
import { asyncListener, isOptionalText, isRecord, parseJson, readBody, sendJson } from '../standins/http';
import { stableId } from '../standins/stableIds';
import {
  gitHubKeySet,
  newGitHubSigningKey,
  serveIssuerDocuments,
  signWorkflowToken,
  workflowRunClaims,
  type GitHubRepository,
  type WorkflowRunDescription,
} from './oidcTokens';

export interface DevelopmentGitHubIssuer {
  /** Serves GitHub's documents at the root of its own origin. */
  handle: http.RequestListener;
  /** The URL it is served under: the issuer. Call before serving. */
  setIssuer(url: string): void;
  /** `POST { repository, workflowFile, environment?, ref?, eventName?, audience? }`: `{ value }`, a workflow run's token. */
  mintForScripts: http.RequestListener;
}

const SCRIPT_REQUEST_SHAPE =
  'POST a JSON object { "repository": "owner/name", "workflowFile": "release.yml" } with, optionally, "environment", "ref" (refs/heads/main), ' +
  '"eventName" (push) and "audience" (TRUSTED_PUBLISHING_AUDIENCE).';

function runOf(body: unknown): (WorkflowRunDescription & { audience?: string }) | undefined {
  if (!isRecord(body)) return undefined;
  const { repository, workflowFile, environment, ref, eventName, audience } = body;
  const names = typeof repository === 'string' ? /^([\w.-]+)\/([\w.-]+)$/.exec(repository) : null;
  if (!names || typeof workflowFile !== 'string' || !/^[\w.-]+\.ya?ml$/i.test(workflowFile)) return undefined;
  if (![environment, ref, eventName, audience].every(isOptionalText)) return undefined;
  const [, owner, name] = names;
  const repo: GitHubRepository = { owner, name, id: stableId('repository', `${owner}/${name}`), ownerId: stableId('owner', owner), visibility: 'public' };
  return {
    repository: repo,
    workflowFile,
    ...(environment !== undefined ? { environment: environment as string } : {}),
    ...(ref !== undefined ? { ref: ref as string } : {}),
    ...(eventName !== undefined ? { eventName: eventName as string } : {}),
    ...(audience !== undefined ? { audience: audience as string } : {}),
  };
}

export function createDevelopmentGitHubIssuer(options: { audience: string }): DevelopmentGitHubIssuer {
  const signingKey = newGitHubSigningKey();
  let issuer = '';

  return {
    handle: (req, res) => {
      if (!serveIssuerDocuments(req, res, issuer, () => gitHubKeySet([signingKey]))) sendJson(res, 404, { message: 'Not Found' });
    },
    setIssuer(url: string) {
      issuer = url.replace(/\/+$/, '');
    },
    mintForScripts: asyncListener(async (req, res) => {
      const run = req.method === 'POST' ? runOf(parseJson(await readBody(req))) : undefined;
      if (!run) {
        sendJson(res, 400, { error: SCRIPT_REQUEST_SHAPE });
        return;
      }
      const claims = workflowRunClaims(run, { issuer, audience: run.audience ?? options.audience, issuedAt: Math.floor(Date.now() / 1000) });
      sendJson(res, 200, { value: signWorkflowToken(claims, signingKey) });
    }),
  };
}
