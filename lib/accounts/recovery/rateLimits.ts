import type { RateLimit } from '../../shared/rateLimits';

/** Per client address and per target, so neither one source nor many sources can hammer one account. */
export const RATE_LIMITS = {
  forgotPasswordPerClient: { name: 'forgot-password:client', max: 20, windowSeconds: 15 * 60 },
  forgotPasswordPerAddress: { name: 'forgot-password:address', max: 5, windowSeconds: 60 * 60 },
  signInAssistancePerClient: { name: 'sign-in-assistance:client', max: 30, windowSeconds: 15 * 60 },
  signInAssistancePerUser: { name: 'sign-in-assistance:user', max: 10, windowSeconds: 60 * 60 },
  passwordSignInPerClient: { name: 'password-sign-in:client', max: 60, windowSeconds: 15 * 60 },
  passwordSignInPerUser: { name: 'password-sign-in:user', max: 40, windowSeconds: 15 * 60 },
} as const satisfies Record<string, RateLimit>;
