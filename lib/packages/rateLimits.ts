import type { EmailingLimits } from '../shared/rateLimits';

const HOUR = 60 * 60;

/**
 * Owner invitations, limited per inviting account and per account or organization invited, whichever packages
 * and owners invite it (an invitation sent again counts): by the day for the invitee, so that inviting an
 * organization to co-own each of 50 packages goes through at once while no mailbox gets more than that a day.
 */
export const PACKAGE_EMAIL_LIMITS = {
  ownerInvitation: {
    perCaller: { name: 'owner-invitation:account', max: 50, windowSeconds: HOUR },
    perRecipient: { name: 'owner-invitation:invitee', max: 50, windowSeconds: 24 * HOUR },
  },
} as const satisfies Record<string, EmailingLimits>;
