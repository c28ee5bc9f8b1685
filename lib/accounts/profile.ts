import { z } from 'zod';
import { recordAudit } from '../audit';
import { Problem } from '../http/problems';
import { findToken, spendToken } from '../tokens';
import { toAccountView, updateAccount, type AccountDocument, type AccountView } from './account';
import { normaliseEmail } from './names';

export const updateMeBody = z.object({ username: z.string().max(256).optional() }).strict();

export const confirmEmailBody = z.object({ token: z.string().min(1).max(512) }).strict();

/** A username is permanent: it names packages and organizations' members, and is never reused. */
export function updateMe(body: z.infer<typeof updateMeBody>, account: AccountDocument): AccountView {
  if (body.username !== undefined) {
    throw new Problem('username_immutable', 'A username cannot be changed. Create a new account to use another name.');
  }
  return toAccountView(account);
}

/**
 * Confirms the address the token was sent to, if it is still the account's. Confirming is idempotent, so
 * it happens before the token is spent: a crash between the two leaves a token that can simply be used again.
 */
export async function confirmEmail(secret: string, clientAddress: string): Promise<void> {
  const token = await findToken(secret, 'confirm-email');
  const confirmsCurrentAddress = (account: AccountDocument) =>
    normaliseEmail(account.emailAddress) === normaliseEmail(token.emailAddress);
  const account = await updateAccount(token.accountId, (current) =>
    confirmsCurrentAddress(current) && !current.emailConfirmed ? { ...current, emailConfirmed: true } : undefined,
  );
  await spendToken(token);
  if (!account || !confirmsCurrentAddress(account)) {
    throw new Problem('invalid_token', 'This link confirms an address your account no longer uses. Ask for a new one.');
  }
  await recordAudit(account.id, 'email_confirmed', clientAddress, { emailAddress: account.emailAddress });
}

/** Raises the session version, which every older token was issued under. */
export async function signOutEverywhere(account: AccountDocument, clientAddress: string): Promise<void> {
  await updateAccount(account.id, (current) => ({ ...current, sessionVersion: current.sessionVersion + 1 }));
  await recordAudit(account.id, 'signed_out_everywhere', clientAddress);
}
