import type { JwtHeader, JwtPayload } from 'jsonwebtoken';
import { secondsSinceEpoch } from '../clock';
import { jwt } from '../jwt';

/**
 * A token as it reads before its signature is checked. Nothing here is to be believed; it is read so that a
 * token that could never pass is refused before the issuer's keys are fetched for it (jwks.ts): every check
 * made here is made again by `jwt.verify` once the signature holds.
 */
export interface UnverifiedToken {
  header: JwtHeader;
  payload: JwtPayload;
}

/** The header and claims of a token; undefined for what is no JWT with a claims object. */
export function decodeUnverified(token: string): UnverifiedToken | undefined {
  const decoded = jwt.decode(token, { complete: true });
  return decoded && typeof decoded.payload === 'object' && decoded.payload !== null
    ? { header: decoded.header, payload: decoded.payload }
    : undefined;
}

/** Signed as every issuer here signs: RS256, naming its key. */
export const isRs256WithKid = (header: JwtHeader): header is JwtHeader & { kid: string } =>
  header.alg === 'RS256' && typeof header.kid === 'string' && header.kid !== '';

export type LifetimeFault = 'no_expiry' | 'expired' | 'not_yet_valid';

/**
 * What is wrong with the token's lifetime, as `jwt.verify` would judge it with the same tolerance, except that
 * `exp` and `iat` are required (every issuer here sets both, and a token without `exp` would never end).
 */
export function lifetimeFault(payload: JwtPayload, toleranceSeconds: number): LifetimeFault | undefined {
  const now = secondsSinceEpoch();
  if (typeof payload.exp !== 'number') return 'no_expiry';
  if (now >= payload.exp + toleranceSeconds) return 'expired';
  if (typeof payload.iat !== 'number' || payload.iat > now + toleranceSeconds) return 'not_yet_valid';
  if (payload.nbf !== undefined && !(typeof payload.nbf === 'number' && payload.nbf <= now + toleranceSeconds)) return 'not_yet_valid';
  return undefined;
}
