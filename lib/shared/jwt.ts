import type * as JsonWebToken from 'jsonwebtoken';

let loaded: typeof JsonWebToken | undefined;
const jsonwebtoken = () => (loaded ??= require('jsonwebtoken') as typeof JsonWebToken);

/** The function `name` of jsonwebtoken, with its overloads, loading the library when first called. */
const lazy = <Name extends 'sign' | 'verify' | 'decode'>(name: Name) =>
  ((...args: unknown[]) => (jsonwebtoken()[name] as (...a: unknown[]) => unknown)(...args)) as unknown as (typeof JsonWebToken)[Name];

/**
 * `jsonwebtoken`, loaded on its first use rather than with the function app: most of a cold start's load is
 * library code, and a request that checks no token (the health probe, a preflight) never needs it.
 */
export const jwt = {
  sign: lazy('sign'),
  verify: lazy('verify'),
  decode: lazy('decode'),
  get TokenExpiredError(): typeof JsonWebToken.TokenExpiredError {
    return jsonwebtoken().TokenExpiredError;
  },
};
