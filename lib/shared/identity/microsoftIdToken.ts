import type { JwtPayload } from 'jsonwebtoken';
import { z } from 'zod';
import { clock, secondsSinceEpoch } from '../clock';
import { jwt } from '../jwt';
import { Problem } from '../problems';
import { PERSONAL_MICROSOFT_ACCOUNT_TENANT, settings } from '../settings';
import { verifyWithSigningKey } from './jwks';
import { decodeUnverified, isRs256WithKid, lifetimeFault, type UnverifiedToken } from './unverifiedToken';

/** What was checked to know the person signed in with a second factor (the account view's `twoFactor`). */
export type TwoFactorCheck = 'verified' | 'tenant_policy';

export interface MicrosoftIdentity {
  tid: string;
  oid: string;
  /** The address the token names, if any; Microsoft does not vouch that it is verified for work accounts. */
  email: string | undefined;
  name: string;
  accountType: 'personal' | 'work';
  twoFactor: TwoFactorCheck;
}

/** What a frontend posts after a Microsoft sign-in: the ID token, and in `verified` mode an access token too. */
export interface MicrosoftSignInTokens {
  idToken: string;
  mfaToken?: string;
}

export const idTokenField = z.string().min(1).max(16 * 1024);
/** The v1.0 access token for MICROSOFT_MFA_API_AUDIENCE that shows a work account's multifactor sign-in. */
export const mfaTokenField = z.string().min(1).max(16 * 1024);

/** A sign-in or registration must follow the Microsoft sign-in closely; an older token is a replay. */
const MAX_ID_TOKEN_AGE_SECONDS = 10 * 60;
const CLOCK_SKEW_SECONDS = 60;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The `acr` a personal Microsoft account's ID token carries when the person passed two-step verification, asked
 * for with `acr_values=urn:microsoft:policies:mfa` (as NuGetGallery's AzureActiveDirectoryV2Authenticator does).
 * v2.0 ID tokens never carry `amr`, and a work account's never carries `acr`:
 * https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
 */
const PERSONAL_ACCOUNT_MFA_ACR = 'urn:microsoft:policies:mfa';

const invalid = (detail: string) => new Problem('invalid_id_token', detail);

const microsoftUnavailable = () =>
  new Problem('identity_provider_unavailable', 'Microsoft sign-in cannot be checked right now. Try again in a few minutes.', { 'Retry-After': '30' });

/**
 * Verifies an RS256 token against the key its `kid` names in the key set at `keysUrl`. Everything the token
 * shows is checked first (`algorithm`, issuer, audience, lifetime, then `checkClaims`), so a forged token naming
 * any tenant is refused without fetching that tenant's keys; then the signature, and all of it again.
 */
async function verifySignedToken(
  token: string,
  { header, payload }: UnverifiedToken,
  keysUrl: string,
  expected: { issuer: string; audience: string },
  describe: { what: string; again: string },
  checkClaims: (claims: JwtPayload) => void,
): Promise<JwtPayload> {
  if (!isRs256WithKid(header)) throw invalid(`${describe.what} must be signed with RS256 by the Microsoft identity platform.`);
  const notForUs = () => invalid(`${describe.what} is not valid for this service. ${describe.again}`);
  const expired = () => invalid(`${describe.what} has expired. ${describe.again}`);
  if (payload.iss !== expected.issuer || payload.aud !== expected.audience) throw notForUs();
  const lifetime = lifetimeFault(payload, CLOCK_SKEW_SECONDS);
  if (lifetime) throw lifetime === 'expired' ? expired() : notForUs();
  checkClaims(payload);

  const claims = await verifyWithSigningKey(keysUrl, header.kid, microsoftUnavailable, (key) => {
    try {
      return jwt.verify(token, key, {
        algorithms: ['RS256'],
        ...expected,
        clockTimestamp: secondsSinceEpoch(),
        clockTolerance: CLOCK_SKEW_SECONDS,
      }) as JwtPayload;
    } catch (error) {
      throw error instanceof jwt.TokenExpiredError ? expired() : notForUs();
    }
  });
  if (!claims) throw invalid(`${describe.what} was not signed by a key the Microsoft identity platform publishes.`);
  return claims;
}

/**
 * Checks the tokens of a Microsoft sign-in: a v2.0 ID token (RS256 only, signed by a key the tenant publishes,
 * issued by that tenant for this app, within its lifetime and recent), then two-factor sign-in the way real
 * tokens show it: a personal account's `acr`; a work account's tenant policy, or in `verified` mode the
 * `mfaToken`.
 */
export async function verifyMicrosoftSignIn(tokens: MicrosoftSignInTokens): Promise<MicrosoftIdentity> {
  const decoded = decodeUnverified(tokens.idToken);
  if (!decoded) throw invalid('The ID token is not a signed JWT.');
  const tid = decoded.payload.tid;
  if (typeof tid !== 'string' || !GUID.test(tid)) throw invalid('The ID token names no valid tenant.');

  const { MICROSOFT_LOGIN_HOST: loginHost, MICROSOFT_CLIENT_ID: clientId } = settings();
  const claims = await verifySignedToken(
    tokens.idToken,
    decoded,
    `${loginHost}/${tid}/discovery/v2.0/keys`,
    { issuer: `${loginHost}/${tid}/v2.0`, audience: clientId },
    { what: 'The ID token', again: 'Sign in with Microsoft again.' },
    (unverified) => {
      if (unverified.ver !== '2.0') throw invalid('Only v2.0 ID tokens of the Microsoft identity platform are accepted.');
      const issuedAt = unverified.iat as number; // lifetimeFault found it there
      const now = clock.now().getTime() / 1000;
      if (issuedAt > now + CLOCK_SKEW_SECONDS || now - issuedAt > MAX_ID_TOKEN_AGE_SECONDS) {
        throw invalid('The ID token was not issued within the last 10 minutes. Sign in with Microsoft again.');
      }
      if (typeof unverified.oid !== 'string' || unverified.oid === '') throw invalid('The ID token names no account (oid).');
    },
  );
  const oid = claims.oid as string;
  const accountType = tid === PERSONAL_MICROSOFT_ACCOUNT_TENANT ? 'personal' : 'work';
  const twoFactor =
    accountType === 'personal' ? personalAccountTwoFactor(claims) : await workAccountTwoFactor(tokens.mfaToken, tid, oid);
  return {
    tid,
    oid,
    email: emailOf(claims),
    name: typeof claims.name === 'string' ? claims.name : '',
    accountType,
    twoFactor,
  };
}

function personalAccountTwoFactor(claims: JwtPayload): TwoFactorCheck {
  if (claims.acr === PERSONAL_ACCOUNT_MFA_ACR) return 'verified';
  // The token looks the same whether the person has no two-step verification or the frontend never asked
  // Microsoft for it (acr_values), so the detail gives the person's way out and names the frontend's.
  throw new Problem(
    'mfa_required',
    'Your Microsoft account must use two-step verification. Turn it on in the security settings of your Microsoft account (https://account.microsoft.com/security), then sign in again. If it is on already, the sign-in page did not ask Microsoft to check it (acr_values): contact support.',
  );
}

/**
 * A work account's ID token never shows how the person signed in. In `tenant` mode the tenant's own sign-in
 * policy governs, as on NuGet.org. In `verified` mode a v1.0 access token for MICROSOFT_MFA_API_AUDIENCE, the
 * one token type that carries `amr` (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference),
 * must come from the same sign-in and show `mfa`.
 */
async function workAccountTwoFactor(mfaToken: string | undefined, tid: string, oid: string): Promise<TwoFactorCheck> {
  const { WORK_ACCOUNT_MFA: mode, MICROSOFT_MFA_API_AUDIENCE: audience, MICROSOFT_LOGIN_HOST: loginHost, MICROSOFT_CLIENT_ID: clientId } =
    settings();
  if (mode === 'tenant') return 'tenant_policy';
  const mfaRequired = new Problem(
    'mfa_required',
    'Your work account must sign in with multifactor authentication. Sign in again and complete the second step; if your organization does not offer one, ask its administrator to turn it on.',
  );
  if (!mfaToken) throw mfaRequired;
  const decoded = decodeUnverified(mfaToken);
  if (!decoded) throw invalid('The MFA token is not a signed JWT.');
  const again = 'Sign in with Microsoft again.';
  // v1.0 tokens are signed with the keys of the v1.0 key set, and issued by the tenant's sts.windows.net issuer.
  const claims = await verifySignedToken(
    mfaToken,
    decoded,
    `${loginHost}/${tid}/discovery/keys`,
    { issuer: `https://sts.windows.net/${tid}/`, audience: audience! },
    { what: 'The MFA token', again },
    (unverified) => {
      if (unverified.ver !== '1.0') throw invalid(`The MFA token must be a v1.0 access token. ${again}`);
      if (unverified.appid !== clientId) throw invalid(`The MFA token was issued to another application. ${again}`);
      if (unverified.tid !== tid || unverified.oid !== oid) throw invalid(`The MFA token belongs to another account than the ID token. ${again}`);
    },
  );
  if (!(Array.isArray(claims.amr) && claims.amr.includes('mfa'))) throw mfaRequired;
  return 'verified';
}

function emailOf(claims: JwtPayload): string | undefined {
  for (const candidate of [claims.email, claims.preferred_username]) {
    if (typeof candidate === 'string' && /^[^@\s]+@[^@\s]+$/.test(candidate)) return candidate;
  }
  return undefined;
}
