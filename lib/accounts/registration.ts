import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { recordAudit } from '../audit';
import { nowIso } from '../clock';
import { confirmEmailMessage } from '../email/messages';
import { deliverSoon, queueEmail } from '../email/outbox';
import { Problem } from '../http/problems';
import { verifyMicrosoftIdToken } from '../identity/microsoftIdToken';
import { issueSessionToken } from '../sessions';
import { container } from '../storage/cosmos';
import { issueToken } from '../tokens';
import { readAccount, toAccountView, type AccountDocument, type AccountView } from './account';
import { releaseClaim, tryClaim, type ClaimKey } from './claims';
import { assertValidUsername, emailAddressField, emailInUse, usernameField } from './names';
import { CONFIRMATION_LIFETIME_MS } from './emailAddress';

export const idTokenField = z.string().min(1).max(16 * 1024);

export const registerAccountBody = z
  .object({ idToken: idTokenField, username: usernameField, emailAddress: emailAddressField.optional() })
  .strict();

const accountExists = async (id: string) => (await readAccount(id)) !== undefined;

const usernameUnavailable = (name: string) =>
  new Problem('username_unavailable', `The username '${name}' is not available.`);

/**
 * Registers an individual account for the Microsoft account of a fresh ID token. Each unique key (the
 * Microsoft account, the name, the email address) is claimed first; a lost race releases what this
 * attempt took, so a failed registration leaves nothing behind.
 */
export async function registerAccount(
  input: z.infer<typeof registerAccountBody>,
  clientAddress: string,
  log: { warn(...args: unknown[]): void },
): Promise<{ account: AccountView; sessionToken: string }> {
  assertValidUsername(input.username);
  const identity = await verifyMicrosoftIdToken(input.idToken);
  const emailAddress = input.emailAddress ?? identity.email;
  if (!emailAddress || !emailAddressField.safeParse(emailAddress).success) {
    throw new Problem('invalid_request', "The field 'emailAddress' is required: your Microsoft account shares no usable email address.");
  }

  const accountId = randomUUID();
  const keys: Array<[ClaimKey, Problem]> = [
    [
      { kind: 'microsoft', tid: identity.tid, oid: identity.oid },
      new Problem('microsoft_account_in_use', 'This Microsoft account is already linked to an account. Sign in with it instead.'),
    ],
    [{ kind: 'username', name: input.username }, usernameUnavailable(input.username)],
    [{ kind: 'email', address: emailAddress }, emailInUse(emailAddress)],
  ];
  const taken: ClaimKey[] = [];
  const now = nowIso();
  const account: AccountDocument = {
    id: accountId,
    kind: 'user',
    username: input.username,
    emailAddress,
    emailConfirmed: false,
    pendingEmailAddress: null,
    microsoftAccount: { tid: identity.tid, oid: identity.oid, email: identity.email ?? null, name: identity.name, accountType: identity.accountType },
    passwordHash: null,
    failedPasswordAttempts: 0,
    lockedUntil: null,
    sessionVersion: 1,
    organizations: [],
    createdAt: now,
    deletion: null,
  };
  let email;
  try {
    for (const [key, unavailable] of keys) {
      if (!(await tryClaim(key, accountId, accountExists))) throw unavailable;
      taken.push(key);
    }
    const token = await issueToken('confirm-email', accountId, emailAddress, CONFIRMATION_LIFETIME_MS);
    email = await queueEmail(confirmEmailMessage(input.username, emailAddress, token), { container: 'accounts', id: accountId });
    await container('accounts').items.create(account);
  } catch (error) {
    if (!(await accountExists(accountId))) await Promise.all(taken.map((key) => releaseClaim(key, accountId)));
    throw error;
  }
  await recordAudit(accountId, 'account_registered', clientAddress);
  await deliverSoon(email, log);
  return { account: toAccountView(account), sessionToken: issueSessionToken(account) };
}
