import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import {
  discoveryDocument,
  gitLabKeySet,
  newGitLabSigningKey,
  pipelineJobClaims,
  serveIssuerDocuments,
  signJobToken,
  type GitLabProject,
  type GitLabSigningKey,
  type PipelineJobDescription,
} from '../../local/gitlab/oidcTokens';
import { sendJson } from '../../local/standins/http';
import { testKeyPair } from './keyPairs';

export type { GitLabProject, PipelineJobDescription };

export interface JobTokenOptions {
  /** Default: the stand-in's audience (the service's TRUSTED_PUBLISHING_AUDIENCE). */
  audience?: string;
  /** Default: now. */
  issuedAt?: Date;
  /** Claims to replace or add; one given as `undefined` is left out. */
  claims?: Record<string, unknown>;
  /** 'foreign' signs with a key absent from the key set but under the current kid, as a forger would. */
  signWith?: 'current' | 'foreign';
}

export interface GitLabStandIn {
  handle: http.RequestListener;
  /** The issuer (GITLAB_OIDC_ISSUER): the base URL the stand-in is served under. Call before minting. */
  setIssuer(url: string): void;
  readonly issuer: string;
  /**
   * A project on this GitLab by its full path (`group/subgroup/project`): the same ids every time for the same path
   * (whatever its case, as GitLab finds it), each namespace with an id of its own, until `recreate` makes the
   * project anew under the same path (a new id, as GitLab gives a project deleted and made again).
   */
  project(fullPath: string, visibility?: GitLabProject['visibility']): GitLabProject;
  recreate(fullPath: string): GitLabProject;
  /** The ID token GitLab gives `job`, shaped and signed as GitLab's are, with the options' changes. */
  mint(job: PipelineJobDescription, options?: JobTokenOptions): string;
  /** Replaces the signing key with one under a new kid; the key set then lists only the new key. */
  rotateKeys(): void;
  /** While down, the discovery document and the key set answer 503. */
  setOutage(down: boolean): void;
  readonly discoveryRequests: number;
  readonly jwksRequests: number;
}

const numericId = () => String(crypto.randomInt(1_000_000, 2_000_000_000));

/** Loopback double of a GitLab instance's ID token issuer for the tests: its documents, and tokens minted on demand. */
export function createGitLabStandIn(defaults: { audience: string }): GitLabStandIn {
  let current = newGitLabSigningKey(testKeyPair());
  const foreign = newGitLabSigningKey(testKeyPair());
  let issuer: string | undefined;
  let down = false;
  let discoveryRequests = 0;
  let jwksRequests = 0;
  const namespaces = new Map<string, string>();
  const projects = new Map<string, GitLabProject>();

  function make(fullPath: string, visibility: GitLabProject['visibility'] = 'public'): GitLabProject {
    const at = fullPath.lastIndexOf('/');
    const [namespace, path] = [fullPath.slice(0, at), fullPath.slice(at + 1)];
    const namespaceId = namespaces.get(namespace.toLowerCase()) ?? numericId();
    namespaces.set(namespace.toLowerCase(), namespaceId);
    const project = { namespace, namespaceId, path, id: numericId(), visibility };
    projects.set(fullPath.toLowerCase(), project);
    return project;
  }

  const requireIssuer = () => {
    if (issuer === undefined) throw new Error('Call setIssuer(url) first.');
    return issuer;
  };

  return {
    handle: (req, res) => {
      const served = serveIssuerDocuments(req, res, {
        discovery: () => {
          discoveryRequests += 1;
          return down ? 'unavailable' : discoveryDocument(requireIssuer());
        },
        keys: () => {
          jwksRequests += 1;
          return down ? 'unavailable' : gitLabKeySet([current]);
        },
      });
      if (!served) sendJson(res, 404, { message: '404 Not Found' });
    },
    setIssuer(url: string) {
      issuer = url.replace(/\/+$/, '');
    },
    get issuer() {
      return requireIssuer();
    },
    project: (fullPath, visibility) => projects.get(fullPath.toLowerCase()) ?? make(fullPath, visibility),
    recreate: (fullPath) => make(fullPath, projects.get(fullPath.toLowerCase())?.visibility),
    mint(job, options = {}) {
      const issuedAt = Math.floor((options.issuedAt ?? new Date()).getTime() / 1000);
      const claims = { ...pipelineJobClaims(job, { issuer: requireIssuer(), audience: options.audience ?? defaults.audience, issuedAt }), ...options.claims };
      for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
      const key: GitLabSigningKey = options.signWith === 'foreign' ? { ...foreign, kid: current.kid } : current;
      return signJobToken(claims, key);
    },
    rotateKeys() {
      current = newGitLabSigningKey(testKeyPair());
    },
    setOutage(isDown: boolean) {
      down = isDown;
    },
    get discoveryRequests() {
      return discoveryRequests;
    },
    get jwksRequests() {
      return jwksRequests;
    },
  };
}
