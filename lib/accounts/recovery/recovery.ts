import { z } from 'zod';
import { recordAudit } from '../../shared/audit';
import { clock, nowIso } from '../../shared/clock';
import { passwordSetNotice, resetPasswordMessage, signInAssistanceMessage } from '../../shared/email/messages';
import { deliverSoon, queueEmail } from '../../shared/email/outbox';
import type { EmailMessage } from '../../shared/email/sender';
import { Problem } from '../../shared/problems';
import { assertAcceptablePassword, hashPassword, MAX_PASSWORD_LENGTH, verifyPassword } from './passwords';
import { enforceRateLimit } from '../../shared/rateLimits';
import { RATE_LIMITS } from './rateLimits';
import { issueSessionToken } from '../sessions';
import { withMinimumDuration } from './timing';
import { findToken, issueToken, spendToken, tokenField, type TokenDocument } from '../../shared/tokens';
import {
  accountView,
  hasTrustedAddress,
  lockedBySupport,
  readAccount,
  toAccountView,
  tokenRecipient,
  credentialsChangedSince,
  tokenStillAddressed,
  updateAccount,
  withNewSecurityStamp,
  type AccountDocument,
} from '../account';
import { accountHolding } from '../claims';
import { announced, noticeTo } from '../notices';
import { maskEmailAddress } from '../masking';
import { emailAddressField, normaliseEmail, normaliseName, usernameField } from '../names';
import type { Log } from '../../shared/log';

const RESET_LINK_LIFETIME_MS = 60 * 60 * 1000;
/** Longer than the work of the slowest path, so a known and an unknown address answer alike. */
const ENUMERATION_SAFE_DURATION_MS = 300;

const passwordField = z.string().max(MAX_PASSWORD_LENGTH);

export const forgotPasswordBody = z.object({ emailAddress: emailAddressField }).strict();
export const resetPasswordBody = z.object({ token: tokenField, newPassword: passwordField }).strict();
export const passwordSignInBody = z.object({ username: usernameField, password: passwordField }).strict();
export const signInAssistanceBody = z.object({ username: usernameField, emailAddress: emailAddressField.optional() }).strict();

export const recoverySession = z.object({
  status: z.literal('password_login_discontinued'),
  sessionToken: z.string(),
  account: accountView,
});

/** The same answer whether or not an account uses the address. */
export const FORGOT_PASSWORD_ANSWER = {
  message: 'If an account uses this email address, we sent it a link to reset the password. The link works for one hour.',
};

export const SIGN_IN_ASSISTANCE_ANSWER = {
  message: 'If this is the email address of that account, we sent it the Microsoft account the account signs in with.',
};


/** Individual accounts only: organizations have no credentials to recover. */
async function userNamed(username: string): Promise<AccountDocument | undefined> {
  const account = await accountHolding({ kind: 'username', name: username });
  return account?.kind === 'user' && !account.deletedAt ? account : undefined;
}

/**
 * Sends the email without holding the answer for it: the answer must not take longer for a known address,
 * and the outbox timer delivers it should this instance stop first.
 */
async function queueInBackground(message: EmailMessage, account: AccountDocument, log: Log): Promise<void> {
  const email = await queueEmail(message, { container: 'accounts', id: account.id });
  void deliverSoon(email, log);
}

/**
 * Recovery mails only an individual account's confirmed address: an address nobody has proved to hold (a typo at
 * registration, say) could belong to someone else, who would take the account over with a reset link.
 */
function isConfirmedAddressOf(account: AccountDocument | undefined, emailAddress: string): account is AccountDocument {
  return account?.kind === 'user' && !account.deletedAt && hasTrustedAddress(account) && normaliseEmail(account.emailAddress) === normaliseEmail(emailAddress);
}

export async function forgotPassword(emailAddress: string, clientAddress: string, log: Log): Promise<void> {
  await enforceRateLimit(RATE_LIMITS.forgotPasswordPerClient, clientAddress);
  await enforceRateLimit(RATE_LIMITS.forgotPasswordPerAddress, normaliseEmail(emailAddress));
  await withMinimumDuration(ENUMERATION_SAFE_DURATION_MS, async () => {
    const account = await accountHolding({ kind: 'email', address: emailAddress });
    if (!isConfirmedAddressOf(account, emailAddress)) return;
    const token = await issueToken('reset-password', tokenRecipient(account), RESET_LINK_LIFETIME_MS);
    await recordAudit(account.id, 'password_reset_requested', clientAddress);
    await queueInBackground(resetPasswordMessage(account.username, account.emailAddress, token), account, log);
  });
}

const resetLinkRevoked = () => new Problem('invalid_token', 'This link is not valid any more. Ask for a new one.');

/** A reset link works for an individual account still at the address it went to, with no credential changed since. */
const resetLinkHolds = (token: TokenDocument, account: AccountDocument | undefined): account is AccountDocument =>
  account?.kind === 'user' && !account.deletedAt && tokenStillAddressed(token, account) && !credentialsChangedSince(token, account);

/**
 * Sets a new password from an emailed link (also the first password of an account that never had one),
 * ends every session and lifts any lockout. A weak password leaves the link usable for another try. The
 * link works only while the address it went to is still the account's and no email change, reset or
 * Microsoft account link came since; the reset itself revokes every other link sent before. The address is
 * told that a password was set, once it is.
 */
export async function resetPassword(secret: string, newPassword: string, clientAddress: string, log: Log): Promise<void> {
  const token = await findToken(secret, 'reset-password');
  const account = await readAccount(token.accountId);
  if (!resetLinkHolds(token, account)) throw resetLinkRevoked();
  // A new password would let nobody in while support holds the account; the link stays for after.
  if (account.lock) throw lockedBySupport();
  assertAcceptablePassword(newPassword, account);
  const passwordHash = await hashPassword(newPassword);
  await spendToken(token);
  const notice = await noticeTo(account, 'security', passwordSetNotice({ at: nowIso(), clientAddress }), { container: 'accounts', id: account.id });
  await announced(
    notice,
    () =>
      updateAccount(account.id, (current) => {
        // Checked again on the document written: an email change confirmed a moment ago revokes the link too.
        if (!resetLinkHolds(token, current)) throw resetLinkRevoked();
        if (current.lock) throw lockedBySupport();
        return withNewSecurityStamp({
          ...current,
          passwordHash,
          sessionVersion: current.sessionVersion + 1,
          failedPasswordAttempts: 0,
          lockedUntil: null,
        });
      }),
    log,
    (changed) => changed !== undefined,
  );
  await recordAudit(account.id, 'password_reset', clientAddress);
}

const FAILURES_PER_LOCK = 10;
const MAX_LOCK_MINUTES = 24 * 60;

/** Every tenth failure locks for ten times longer than the last: a minute, ten minutes, 100 minutes, … a day. */
function lockMinutes(failures: number): number {
  return Math.min(10 ** (failures / FAILURES_PER_LOCK - 1), MAX_LOCK_MINUTES);
}

function accountLocked(lockedUntil: string): Problem {
  const seconds = Math.max(1, Math.ceil((Date.parse(lockedUntil) - clock.now().getTime()) / 1000));
  return new Problem(
    'account_locked',
    `This account is locked after too many failed sign-ins. Try again in ${seconds} seconds, or reset the password by email.`,
    { 'Retry-After': String(seconds) },
  );
}

const lockedNow = (account: AccountDocument): account is AccountDocument & { lockedUntil: string } =>
  Boolean(account.lockedUntil) && Date.parse(account.lockedUntil!) > clock.now().getTime();

/**
 * Counts the attempt as a failure on the account's document before the password is checked, and refuses it
 * there while the account is locked: the lock is decided by the write itself, so of many guesses at once none
 * past the tenth is checked. Answers until when this attempt locked the account, if it did.
 */
async function countAttempt(account: AccountDocument): Promise<string | undefined> {
  let locksUntil: string | undefined;
  await updateAccount(account.id, (current) => {
    if (lockedNow(current)) throw accountLocked(current.lockedUntil);
    const failedPasswordAttempts = (current.failedPasswordAttempts ?? 0) + 1;
    locksUntil =
      failedPasswordAttempts % FAILURES_PER_LOCK === 0
        ? new Date(clock.now().getTime() + lockMinutes(failedPasswordAttempts) * 60 * 1000).toISOString()
        : undefined;
    return { ...current, failedPasswordAttempts, lockedUntil: locksUntil ?? current.lockedUntil };
  });
  return locksUntil;
}

async function recordFailedSignIn(account: AccountDocument, locksUntil: string | undefined, clientAddress: string): Promise<void> {
  await recordAudit(account.id, 'sign_in_failed', clientAddress, { method: 'password' });
  if (locksUntil) await recordAudit(account.id, 'account_locked', clientAddress, { until: locksUntil });
}

/**
 * Password sign-in, which exists only to recover an account that lost its Microsoft account: it yields a
 * session that can do nothing but link one. A wrong password and an unknown username answer alike.
 */
export async function signInWithPassword(
  username: string,
  password: string,
  clientAddress: string,
): Promise<z.infer<typeof recoverySession>> {
  await enforceRateLimit(RATE_LIMITS.passwordSignInPerClient, clientAddress);
  await enforceRateLimit(RATE_LIMITS.passwordSignInPerUser, normaliseName(username));
  const account = await userNamed(username);
  // Locked already: refused without a write. Otherwise the attempt is counted before the password is checked.
  if (account && lockedNow(account)) throw accountLocked(account.lockedUntil);
  const locksUntil = account ? await countAttempt(account) : undefined;
  const matches = await verifyPassword(account?.passwordHash ?? null, password);
  if (!account || !matches) {
    if (account) await recordFailedSignIn(account, locksUntil, clientAddress);
    throw new Problem('invalid_credentials', 'The username or password is not correct.');
  }
  // The right password clears the count, this attempt's too, and any lock it set.
  const current = (await updateAccount(account.id, (a) => ({ ...a, failedPasswordAttempts: 0, lockedUntil: null }))) ?? account;
  // Only once the password is right: a wrong one answers alike for every account.
  if (current.lock) {
    await recordAudit(account.id, 'sign_in_failed', clientAddress, { method: 'password', reason: 'locked_by_support' });
    throw lockedBySupport();
  }
  await recordAudit(account.id, 'signed_in', clientAddress, { method: 'password' });
  return { status: 'password_login_discontinued', sessionToken: issueSessionToken(current, 'recovery'), account: toAccountView(current) };
}

async function limitSignInAssistance(username: string, clientAddress: string): Promise<void> {
  await enforceRateLimit(RATE_LIMITS.signInAssistancePerClient, clientAddress);
  await enforceRateLimit(RATE_LIMITS.signInAssistancePerUser, normaliseName(username));
}

/** Usernames are public, email addresses are not: the owner recognises the masked form. */
export async function maskedEmailOf(username: string, clientAddress: string): Promise<string> {
  await limitSignInAssistance(username, clientAddress);
  const account = await userNamed(username);
  if (!account) throw new Problem('user_not_found', `There is no user named '${username}'.`);
  return maskEmailAddress(account.emailAddress);
}

/** Mails the account the Microsoft account it is linked to, but only to the account's own address. */
export async function sendSignInAssistance(username: string, emailAddress: string, clientAddress: string, log: Log): Promise<void> {
  await limitSignInAssistance(username, clientAddress);
  await withMinimumDuration(ENUMERATION_SAFE_DURATION_MS, async () => {
    const account = await userNamed(username);
    if (!isConfirmedAddressOf(account, emailAddress)) return;
    const linked = account.microsoftAccount ? [`${account.microsoftAccount.name} <${account.microsoftAccount.email ?? 'no email address'}>`] : [];
    await queueInBackground(signInAssistanceMessage(account.username, account.emailAddress, linked), account, log);
  });
}
