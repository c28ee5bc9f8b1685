import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import * as jwt from 'jsonwebtoken';
import {
  gitHubKeySet,
  newGitHubSigningKey,
  serveIssuerDocuments,
  signWorkflowToken,
  workflowRunClaims,
  type GitHubRepository,
  type GitHubSigningKey,
  type WorkflowRunDescription,
} from '../../local/githubActions/oidcTokens';
import { sendJson } from '../../local/standins/http';
import { testKeyPair } from './keyPairs';

export type { GitHubRepository };

export interface WorkflowTokenOptions {
  /** Default: the stand-in's audience (the service's TRUSTED_PUBLISHING_AUDIENCE). */
  audience?: string;
  /** Default: now. */
  issuedAt?: Date;
  /** Claims to replace or add; one given as `undefined` is left out. */
  claims?: Record<string, unknown>;
  /** Header parameters to replace. */
  header?: Record<string, unknown>;
  /** 'foreign' signs with a key absent from the key set but under the current kid, as a forger would. */
  signWith?: 'current' | 'foreign';
  /**
   * For hostile tests. 'HS256' uses the public key's PEM as the HMAC secret (the classic algorithm-confusion
   * attack); 'none' leaves the token unsigned; 'RS512' signs with the right key but another RSA algorithm.
   */
  algorithm?: 'RS256' | 'RS512' | 'HS256' | 'none';
}

export interface GitHubActionsStandIn {
  handle: http.RequestListener;
  /** The issuer (GITHUB_OIDC_ISSUER): the base URL the stand-in is served under. Call before minting. */
  setIssuer(url: string): void;
  readonly issuer: string;
  /**
   * A repository on this GitHub: the same ids every time for the same name, until `recreate` makes it anew
   * under the same name (a new id, as GitHub gives a repository deleted and made again).
   */
  repository(fullName: string, visibility?: GitHubRepository['visibility']): GitHubRepository;
  recreate(fullName: string): GitHubRepository;
  /** The token GitHub Actions gives `run`, shaped and signed as GitHub's are, with the options' changes. */
  mint(run: WorkflowRunDescription, options?: WorkflowTokenOptions): string;
  /** Replaces the signing key with one under a new kid; the key set then lists only the new key. */
  rotateKeys(): void;
  /** While down, the key set answers 503. */
  setOutage(down: boolean): void;
  readonly jwksRequests: number;
}

const numericId = () => String(crypto.randomInt(1_000_000, 2_000_000_000));

/** Loopback double of GitHub Actions' OIDC issuer for the tests: its documents, and tokens minted on demand. */
export function createGitHubActionsStandIn(defaults: { audience: string }): GitHubActionsStandIn {
  let current = newGitHubSigningKey(testKeyPair());
  const foreign = newGitHubSigningKey(testKeyPair());
  let issuer: string | undefined;
  let down = false;
  let jwksRequests = 0;
  const owners = new Map<string, string>();
  const repositories = new Map<string, GitHubRepository>();

  function make(fullName: string, visibility: GitHubRepository['visibility'] = 'public'): GitHubRepository {
    const [owner, name] = fullName.split('/');
    const ownerId = owners.get(owner.toLowerCase()) ?? numericId();
    owners.set(owner.toLowerCase(), ownerId);
    const repository = { owner, name, id: numericId(), ownerId, visibility };
    repositories.set(fullName.toLowerCase(), repository);
    return repository;
  }

  function sign(claims: Record<string, unknown>, options: WorkflowTokenOptions): string {
    const key: GitHubSigningKey = options.signWith === 'foreign' ? { ...foreign, kid: current.kid, x5t: current.x5t } : current;
    const header = { typ: 'JWT', alg: 'RS256', x5t: key.x5t, kid: key.kid, ...options.header };
    switch (options.algorithm ?? 'RS256') {
      case 'RS256':
        return options.header ? jwt.sign(claims, key.privateKey, { algorithm: 'RS256', header: header as jwt.JwtHeader }) : signWorkflowToken(claims, key);
      case 'RS512':
        return jwt.sign(claims, key.privateKey, { algorithm: 'RS512', header: { ...header, alg: 'RS512' } as jwt.JwtHeader });
      case 'HS256': {
        const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
        return jwt.sign(claims, crypto.createSecretKey(Buffer.from(publicPem)), { algorithm: 'HS256', header: { ...header, alg: 'HS256' } as jwt.JwtHeader });
      }
      case 'none':
        // jsonwebtoken refuses to produce unsigned tokens, so assemble one by hand.
        return `${base64UrlJson({ ...header, alg: 'none' })}.${base64UrlJson(claims)}.`;
    }
  }

  return {
    handle: (req, res) => {
      const served = serveIssuerDocuments(req, res, issuer ?? '', () => {
        jwksRequests += 1;
        return down ? 'unavailable' : gitHubKeySet([current]);
      });
      if (!served) sendJson(res, 404, { message: 'Not Found' });
    },
    setIssuer(url: string) {
      issuer = url.replace(/\/+$/, '');
    },
    get issuer() {
      if (issuer === undefined) throw new Error('Call setIssuer(url) first.');
      return issuer;
    },
    repository: (fullName, visibility) => repositories.get(fullName.toLowerCase()) ?? make(fullName, visibility),
    recreate: (fullName) => make(fullName, repositories.get(fullName.toLowerCase())?.visibility),
    mint(run, options = {}) {
      if (issuer === undefined) throw new Error('Call setIssuer(url) before minting tokens.');
      const issuedAt = Math.floor((options.issuedAt ?? new Date()).getTime() / 1000);
      const claims = { ...workflowRunClaims(run, { issuer, audience: options.audience ?? defaults.audience, issuedAt }), ...options.claims };
      for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
      return sign(claims, options);
    },
    rotateKeys() {
      current = newGitHubSigningKey(testKeyPair());
    },
    setOutage(isDown: boolean) {
      down = isDown;
    },
    get jwksRequests() {
      return jwksRequests;
    },
  };
}

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
