import type { EmailingLimits } from '../shared/rateLimits';

const HOUR = 60 * 60;

/**
 * The accounts domain's calls that send a confirmation link to an address the caller names, each limited per
 * caller and per address (`enforceEmailingLimits`): someone who mistypes an address and tries again stays far
 * below them, while links aimed at another person's mailbox stop within the hour. Recovery's limits are in
 * ./recovery/rateLimits.ts.
 */
export const ACCOUNT_EMAIL_LIMITS = {
  /** Per Microsoft account signing up (each can hold one account, so only retries count) and per address. */
  registration: {
    perCaller: { name: 'registration:microsoft-account', max: 20, windowSeconds: HOUR },
    perRecipient: { name: 'registration:address', max: 10, windowSeconds: HOUR },
  },
  /** `POST /api/me/email`: per account, and per new address however many accounts ask to change to it. */
  emailChange: {
    perCaller: { name: 'email-change:account', max: 10, windowSeconds: HOUR },
    perRecipient: { name: 'email-change:address', max: 5, windowSeconds: HOUR },
  },
  resendConfirmation: {
    perCaller: { name: 'resend-confirmation:account', max: 5, windowSeconds: HOUR },
    perRecipient: { name: 'resend-confirmation:address', max: 5, windowSeconds: HOUR },
  },
} as const satisfies Record<string, EmailingLimits>;
