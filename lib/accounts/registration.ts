import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { confirmEmailMessage } from '../shared/email/messages';
import { deliverSoon, queueEmail } from '../shared/email/outbox';
import { Problem } from '../shared/problems';
import { idTokenField, mfaTokenField, verifyMicrosoftSignIn } from '../shared/identity/microsoftIdToken';
import { issueSessionToken } from './sessions';
import { container } from '../shared/storage/cosmos';
import { issueToken } from '../shared/tokens';
import { linkedMicrosoftAccount, lockedBySupport, newAccountDocument, toAccountView, tokenRecipient, type AccountView } from './account';
import { accountHolding, withClaims, type ClaimKey } from './claims';
import { assertValidUsername, emailAddressField, emailInUse, newUsernameField, normaliseEmail, usernameUnavailable } from './names';
import { CONFIRMATION_LIFETIME_MS } from './emailAddress';
import { ACCOUNT_EMAIL_LIMITS } from './rateLimits';
import { enforceEmailingLimits } from '../shared/rateLimits';
import type { Log } from '../shared/log';

export const registerAccountBody = z
  .object({ idToken: idTokenField, mfaToken: mfaTokenField.optional(), username: newUsernameField, emailAddress: emailAddressField.optional() })
  .strict();

/**
 * Registers an individual account for the Microsoft account of a fresh sign-in. Each unique key (the
 * Microsoft account, the name, the email address) is claimed first; a lost race gives back what this
 * attempt took. The address gets a confirmation link: limited per Microsoft account and per address.
 */
export async function registerAccount(
  input: z.infer<typeof registerAccountBody>,
  clientAddress: string,
  log: Log,
): Promise<{ account: AccountView; sessionToken: string }> {
  assertValidUsername(input.username);
  const identity = await verifyMicrosoftSignIn(input);
  const emailAddress = input.emailAddress ?? identity.email;
  if (!emailAddress || !emailAddressField.safeParse(emailAddress).success) {
    throw new Problem('invalid_request', "The field 'emailAddress' is required: your Microsoft account shares no usable email address.");
  }
  await enforceEmailingLimits(ACCOUNT_EMAIL_LIMITS.registration, `${identity.tid}:${identity.oid}`, normaliseEmail(emailAddress));

  const accountId = randomUUID();
  const microsoft: ClaimKey = { kind: 'microsoft', tid: identity.tid, oid: identity.oid };
  const keys: Array<[ClaimKey, Problem]> = [
    [microsoft, new Problem('microsoft_account_in_use', 'This Microsoft account is already linked to an account. Sign in with it instead.')],
    [{ kind: 'username', name: input.username }, usernameUnavailable(input.username)],
    [{ kind: 'email', address: emailAddress }, emailInUse(emailAddress)],
  ];
  const account = newAccountDocument({
    id: accountId,
    kind: 'user',
    username: input.username,
    emailAddress,
    microsoftAccount: linkedMicrosoftAccount(identity),
  });
  const email = await withClaims(
    accountId,
    keys,
    async () => {
      const token = await issueToken('confirm-email', tokenRecipient(account), CONFIRMATION_LIFETIME_MS);
      const queued = await queueEmail(confirmEmailMessage(input.username, emailAddress, token), { container: 'accounts', id: accountId });
      await container('accounts').items.create({ ...account, emailConfirmationTokenId: token.id });
      return queued;
    },
    `microsoft:${identity.tid}:${identity.oid}`,
  ).catch(async (error: unknown) => {
    // The Microsoft account of an account support has locked is told so, not sent to sign in with it.
    if (error instanceof Problem && error.code === 'microsoft_account_in_use' && (await accountHolding(microsoft))?.lock) throw lockedBySupport();
    throw error;
  });
  await recordAudit(accountId, 'account_registered', clientAddress);
  await deliverSoon(email, log);
  return { account: toAccountView(account), sessionToken: issueSessionToken(account) };
}
