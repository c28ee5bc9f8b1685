import type { EmailingLimits } from '../shared/rateLimits';

const HOUR = 60 * 60;
const DAY = 24 * HOUR;

/**
 * The organizations domain's calls that email an address or account the caller names, each limited per calling
 * account and per recipient (`enforceEmailingLimits`), far above what an admin setting up a team does.
 */
export const ORGANIZATION_EMAIL_LIMITS = {
  /** The organization's address gets a confirmation link. */
  creation: {
    perCaller: { name: 'organization-creation:account', max: 100, windowSeconds: DAY },
    perRecipient: { name: 'organization-creation:address', max: 5, windowSeconds: HOUR },
  },
  /** Per invited account, whichever organizations invite it; an invitation sent again counts. */
  memberInvitation: {
    perCaller: { name: 'member-invitation:account', max: 50, windowSeconds: HOUR },
    perRecipient: { name: 'member-invitation:invitee', max: 10, windowSeconds: HOUR },
  },
  /** The member (and every admin) is told of each new role. */
  roleChange: {
    perCaller: { name: 'member-role-change:account', max: 100, windowSeconds: HOUR },
    perRecipient: { name: 'member-role-change:member', max: 10, windowSeconds: HOUR },
  },
  /** Per account asking, and per admin asked. */
  transformRequest: {
    perCaller: { name: 'transform-request:account', max: 5, windowSeconds: HOUR },
    perRecipient: { name: 'transform-request:admin', max: 5, windowSeconds: HOUR },
  },
} as const satisfies Record<string, EmailingLimits>;
