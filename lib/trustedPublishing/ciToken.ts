import type { JwtPayload } from 'jsonwebtoken';
import { secondsSinceEpoch } from '../shared/clock';
import { verifyWithSigningKey } from '../shared/identity/jwks';
import { decodeUnverified, isRs256WithKid, lifetimeFault, type LifetimeFault } from '../shared/identity/unverifiedToken';
import { jwt } from '../shared/jwt';
import { Problem } from '../shared/problems';
import { enabledProviders, type TrustedPublishingProvider } from './providers';

/**
 * The token a CI job presents to the token exchange, checked as NuGet.org checks a GitHub Actions token
 * (NuGetGallery's FederatedCredentialPolicyEvaluator) but with the algorithm pinned, for whichever provider
 * its `iss` names (providers/): RS256 only, signed by a key of the provider's key set (fetched and cached as
 * Microsoft's are), exactly one `aud` the provider takes, within its lifetime, with the provider's token id
 * (`jti`) and required claims. What is refused here is about the token alone, so the sentences may say what
 * is wrong: they tell nothing about accounts.
 */
export interface VerifiedToken {
  provider: TrustedPublishingProvider;
  /** Spent once (tokenExchange.ts): the issuer and the token's id. */
  issuer: string;
  tokenId: string;
  /** `exp`, in seconds since the epoch. */
  expiresAt: number;
  /** What the provider reads of the job (`runOf`). */
  run: unknown;
}

/** Issuers back-date `nbf`; a minute covers the clocks of this service's instances. */
export const CLOCK_TOLERANCE_SECONDS = 60;

const refused = (detail: string) => new Problem('unauthorized', detail);

const issuerUnavailable = (provider: TrustedPublishingProvider) => () =>
  new Problem('service_unavailable', `The token signing keys of ${provider.title} cannot be fetched right now. Run the job again in a few minutes.`, {
    'Retry-After': '30',
  });

const INVALID_SIGNATURE = 'The JSON web token has an invalid signature.';
const LIFETIME_FAULTS: Record<LifetimeFault, string> = {
  // jsonwebtoken checks exp only where there is one; every provider's tokens carry it, and a token without one would never end.
  no_expiry: 'The JSON web token must have an exp claim.',
  expired: 'The JSON web token has expired.',
  not_yet_valid: 'The JSON web token is not yet valid.',
};

const isIdentifier = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '';

/** The provider whose token this is, by its `iss`, among those the service takes. */
function providerOf(payload: JwtPayload): TrustedPublishingProvider {
  const providers = enabledProviders();
  const provider = typeof payload.iss === 'string' ? providers.find((candidate) => candidate.token.acceptsIssuer(payload.iss as string)) : undefined;
  if (!provider) {
    const titles = providers.map((p) => p.title);
    const issuers = titles.length > 1 ? `${titles.slice(0, -1).join(', ')} or ${titles[titles.length - 1]}` : titles.join('');
    throw refused(`The JSON web token was not issued by ${issuers}: its iss claim is not supported.`);
  }
  return provider;
}

/** Verifies the token a CI job presents: which provider's it is, and what it says about the job. */
export async function verifyCiToken(token: string): Promise<VerifiedToken> {
  const decoded = decodeUnverified(token);
  if (!decoded) throw refused('The bearer token could not be parsed as a JSON web token.');
  const { header, payload } = decoded;
  // All that the token shows is checked before the issuer's keys are looked up, so a forged one never makes the service fetch.
  if (header.alg !== 'RS256') throw refused('The JSON web token must be signed with RS256.');
  if (!isRs256WithKid(header)) throw refused('The JSON web token must name its signing key (kid).');
  const provider = providerOf(payload);
  const { aud, iss: issuer } = payload as JwtPayload & { iss: string };
  if (typeof aud !== 'string') throw refused('The JSON web token must have exactly one aud claim value.');
  if (!provider.token.audiences().includes(aud)) throw refused('The JSON web token has an incorrect audience.');
  const { tokenIdClaim } = provider.token;
  const tokenId = payload[tokenIdClaim];
  if (!isIdentifier(tokenId)) throw refused(`The JSON web token must have a ${tokenIdClaim} claim.`);
  const lifetime = lifetimeFault(payload, CLOCK_TOLERANCE_SECONDS);
  if (lifetime) throw refused(LIFETIME_FAULTS[lifetime]);
  const missing = provider.token.requiredClaims.find((name) => typeof payload[name] !== 'string' || payload[name] === '');
  if (missing) throw refused(`The JSON web token is missing the required claim '${missing}'.`);
  const otherFault = provider.token.refusal?.(payload);
  if (otherFault) throw refused(otherFault);

  const unavailable = issuerUnavailable(provider);
  const keySetUrl = await provider.token.keySetUrl(payload, unavailable);
  const claims = await verifyWithSigningKey(keySetUrl, header.kid, unavailable, (key) => {
    try {
      return jwt.verify(token, key, {
        algorithms: ['RS256'],
        issuer,
        audience: aud,
        clockTimestamp: secondsSinceEpoch(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }) as JwtPayload;
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      throw refused(name === 'TokenExpiredError' ? LIFETIME_FAULTS.expired : name === 'NotBeforeError' ? LIFETIME_FAULTS.not_yet_valid : INVALID_SIGNATURE);
    }
  });
  if (!claims) throw refused(INVALID_SIGNATURE);
  return {
    provider,
    issuer,
    tokenId,
    expiresAt: payload.exp as number, // lifetimeFault found it there
    run: provider.runOf(claims),
  };
}
