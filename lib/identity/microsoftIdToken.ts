import jwt, { type JwtPayload } from 'jsonwebtoken';
import { clock, secondsSinceEpoch } from '../clock';
import { Problem } from '../http/problems';
import { PERSONAL_MICROSOFT_ACCOUNT_TENANT, settings } from '../settings';
import { signingKey } from './jwks';

export interface MicrosoftIdentity {
  tid: string;
  oid: string;
  /** The address the token names, if any; Microsoft does not vouch that it is verified for work accounts. */
  email: string | undefined;
  name: string;
  accountType: 'personal' | 'work';
}

/** A sign-in or registration must follow the Microsoft sign-in closely; an older token is a replay. */
const MAX_ID_TOKEN_AGE_SECONDS = 10 * 60;
const CLOCK_SKEW_SECONDS = 60;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const invalid = (detail: string) => new Problem('invalid_id_token', detail);

const MFA_CLAIM = 'http://schemas.microsoft.com/claims/authnclassreference';

function showsTwoFactor(claims: JwtPayload): boolean {
  const amr = claims.amr;
  return (Array.isArray(amr) && amr.includes('mfa')) || claims[MFA_CLAIM] === 'urn:microsoft:policies:mfa';
}

/**
 * Checks an ID token from the Microsoft identity platform: RS256 only, signed by a key the tenant publishes,
 * issued by that tenant for this app, within its lifetime, recent, and showing two-factor sign-in.
 */
export async function verifyMicrosoftIdToken(idToken: string): Promise<MicrosoftIdentity> {
  const decoded = jwt.decode(idToken, { complete: true });
  if (!decoded || typeof decoded.payload !== 'object') throw invalid('The ID token is not a signed JWT.');
  const { header, payload } = decoded;
  const tid = payload.tid;
  if (header.alg !== 'RS256' || typeof header.kid !== 'string') {
    throw invalid('The ID token must be signed with RS256 by the Microsoft identity platform.');
  }
  if (typeof tid !== 'string' || !GUID.test(tid)) throw invalid('The ID token names no valid tenant.');

  const { MICROSOFT_LOGIN_HOST: loginHost, MICROSOFT_CLIENT_ID: clientId } = settings();
  const key = await signingKey(`${loginHost}/${tid}/discovery/v2.0/keys`, header.kid);
  if (!key) throw invalid('The ID token was not signed by a key the Microsoft identity platform publishes.');

  let claims: JwtPayload;
  try {
    claims = jwt.verify(idToken, key, {
      algorithms: ['RS256'],
      issuer: `${loginHost}/${tid}/v2.0`,
      audience: clientId,
      clockTimestamp: secondsSinceEpoch(),
      clockTolerance: CLOCK_SKEW_SECONDS,
    }) as JwtPayload;
  } catch (error) {
    throw invalid(
      error instanceof jwt.TokenExpiredError
        ? 'The ID token has expired. Sign in with Microsoft again.'
        : 'The ID token is not valid for this service. Sign in with Microsoft again.',
    );
  }
  const issuedAt = claims.iat;
  const now = clock.now().getTime() / 1000;
  if (typeof issuedAt !== 'number' || issuedAt > now + CLOCK_SKEW_SECONDS || now - issuedAt > MAX_ID_TOKEN_AGE_SECONDS) {
    throw invalid('The ID token was not issued within the last 10 minutes. Sign in with Microsoft again.');
  }
  if (typeof claims.oid !== 'string' || claims.oid === '') throw invalid('The ID token names no account (oid).');
  if (!showsTwoFactor(claims)) {
    throw new Problem(
      'mfa_required',
      'Your Microsoft account must use two-factor authentication. Turn it on in your Microsoft account security settings, then sign in again.',
    );
  }
  return {
    tid,
    oid: claims.oid,
    email: emailOf(claims),
    name: typeof claims.name === 'string' ? claims.name : '',
    accountType: tid === PERSONAL_MICROSOFT_ACCOUNT_TENANT ? 'personal' : 'work',
  };
}

function emailOf(claims: JwtPayload): string | undefined {
  for (const candidate of [claims.email, claims.preferred_username]) {
    if (typeof candidate === 'string' && /^[^@\s]+@[^@\s]+$/.test(candidate)) return candidate;
  }
  return undefined;
}
