import type { JwtPayload } from 'jsonwebtoken';
import { z } from 'zod';
import { PERSONAL_MICROSOFT_ACCOUNT_TENANT, settings } from '../../shared/settings';
import type { TrustedPublishingProvider } from './provider';

/**
 * Microsoft Entra ID: the app-only access token a service principal gets for the gallery API, as an Azure
 * Pipelines job does through a workload identity federation service connection
 * (`az account get-access-token --resource <App ID URI>`), or any Azure workload with a managed identity. Checked
 * as NuGet.org checks its Entra ID tokens (NuGetGallery's EntraIdTokenPolicyValidator: `tid`, `oid`, `sub` the
 * same as `oid`, `idtyp` app, the client's credential type 2, spent by its `uti`), for v1.0 and v2.0 tokens
 * (the API registration's `requestedAccessTokenVersion` decides which it gets):
 * https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference.
 * - Issuer: `https://sts.windows.net/{tid}/` (v1.0) or `{MICROSOFT_LOGIN_HOST}/{tid}/v2.0` (v2.0), the tenant's own,
 *   whose keys are at `{MICROSOFT_LOGIN_HOST}/{tid}/discovery/keys` and `.../discovery/v2.0/keys`
 *   (https://learn.microsoft.com/entra/identity-platform/access-tokens: v1.0 tokens are checked against the v1.0
 *   metadata). `tid` must be a GUID, and the issuer the one of that tenant for the token's `ver`, before any key
 *   is fetched: the key set URL is made from it.
 * - Audience: one of TRUSTED_PUBLISHING_ENTRA_AUDIENCE, the API's App ID URI (v1.0) and client ID (v2.0).
 * - Never a person's token: `idtyp` must be `app`, the optional claim Microsoft emits "only in app-only access
 *   tokens" and calls "the most accurate way for an API to determine if a token is an app token or an app+user
 *   token" (https://learn.microsoft.com/entra/identity-platform/optional-claims-reference), and a token with `scp`
 *   (delegated permissions, "only included for user tokens") is refused whatever it says. An ID token has neither.
 * - The application proved itself with a certificate or a client assertion (`appidacr`/`azpacr` 2: a federated
 *   credential, as Azure Pipelines' and managed identities' are), never a client secret (1), a stored secret
 *   being what trusted publishing does away with.
 * A policy names the tenant and the service principal's object ID, both immutable and never reused: nothing to
 * pin, and nothing lapses.
 */

/** What the token's `ver` says, and how the rest of it then reads. */
const VERSIONS = {
  '1.0': { issuer: (_host: string, tid: string) => `https://sts.windows.net/${tid}/`, keys: 'discovery/keys', client: 'appid', clientAuthentication: 'appidacr' },
  '2.0': { issuer: (host: string, tid: string) => `${host}/${tid}/v2.0`, keys: 'discovery/v2.0/keys', client: 'azp', clientAuthentication: 'azpacr' },
} as const;
type Version = keyof typeof VERSIONS;

/** A GUID in either case, spelled out so OpenAPI shows the same pattern the service checks. */
const GUID_PATTERN = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const GUID = new RegExp(`^${GUID_PATTERN}$`);
const NIL_GUID = '00000000-0000-0000-0000-000000000000';

const isVersion = (value: unknown): value is Version => value === '1.0' || value === '2.0';
const isGuid = (value: unknown): value is string => typeof value === 'string' && GUID.test(value);

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const V1_ISSUER = new RegExp(`^https://sts\\.windows\\.net/${GUID_PATTERN}/$`);
const v2Issuer = (host: string) => new RegExp(`^${escapeRegExp(host)}/${GUID_PATTERN}/v2\\.0$`);

/** A GUID as Microsoft's portal and CLI show them; stored in lower case, as tokens carry them. */
const guidField = (what: string, example: string) =>
  z
    .string()
    .regex(GUID, `must be ${what}, a GUID such as ${example}`)
    .toLowerCase()
    .refine((value) => value !== NIL_GUID, `must be ${what}, not the empty GUID`);

const criteria = z
  .object({
    tenantId: guidField("the directory (tenant) ID of the service principal's Microsoft Entra tenant", '72f988bf-86f1-41af-91ab-2d7cd011db47')
      .refine((value) => value !== PERSONAL_MICROSOFT_ACCOUNT_TENANT, "must be a Microsoft Entra tenant: personal Microsoft accounts' has no service principals")
      .meta({ examples: ['72f988bf-86f1-41af-91ab-2d7cd011db47'] })
      .describe("The Microsoft Entra tenant of the service principal (the token's tid)"),
    objectId: guidField("the service principal's object ID (not its application's client ID)", '4b2f3c1d-5e6f-4a7b-8c9d-0e1f2a3b4c5d')
      .meta({ examples: ['4b2f3c1d-5e6f-4a7b-8c9d-0e1f2a3b4c5d'] })
      .describe(
        "The object ID of the service principal (an app registration's Enterprise application, or a managed identity's principal ID) that signs in: the token's oid",
      ),
  })
  .strict();

export type EntraCriteria = z.output<typeof criteria>;

/** What an app-only token says about the workload that got it. */
export interface WorkloadSignIn {
  tenantId: string;
  /** The service principal's object ID (`oid`). */
  objectId: string;
  /** Its application (client) ID: `appid` (v1.0) or `azp` (v2.0). */
  applicationId: string;
  /** A managed identity's Azure resource ID (`xms_mirid`): which identity, by subscription, group and name. */
  managedIdentity: string | undefined;
  version: Version;
  /** The token's `uti`, which Microsoft Entra's sign-in logs show as its unique token identifier. */
  tokenId: string;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * Why the claims are no app-only token of a Microsoft Entra tenant for this service, in NuGet.org's words where
 * it has them; undefined when they are one. Only claims: the signature is checked after, with the key set made
 * from `tid`, so that is checked here first.
 */
function refusal(claims: JwtPayload): string | undefined {
  const { ver, tid, iss, oid, sub, idtyp } = claims;
  if (!isVersion(ver)) return 'The JSON web token must have a ver claim with a value of 1.0 or 2.0.';
  if (!isGuid(tid)) return 'The JSON web token must have a tid claim that is a tenant ID (a GUID).';
  const issuer = VERSIONS[ver].issuer(settings().MICROSOFT_LOGIN_HOST, tid);
  if (iss !== issuer) return `The JSON web token's iss claim must be ${issuer}, the issuer of the tenant its tid claim names for a v${ver} token.`;
  if (claims.scp !== undefined || idtyp === 'user') {
    return 'The JSON web token was issued to a person signed in to an application (a delegated token): only an app-only access token (idtyp app) of the service principal itself is accepted.';
  }
  if (idtyp !== 'app') {
    return "The JSON web token must have an idtyp claim with a value of app: an app-only access token, from a gallery API registration that emits the idtyp optional claim.";
  }
  if (!isGuid(oid)) return 'The JSON web token must have an oid claim that is an object ID (a GUID).';
  if (sub !== oid) return 'The JSON web token sub claim must match the oid claim.';
  const { client, clientAuthentication } = VERSIONS[ver];
  if (!isGuid(claims[client])) return `The JSON web token must have an ${client} claim: the application's client ID.`;
  if (claims[clientAuthentication] !== '2') {
    return `The JSON web token must have an ${clientAuthentication} claim with a value of 2: the application must sign in with a federated credential, a managed identity or a certificate, never a client secret.`;
  }
  return undefined;
}

const servicePrincipalOf = (c: EntraCriteria) => `the Microsoft Entra service principal ${c.objectId} of the tenant ${c.tenantId}`;

/** A managed identity's name: the last segment of its resource ID. */
const nameOf = (resourceId: string) => resourceId.slice(resourceId.lastIndexOf('/') + 1);

export const entra: TrustedPublishingProvider<EntraCriteria, WorkloadSignIn> = {
  name: 'entra',
  title: 'Microsoft Entra ID',
  enabled: () => (settings().TRUSTED_PUBLISHING_ENTRA_AUDIENCE?.length ?? 0) > 0,
  token: {
    acceptsIssuer: (issuer) => V1_ISSUER.test(issuer) || v2Issuer(settings().MICROSOFT_LOGIN_HOST).test(issuer),
    audiences: () => settings().TRUSTED_PUBLISHING_ENTRA_AUDIENCE ?? [],
    tokenIdClaim: 'uti',
    requiredClaims: ['tid', 'oid', 'sub'],
    refusal,
    keySetUrl: async (claims) => `${settings().MICROSOFT_LOGIN_HOST}/${text(claims.tid).toLowerCase()}/${VERSIONS[claims.ver as Version].keys}`,
  },
  runOf(claims: JwtPayload) {
    const version = claims.ver as Version; // refusal found it one
    return {
      tenantId: text(claims.tid).toLowerCase(),
      objectId: text(claims.oid).toLowerCase(),
      applicationId: text(claims[VERSIONS[version].client]).toLowerCase(),
      managedIdentity: typeof claims.xms_mirid === 'string' && claims.xms_mirid !== '' ? claims.xms_mirid : undefined,
      version,
      tokenId: text(claims.uti),
    };
  },

  criteria,
  trusts: (c, run) => run.tenantId === c.tenantId && run.objectId === c.objectId,
  lapses: false,
  runRecord: (_c, run) => ({
    summary: `${run.managedIdentity ? `managed identity ${nameOf(run.managedIdentity)}` : `application ${run.applicationId}`}, service principal ${run.objectId}, tenant ${run.tenantId}`,
    logged: { tenantId: run.tenantId, objectId: run.objectId, applicationId: run.applicationId, ...(run.managedIdentity ? { managedIdentity: run.managedIdentity } : {}) },
    facts: {
      tenantId: run.tenantId,
      objectId: run.objectId,
      applicationId: run.applicationId,
      managedIdentity: run.managedIdentity ?? null,
      tokenVersion: run.version,
      tokenId: run.tokenId,
    },
  }),
  describe: (c) => ({
    short: `Microsoft Entra service principal ${c.objectId}`,
    runs: `jobs signed in as ${servicePrincipalOf(c)} (an Azure Pipelines service connection, a managed identity or an application)`,
    aRun: `a job signed in as ${servicePrincipalOf(c)}`,
    publisher: 'service principal',
  }),
  logged: (c) => ({ tenantId: c.tenantId, objectId: c.objectId }),
};
