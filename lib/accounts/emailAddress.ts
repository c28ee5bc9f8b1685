import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { confirmNewEmailMessage, emailChangeNoticeMessage } from '../shared/email/messages';
import { deliverSoon, queueEmail } from '../shared/email/outbox';
import { Problem } from '../shared/problems';
import { findToken, issueToken, spendToken, type TokenDocument, tokenField } from '../shared/tokens';
import { readAccount, tokenRecipient, tokenStillAddressed, updateAccount, withNewSecurityStamp, type AccountDocument } from './account';
import { claimHolder, releaseClaim, tryClaim } from './claims';
import { emailAddressField, emailInUse, normaliseEmail } from './names';
import type { Log } from '../shared/log';

export const confirmEmailBody = z.object({ token: tokenField }).strict();
export const changeEmailBody = z.object({ emailAddress: emailAddressField }).strict();

export const CONFIRMATION_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

const sameAddress = (a: string | null, b: string) => a !== null && normaliseEmail(a) === normaliseEmail(b);
const accountExists = async (id: string) => (await readAccount(id)) !== undefined;

/**
 * Starts a change of address: the new address gets a confirmation link, the current one is told. The
 * account keeps its current address until the new one is confirmed.
 */
export async function requestEmailChange(account: AccountDocument, newAddress: string, clientAddress: string, log: Log): Promise<string> {
  if (sameAddress(account.emailAddress, newAddress)) {
    throw new Problem('invalid_request', "The field 'emailAddress' is already your account's email address.");
  }
  const holder = await claimHolder({ kind: 'email', address: newAddress });
  if (holder && holder !== account.id && (await accountExists(holder))) throw emailInUse(newAddress);
  const token = await issueToken('confirm-email', tokenRecipient(account, newAddress), CONFIRMATION_LIFETIME_MS);
  const cause = { container: 'accounts' as const, id: account.id };
  const emails = [
    await queueEmail(confirmNewEmailMessage(account.username, newAddress, token), cause),
    await queueEmail(emailChangeNoticeMessage(account.username, account.emailAddress, newAddress), cause),
  ];
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
 * addressed to the account).
 */
async function switchToPendingAddress(token: TokenDocument, clientAddress: string): Promise<void> {
  const newAddress = token.emailAddress;
  if (!(await tryClaim({ kind: 'email', address: newAddress }, token.accountId))) throw emailInUse(newAddress);
  let previous: string | undefined;
  const account = await updateAccount(token.accountId, (current) => {
    if (!confirmsPendingChange(token, current)) return undefined;
    previous = current.emailAddress;
    return withNewSecurityStamp({ ...current, emailAddress: newAddress, emailConfirmed: true, pendingEmailAddress: null, pendingEmailTokenId: null });
  });
  if (!account || !sameAddress(account.emailAddress, newAddress)) {
    await releaseClaim({ kind: 'email', address: newAddress }, token.accountId);
    throw noLongerValid();
  }
  await spendToken(token);
  if (previous !== undefined && !sameAddress(previous, newAddress)) await releaseClaim({ kind: 'email', address: previous }, account.id);
  await recordAudit(account.id, 'email_changed', clientAddress, { emailAddress: newAddress });
}

/**
 * Confirms the address a link was sent to: the account's current address, or the new one it asked to
 * change to. Confirming is idempotent, so it happens before the token is spent: a crash between the two
 * leaves a link that simply works again.
 */
export async function confirmEmail(secret: string, clientAddress: string): Promise<void> {
  const token = await findToken(secret, 'confirm-email');
  const current = await readAccount(token.accountId);
  if (current && confirmsPendingChange(token, current)) return switchToPendingAddress(token, clientAddress);
  const account = await updateAccount(token.accountId, (a) => (tokenStillAddressed(token, a) && !a.emailConfirmed ? { ...a, emailConfirmed: true } : undefined));
  await spendToken(token);
  if (!account || !tokenStillAddressed(token, account)) throw noLongerValid();
  await recordAudit(account.id, 'email_confirmed', clientAddress, { emailAddress: account.emailAddress });
}
