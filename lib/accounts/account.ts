import { z } from 'zod';
import { nowIso } from '../shared/clock';
import type { MicrosoftIdentity, TwoFactorCheck } from '../shared/identity/microsoftIdToken';
import { Problem } from '../shared/problems';
import { readDocument, updateDocument, updateDocumentFrom, type StoredDocument } from '../shared/storage/cosmos';
import type { TokenDocument, TokenRecipient } from '../shared/tokens';
import { normaliseEmail } from './names';

export type OrganizationRole = 'admin' | 'collaborator';

export interface LinkedMicrosoftAccount {
  tid: string;
  oid: string;
  email: string | null;
  name: string;
  accountType: MicrosoftIdentity['accountType'];
  /** How two-factor sign-in was shown at the last sign-in (kept here so GET /api/me stays one point read). */
  twoFactor: TwoFactorCheck;
}

/** The link to record for the Microsoft account a sign-in proved. */
export function linkedMicrosoftAccount(identity: MicrosoftIdentity): LinkedMicrosoftAccount {
  const { tid, oid, email, name, accountType, twoFactor } = identity;
  return { tid, oid, email: email ?? null, name, accountType, twoFactor };
}

export interface AccountDocument extends StoredDocument {
  kind: 'user' | 'organization';
  /** As the person typed it; uniqueness is held by the `username:` claim of its lower-case form. */
  username: string;
  emailAddress: string;
  /** False while the address is unconfirmed, and again once its domain lapsed (`emailDomainLapsed`). */
  emailConfirmed: boolean;
  /**
   * When the address was confirmed (absent on accounts confirmed before it was recorded: the lapse check then
   * takes `createdAt`, the earliest it can have been; see lib/accounts/emailDomains).
   */
  emailConfirmedAt?: string;
  /**
   * Set by the timer checkEmailDomains when RDAP shows the address's domain expired, being deleted, or registered
   * again after the address was confirmed: whoever holds the domain now may read its mail, so the address counts
   * as unconfirmed (`emailConfirmed` is cleared with it) until an address is confirmed again, which clears it.
   */
  emailDomainLapsed?: EmailDomainLapse | null;
  pendingEmailAddress: string | null;
  microsoftAccount: LinkedMicrosoftAccount | null;
  /** argon2id; only for recovering an account that lost its Microsoft account. */
  passwordHash: string | null;
  /** Failed password sign-ins since the last success; every tenth locks the account for longer. */
  failedPasswordAttempts: number;
  lockedUntil: string | null;
  /** Session tokens carry the version they were issued under; raising it ends every older session. */
  sessionVersion: number;
  /**
   * Emailed tokens record it when issued; raised when the email address changes, the password is reset or a
   * Microsoft account is linked, which revokes every reset link sent before (absent: 0).
   */
  securityStamp?: number;
  /** The token of the link that confirms `pendingEmailAddress`: a newer request's link replaces it. */
  pendingEmailTokenId?: string | null;
  /**
   * The token of the link that confirms `emailAddress` while it is unconfirmed: a link sent again replaces
   * it (absent on accounts made before links were recorded: any link to the address confirms it).
   */
  emailConfirmationTokenId?: string;
  /** Denormalised from the memberships so GET /api/me stays one point read. */
  organizations: Array<{ name: string; role: OrganizationRole }>;
  /**
   * Stored before: the ids of the API keys the account held, and of those trusted publishing made with when each
   * expires. An account's keys are items of their own now (lib/packages/heldKeys.ts), so this document does not
   * grow with them; a list still here is moved there before the keys are read, or by the timer `moveApiKeyLists`.
   */
  apiKeyIds?: string[];
  trustedPublishingKeys?: Array<{ id: string; expiresAt: string }>;
  createdAt: string;
  deletion: null | { requestedAt: string; scheduledFor: string };
  /** A user's request to become an organization, waiting for the named admin's answer. */
  pendingTransform?: PendingTransform | null;
  /** Organizations only (see lib/organizations). */
  members?: Member[];
  pendingInvitations?: Invitation[];
  /** How a transformed account became an organization, so an interrupted accept can be finished. */
  transformedFrom?: { tokenId: string; microsoftAccount: LinkedMicrosoftAccount | null };
  /** A deleted account or organization stays as a tombstone: its name is reserved until support releases it. */
  deletedAt?: string | null;
  /** When support released a deleted account's name, so it could be registered again (its claim is gone). */
  usernameReleasedAt?: string;
  /**
   * Set by a site admin: the account cannot sign in, its sessions answer 401 and the API keys it holds or
   * owns are suspended. Here, on the document every session check reads, so the check costs nothing.
   */
  lock?: AccountLock | null;
  /**
   * Organizations only (see lib/organizations/freeze.ts): set by an admin, or a site admin, while the
   * organization stops every key it owns and trusted publishing for it, as a lock does to keys.
   */
  frozen?: OrganizationFreeze | null;
  /** Which emails the account wants beyond those about its own security (absent: every one; see lib/accounts/notices.ts). */
  notifications?: Partial<NotificationSettings>;
}

/** Why an address's domain no longer vouches for it: expired, being deleted, or registered again since the address was confirmed. */
export type LapseReason = 'expired' | 'pending_delete' | 'reregistered';

export interface EmailDomainLapse {
  domain: string;
  reason: LapseReason;
  /** The RDAP event that shows it: the expiration, or the registration that came after the confirmation. */
  eventDate: string | null;
  /** When RDAP said so. */
  detectedAt: string;
}

export interface NotificationSettings {
  /** Every notice that is not about the account's own security or a request it must answer. */
  emailAllowed: boolean;
  /** A notice for each version pushed of a package it owns (or an organization it administers owns). */
  notifyPackagePushed: boolean;
}

/** The account's settings, each `true` unless it turned it off (an account stored before they existed has none). */
export const notificationsOf = (account: Pick<AccountDocument, 'notifications'>): NotificationSettings => ({
  emailAllowed: account.notifications?.emailAllowed ?? true,
  notifyPackagePushed: account.notifications?.notifyPackagePushed ?? true,
});

export interface AccountLock {
  lockedAt: string;
  /** The site admin's username. */
  lockedBy: string;
  reason: string;
}

/** A sign-in (of any kind) by an account support has locked. */
export const lockedBySupport = () =>
  new Problem(
    'account_locked',
    'This account is locked by support: it cannot sign in, and its API keys do not work. Contact support to find out why and what to do.',
    {},
    403,
  );

export interface OrganizationFreeze {
  at: string;
  /** The username of the admin, or site admin, who froze it. */
  by: string;
  reason: string;
}

export interface Member {
  accountId: string;
  username: string;
  role: OrganizationRole;
}

export interface Invitation extends Member {
  tokenId: string;
  invitedAt: string;
  expiresAt: string;
}

export interface PendingTransform {
  adminAccountId: string;
  adminUsername: string;
  tokenId: string;
  requestedAt: string;
}

/** A new account or organization: unconfirmed, without password, sessions or memberships. */
export function newAccountDocument(
  fields: Pick<AccountDocument, 'id' | 'kind' | 'username' | 'emailAddress' | 'microsoftAccount'>,
): AccountDocument {
  return {
    ...fields,
    emailConfirmed: false,
    pendingEmailAddress: null,
    passwordHash: null,
    failedPasswordAttempts: 0,
    lockedUntil: null,
    sessionVersion: 1,
    organizations: [],
    createdAt: nowIso(),
    deletion: null,
  };
}

export const accountView = z.object({
  id: z.string(),
  username: z.string(),
  kind: z.literal('user'),
  emailAddress: z.string(),
  emailConfirmed: z.boolean(),
  emailDomainLapsed: z
    .boolean()
    .describe(
      "The address's domain expired or was registered again since it was confirmed: it counts as unconfirmed (no recovery email, no notice) until an address is confirmed again",
    ),
  pendingEmailAddress: z.string().nullable(),
  microsoftAccount: z
    .object({
      email: z.string().nullable(),
      accountType: z.enum(['personal', 'work']),
      twoFactor: z
        .enum(['verified', 'tenant_policy'])
        .describe('What showed two-factor sign-in at the last sign-in: a claim (`verified`), or the work tenant\'s own policy (`tenant_policy`)'),
    })
    .nullable(),
  hasPassword: z.boolean(),
  organizations: z.array(z.object({ name: z.string(), role: z.enum(['admin', 'collaborator']) })),
  createdAt: z.string(),
  deletion: z.object({ requestedAt: z.string(), scheduledFor: z.string() }).nullable(),
  notifications: z
    .object({
      emailAllowed: z.boolean().describe('Emails that are not about the account\'s own security or a request it must answer'),
      notifyPackagePushed: z.boolean().describe('An email for each version pushed of a package the account owns'),
    })
    .describe('Which emails the account gets besides those about its own security, which always go'),
});

export type AccountView = z.infer<typeof accountView>;

export const accountWithSession = z.object({ account: accountView, sessionToken: z.string() });

/** What the account's owner may see of it; internal fields (hashes, tenant ids, versions) stay inside. */
export function toAccountView(account: AccountDocument): AccountView {
  return {
    id: account.id,
    username: account.username,
    kind: 'user',
    emailAddress: account.emailAddress,
    emailConfirmed: account.emailConfirmed,
    emailDomainLapsed: Boolean(account.emailDomainLapsed),
    pendingEmailAddress: account.pendingEmailAddress,
    microsoftAccount: account.microsoftAccount
      ? {
          email: account.microsoftAccount.email,
          accountType: account.microsoftAccount.accountType,
          twoFactor: account.microsoftAccount.twoFactor,
        }
      : null,
    hasPassword: account.passwordHash !== null,
    organizations: account.organizations,
    createdAt: account.createdAt,
    deletion: account.deletion,
    notifications: notificationsOf(account),
  };
}

/**
 * Whether the account's address is trusted with anything but its confirmation link: notices, reset links, sign-in
 * assistance, invitations. Only an address the account confirmed, on a domain that has not lapsed since, is:
 * nobody has shown they read an unconfirmed one (a typo, or someone else's address typed in at registration), and
 * whoever registered a lapsed domain reads its mail now, so neither hears anything of the account. The one place
 * that decides it. (A lapse clears `emailConfirmed` too, so every other reader of it sees the address unconfirmed.)
 */
export const hasTrustedAddress = (account: Pick<AccountDocument, 'emailAddress' | 'emailConfirmed' | 'emailDomainLapsed'>): boolean =>
  Boolean(account.emailAddress) && account.emailConfirmed && !account.emailDomainLapsed;

/**
 * Refuses an invitation or request the caller aims at an account or organization whose address may not get it
 * (400 `email_unconfirmed`, as NuGet.org refuses an owner request to an unconfirmed account), saying who must
 * confirm what. Checked before anything is written, sent or counted against the limits.
 */
export function assertTrustedRecipient(account: Pick<AccountDocument, 'kind' | 'username' | 'emailAddress' | 'emailConfirmed' | 'emailDomainLapsed'>): void {
  if (hasTrustedAddress(account)) return;
  const detail =
    account.kind === 'organization'
      ? `The organization '${account.username}' has not confirmed its email address yet, and invitations go only to confirmed addresses. ` +
        "Its admins confirm it with the link emailed to the organization's address; then try again."
      : `'${account.username}' has not confirmed their email address yet, and invitations and requests go only to confirmed addresses. ` +
        'Ask them to confirm it (with the link emailed to them, or a new one from their account); then try again.';
  throw new Problem('email_unconfirmed', detail, {}, 400);
}

/** Whom an emailed token goes to: the account at `emailAddress` (its own by default), under its current stamp. */
export function tokenRecipient(account: AccountDocument, emailAddress = account.emailAddress): TokenRecipient {
  return { accountId: account.id, emailAddress, securityStamp: account.securityStamp ?? 0 };
}

/** Revokes every reset link issued before: for the credential changes the contract names. */
export const withNewSecurityStamp = (account: AccountDocument): AccountDocument => ({
  ...account,
  securityStamp: (account.securityStamp ?? 0) + 1,
});

/**
 * Whether an emailed token still speaks for the account: the address it went to is still the account's own
 * (`address`: or, for the link that confirms a new one, the address the account waits to confirm). Every
 * purpose asks this; an account that changed its address needs a new link or invitation.
 */
export function tokenStillAddressed(token: TokenDocument, account: AccountDocument, address: string | null = account.emailAddress): boolean {
  return token.accountId === account.id && address !== null && normaliseEmail(token.emailAddress) === normaliseEmail(address);
}

/**
 * Whether the email address, password or Microsoft account changed since the token was issued: what revokes a
 * reset link, which hands out a credential without a session. (Invitations and transform requests need the
 * invitee's session anyway, and a confirmation link confirms only the address it went to.)
 */
export const credentialsChangedSince = (token: TokenDocument, account: AccountDocument): boolean =>
  (token.securityStamp ?? 0) !== (account.securityStamp ?? 0);

export const readAccount = (id: string) => readDocument<AccountDocument>('accounts', id);

export const updateAccount = (id: string, change: (account: AccountDocument) => AccountDocument | undefined) =>
  updateDocument<AccountDocument>('accounts', id, change);

/** `updateAccount` starting from the document just read (a session's): a second read only if it changed meanwhile. */
export const updateAccountFrom = (account: AccountDocument, change: (account: AccountDocument) => AccountDocument | undefined) =>
  updateDocumentFrom<AccountDocument>('accounts', account, change);

/**
 * Locks the account (`lock`) or unlocks it (`null`) for support. A lock leaves `sessionVersion` alone, so a
 * locked site admin's session is still recognised (and refused as a site admin); an unlock raises it, so no
 * session from before the lock comes back. Answers the account, and whether this call changed it (a second
 * lock keeps the first one's time, admin and reason).
 */
export async function setAccountLock(id: string, lock: AccountLock | null): Promise<{ account: AccountDocument | undefined; changed: boolean }> {
  let changed = false;
  const account = await updateAccount(id, (current) => {
    changed = Boolean(current.lock) !== Boolean(lock);
    if (!changed) return undefined;
    return lock ? { ...current, lock } : { ...current, lock: null, sessionVersion: current.sessionVersion + 1 };
  });
  return { account, changed };
}
