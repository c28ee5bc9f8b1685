import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { nowIso } from '../shared/clock';
import { confirmEmailMessage, confirmNewEmailMessage, confirmOrganizationEmailMessage, emailAddressChangedNotice, emailChangeNoticeMessage } from '../shared/email/messages';
import { abandonEmail, deliverSoon, queueEmail } from '../shared/email/outbox';
import { Problem } from '../shared/problems';
import { findToken, issueToken, spendToken, type TokenDocument, tokenField } from '../shared/tokens';
import { hasTrustedAddress, readAccount, tokenRecipient, tokenStillAddressed, updateAccount, withNewSecurityStamp, type AccountDocument } from './account';
import { claimHolder, releaseClaim, tryClaim } from './claims';
import { forgetConfirmedAddress, indexConfirmedAddress } from './emailDomains/addressIndex';
import { domainToCheck } from './emailDomains/registeredDomain';
import { announced, noticeTo } from './notices';
import { emailAddressField, emailInUse, normaliseEmail } from './names';
import { enforceEmailingLimits } from '../shared/rateLimits';
import { ACCOUNT_EMAIL_LIMITS } from './rateLimits';
import type { Log } from '../shared/log';

export const confirmEmailBody = z.object({ token: tokenField }).strict();
export const changeEmailBody = z.object({ emailAddress: emailAddressField }).strict();

export const CONFIRMATION_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

const sameAddress = (a: string | null, b: string) => a !== null && normaliseEmail(a) === normaliseEmail(b);
const accountExists = async (id: string) => (await readAccount(id)) !== undefined;

/**
 * Starts a change of address: the new address gets a confirmation link, the current one is told. The
 * account keeps its current address until the new one is confirmed. Limited per account and per new address
 * across instances, so it cannot flood a mailbox.
 */
export async function requestEmailChange(account: AccountDocument, newAddress: string, clientAddress: string, log: Log): Promise<string> {
  if (sameAddress(account.emailAddress, newAddress)) {
    throw new Problem('invalid_request', "The field 'emailAddress' is already your account's email address.");
  }
  const holder = await claimHolder({ kind: 'email', address: newAddress });
  if (holder && holder !== account.id && (await accountExists(holder))) throw emailInUse(newAddress);
  await enforceEmailingLimits(ACCOUNT_EMAIL_LIMITS.emailChange, account.id, normaliseEmail(newAddress));
  const token = await issueToken('confirm-email', tokenRecipient(account, newAddress), CONFIRMATION_LIFETIME_MS);
  const cause = { container: 'accounts' as const, id: account.id };
  const emails = [await queueEmail(confirmNewEmailMessage(account.username, newAddress, token), cause)];
  // A notice: an unconfirmed current address gets only its own confirmation link.
  if (hasTrustedAddress(account)) emails.push(await queueEmail(emailChangeNoticeMessage(account.username, account.emailAddress, newAddress), cause));
  await updateAccount(account.id, (current) => ({ ...current, pendingEmailAddress: newAddress, pendingEmailTokenId: token.id }));
  await recordAudit(account.id, 'email_change_requested', clientAddress, { emailAddress: newAddress });
  await Promise.all(emails.map((email) => deliverSoon(email, log)));
  return newAddress;
}

export async function cancelEmailChange(account: AccountDocument, clientAddress: string): Promise<void> {
  if (account.pendingEmailAddress === null) return;
  await updateAccount(account.id, (current) => ({ ...current, pendingEmailAddress: null, pendingEmailTokenId: null }));
  await recordAudit(account.id, 'email_change_cancelled', clientAddress);
}

/**
 * Sends the link that confirms the account's address again, to the address it waits to confirm: the new
 * one of a pending change, or else its own while unconfirmed (never confirmed, or its domain lapsed since). The
 * new link replaces the earlier one, which stops working. Limited per caller and per address across instances,
 * so it cannot flood a mailbox. `caller` is whoever asked: the account itself, or an admin of an organization.
 */
export async function resendConfirmation(account: AccountDocument, clientAddress: string, log: Log, caller: AccountDocument = account): Promise<void> {
  const pending = account.pendingEmailAddress;
  const address = pending ?? (account.emailConfirmed ? null : account.emailAddress);
  if (address === null) {
    const whose = account.kind === 'organization' ? `The email address of ${account.username} is` : 'Your email address is';
    throw new Problem('invalid_request', `${whose} confirmed already, and no change of address waits for confirmation.`);
  }
  await enforceEmailingLimits(ACCOUNT_EMAIL_LIMITS.resendConfirmation, caller.id, normaliseEmail(address));
  const token = await issueToken('confirm-email', tokenRecipient(account, address), CONFIRMATION_LIFETIME_MS);
  const message =
    account.kind === 'organization'
      ? confirmOrganizationEmailMessage(account.username, address, token)
      : pending
        ? confirmNewEmailMessage(account.username, address, token)
        : confirmEmailMessage(account.username, address, token);
  const email = await queueEmail(message, { container: 'accounts', id: account.id });
  const updated = await updateAccount(account.id, (current) => {
    // The account still waits for this address to confirm (nothing changed it meanwhile): the new link replaces the earlier.
    if (pending !== null) return current.pendingEmailAddress === pending ? { ...current, pendingEmailTokenId: token.id } : undefined;
    return !current.emailConfirmed && sameAddress(current.emailAddress, address) ? { ...current, emailConfirmationTokenId: token.id } : undefined;
  });
  const replaced = pending !== null ? updated?.pendingEmailTokenId === token.id : updated?.emailConfirmationTokenId === token.id;
  if (!replaced) {
    await abandonEmail(email, log);
    throw new Problem('concurrent_change', 'The email address changed at the same moment. Reload and try again.');
  }
  const by: Record<string, string> = caller.id === account.id ? {} : { by: caller.username };
  await recordAudit(account.id, 'email_confirmation_resent', clientAddress, { emailAddress: address, ...by });
  await deliverSoon(email, log);
}

const noLongerValid = () =>
  new Problem('invalid_token', 'This link confirms an address your account no longer uses or no longer asks for. Ask for a new one.');

/**
 * Whether the link confirms the change the account waits for: to the address it went to, by the latest
 * request's link (for a change asked for before links were recorded, any link to that address).
 */
const confirmsPendingChange = (token: TokenDocument, account: AccountDocument) =>
  tokenStillAddressed(token, account, account.pendingEmailAddress) &&
  (account.pendingEmailTokenId === undefined || account.pendingEmailTokenId === token.id);

/**
 * The pending address becomes the account's: its claim is taken first (the address may have been taken
 * since the change was asked for), then the account switches, then the old address is released. The
 * switch revokes every reset link sent before it (and every other link to the old address is no longer
 * addressed to the account). The old address is told once the switch is made: it was told of the request
 * when it was made, and now hears that it no longer belongs to the account.
 */
async function switchToPendingAddress(account: AccountDocument, token: TokenDocument, clientAddress: string, log: Log): Promise<void> {
  const newAddress = token.emailAddress;
  if (!(await tryClaim({ kind: 'email', address: newAddress }, token.accountId))) throw emailInUse(newAddress);
  // The address read here is the one switched from: only this change's confirmation can change it meanwhile.
  const content = emailAddressChangedNotice(account.username, account.emailAddress, newAddress, { at: nowIso(), clientAddress });
  const notice = await noticeTo(account, 'security', content, { container: 'accounts', id: account.id }, { formerAddress: true });
  const confirmedAt = nowIso();
  await indexConfirmedAddress(account.id, newAddress, confirmedAt);
  let previous: string | undefined;
  const switched = await announced(
    notice,
    () =>
      updateAccount(token.accountId, (current) => {
        if (!confirmsPendingChange(token, current)) return undefined;
        previous = current.emailAddress;
        return withNewSecurityStamp({
          ...current,
          emailAddress: newAddress,
          emailConfirmed: true,
          emailConfirmedAt: confirmedAt,
          emailDomainLapsed: null,
          emailConfirmationTokenId: token.id,
          pendingEmailAddress: null,
          pendingEmailTokenId: null,
        });
      }),
    log,
    () => previous !== undefined,
  );
  if (!switched || !sameAddress(switched.emailAddress, newAddress)) {
    await releaseClaim({ kind: 'email', address: newAddress }, token.accountId);
    await undoIndexedAhead(switched ?? account, newAddress);
    throw noLongerValid();
  }
  await spendToken(token);
  if (previous !== undefined && !sameAddress(previous, newAddress)) {
    await releaseClaim({ kind: 'email', address: previous }, switched.id);
    // The index keeps one entry per account and domain: the new address's, where both share a domain.
    if (domainToCheck(previous) !== domainToCheck(newAddress)) await forgetConfirmedAddress(switched.id, previous);
  }
  await recordAudit(switched.id, 'email_changed', clientAddress, { emailAddress: newAddress });
}

/**
 * The entry indexed ahead for an address the account did not switch to after all: gone, or, where it shares its
 * domain with the account's own confirmed address, back to that address's confirmation time (a later one could
 * hide a registration of the domain in between).
 */
async function undoIndexedAhead(account: AccountDocument, newAddress: string): Promise<void> {
  if (hasTrustedAddress(account) && domainToCheck(account.emailAddress) === domainToCheck(newAddress)) {
    await indexConfirmedAddress(account.id, account.emailAddress, account.emailConfirmedAt ?? account.createdAt);
  } else {
    await forgetConfirmedAddress(account.id, newAddress);
  }
}

/**
 * Whether the link confirms the account's own address: one sent to it, and the latest one sent (for an
 * account made before links were recorded, any link to that address).
 */
const confirmsCurrentAddress = (token: TokenDocument, account: AccountDocument) =>
  tokenStillAddressed(token, account) && (account.emailConfirmationTokenId === undefined || account.emailConfirmationTokenId === token.id);

/**
 * Confirms the address a link was sent to: the account's current address (also one whose domain lapsed, which
 * then counts as confirmed again), or the new one it asked to change to. Confirming is idempotent, so it happens
 * before the token is spent: a crash between the two leaves a link that simply works again. The address enters
 * the index of confirmed addresses (for the lapsed-domain check) before the account says it is confirmed.
 */
export async function confirmEmail(secret: string, clientAddress: string, log: Log): Promise<void> {
  const token = await findToken(secret, 'confirm-email');
  const current = await readAccount(token.accountId);
  if (current && confirmsPendingChange(token, current)) return switchToPendingAddress(current, token, clientAddress, log);
  const confirms = (a: AccountDocument) => confirmsCurrentAddress(token, a) && !a.emailConfirmed;
  const confirmedAt = nowIso();
  if (current && confirms(current)) await indexConfirmedAddress(current.id, current.emailAddress, confirmedAt);
  const account = await updateAccount(token.accountId, (a) =>
    confirms(a) ? { ...a, emailConfirmed: true, emailConfirmedAt: confirmedAt, emailDomainLapsed: null } : undefined,
  );
  await spendToken(token);
  if (!account || !confirmsCurrentAddress(token, account)) throw noLongerValid();
  await recordAudit(account.id, 'email_confirmed', clientAddress, { emailAddress: account.emailAddress });
}
