import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { nowIso } from '../shared/clock';
import { microsoftAccountLinkedNotice } from '../shared/email/messages';
import type { Log } from '../shared/log';
import { Problem } from '../shared/problems';
import { idTokenField, mfaTokenField, verifyMicrosoftSignIn, type MicrosoftSignInTokens } from '../shared/identity/microsoftIdToken';
import { issueSessionToken } from './sessions';
import { linkedMicrosoftAccount, toAccountView, updateAccount, withNewSecurityStamp, type AccountDocument, type AccountView } from './account';
import { releaseClaim, tryClaim } from './claims';
import { announced, noticeTo } from './notices';

export const replaceMicrosoftAccountBody = z.object({ idToken: idTokenField, mfaToken: mfaTokenField.optional() }).strict();

/**
 * Links the Microsoft account of a fresh sign-in in place of the current one, in one step for the person:
 * the new link is claimed first, then the account switches (dropping any password, since password sign-in
 * ends once a Microsoft account is linked, and every other session), then the old link is released. The
 * account's address is told: whoever links a Microsoft account signs in with it from then on.
 */
export async function replaceMicrosoftAccount(
  account: AccountDocument,
  tokens: MicrosoftSignInTokens,
  clientAddress: string,
  log: Log,
): Promise<{ account: AccountView; sessionToken: string }> {
  const identity = await verifyMicrosoftSignIn(tokens);
  const newKey = { kind: 'microsoft' as const, tid: identity.tid, oid: identity.oid };
  if (!(await tryClaim(newKey, account.id))) {
    throw new Problem(
      'microsoft_account_linked_elsewhere',
      `Failed to update the Microsoft account with '${identity.name} <${identity.email ?? 'no email address'}>'. This could happen if it is already linked to another account. Contact support for more information.`,
    );
  }
  const old = account.microsoftAccount;
  const effects = { replacedAnother: old !== null && (old.tid !== identity.tid || old.oid !== identity.oid), passwordRemoved: account.passwordHash !== null };
  const notice = await noticeTo(account, 'security', microsoftAccountLinkedNotice(identity, effects, { at: nowIso(), clientAddress }), { container: 'accounts', id: account.id });
  // A new link also revokes every emailed link sent before (reset links above all).
  const updated = await announced(
    notice,
    () =>
      updateAccount(account.id, (current) =>
        withNewSecurityStamp({
          ...current,
          microsoftAccount: linkedMicrosoftAccount(identity),
          passwordHash: null,
          failedPasswordAttempts: 0,
          lockedUntil: null,
          sessionVersion: current.sessionVersion + 1,
        }),
      ),
    log,
    (changed) => changed !== undefined,
  );
  if (!updated) throw new Problem('unauthorized', 'Your session has ended. Sign in again.');
  if (old && (old.tid !== identity.tid || old.oid !== identity.oid)) {
    await releaseClaim({ kind: 'microsoft', tid: old.tid, oid: old.oid }, account.id);
  }
  await recordAudit(account.id, 'microsoft_account_changed', clientAddress, {
    microsoftAccount: `${identity.name} <${identity.email ?? ''}>`,
    ...(account.passwordHash ? { password: 'removed' } : {}),
  });
  return { account: toAccountView(updated), sessionToken: issueSessionToken(updated) };
}
