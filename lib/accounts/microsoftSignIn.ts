import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { Problem } from '../shared/problems';
import { idTokenField, mfaTokenField, verifyMicrosoftSignIn, type MicrosoftIdentity } from '../shared/identity/microsoftIdToken';
import { issueSessionToken } from './sessions';
import { container, isPreconditionFailed } from '../shared/storage/cosmos';
import { accountView, lockedBySupport, toAccountView, type AccountDocument } from './account';
import { accountHolding } from './claims';

export const microsoftSignInBody = z.union([
  z.object({ idToken: idTokenField, mfaToken: mfaTokenField.optional() }).strict(),
  z.object({ error: z.string().min(1).max(256), errorDescription: z.string().max(4096).optional() }).strict(),
]);

export const microsoftSignInResult = z.union([
  z.object({ status: z.literal('signed_in'), sessionToken: z.string(), account: accountView }),
  z.object({ status: z.literal('registration_required'), emailAddress: z.string().nullable() }),
]);

type SignInResult = z.infer<typeof microsoftSignInResult>;

const isLinkedTo = (account: AccountDocument, identity: MicrosoftIdentity) =>
  account.microsoftAccount?.tid === identity.tid && account.microsoftAccount.oid === identity.oid;

/**
 * Signs in the account linked to the Microsoft account of a fresh sign-in: two point reads and an audit
 * write (and, the first time it shows two-factor sign-in another way, a patch that records it). Not linked, it says whether the person can register or must first recover the account that
 * already uses their email address.
 */
export async function signInWithMicrosoft(
  body: z.infer<typeof microsoftSignInBody>,
  clientAddress: string,
): Promise<SignInResult> {
  if ('error' in body) throw platformError(body.error, body.errorDescription ?? '');
  const identity = await verifyMicrosoftSignIn(body);
  const linked = await accountHolding({ kind: 'microsoft', tid: identity.tid, oid: identity.oid });
  if (linked && linked.kind === 'user' && isLinkedTo(linked, identity)) {
    if (linked.lock) {
      await recordAudit(linked.id, 'sign_in_failed', clientAddress, { method: 'microsoft', reason: 'locked_by_support' });
      throw lockedBySupport();
    }
    const [account] = await Promise.all([
      recordTwoFactorCheck(linked, identity),
      recordAudit(linked.id, 'signed_in', clientAddress, { method: 'microsoft' }),
    ]);
    return { status: 'signed_in', sessionToken: issueSessionToken(account), account: toAccountView(account) };
  }
  if (!identity.email) return { status: 'registration_required', emailAddress: null };
  const owner = await accountHolding({ kind: 'email', address: identity.email });
  if (!owner) return { status: 'registration_required', emailAddress: identity.email };
  if (owner.kind === 'organization') {
    throw new Problem(
      'email_belongs_to_organization',
      `The email address '${identity.email}' belongs to an organization, and organizations cannot sign in. Sign in with the Microsoft account of one of its admins.`,
    );
  }
  if (owner.microsoftAccount) {
    throw new Problem(
      'email_linked_to_another_microsoft_account',
      `The account with email '${identity.email}' is linked with another Microsoft account. If you would like to update the linked Microsoft account you can do so from the account settings page.`,
    );
  }
  throw new Problem(
    'password_sign_in_required',
    `The account with email '${identity.email}' has no Microsoft account yet. Sign in with its username and password first, then link this Microsoft account from the account settings page.`,
  );
}

/**
 * Keeps `microsoftAccount.twoFactor` saying what this sign-in showed. It changes only when WORK_ACCOUNT_MFA
 * does, so the hot path stays without a write; the patch is guarded by the ETag just read, and one that lost
 * to a concurrent change of the account leaves the change alone (the next sign-in records it).
 */
async function recordTwoFactorCheck(account: AccountDocument, identity: MicrosoftIdentity): Promise<AccountDocument> {
  const linked = account.microsoftAccount!;
  if (linked.twoFactor === identity.twoFactor) return account;
  try {
    const { resource } = await container('accounts')
      .item(account.id, account.id)
      .patch<AccountDocument>([{ op: 'set', path: '/microsoftAccount/twoFactor', value: identity.twoFactor }], {
        accessCondition: { type: 'IfMatch', condition: account._etag ?? '' },
      });
    return resource ?? account;
  } catch (error) {
    if (isPreconditionFailed(error)) return { ...account, microsoftAccount: { ...linked, twoFactor: identity.twoFactor } };
    throw error;
  }
}

/** What the platform's redirect reported instead of a token, explained with the way out. */
function platformError(error: string, description: string): Problem {
  const text = `${error} ${description}`;
  if (/AADSTS65005/.test(text) && /unmanaged/i.test(text)) {
    return new Problem(
      'unmanaged_tenant',
      "Your email's domain belongs to an unmanaged (self-service) Microsoft Entra ID directory, which cannot sign in here. " +
        'Either you or an administrator of your domain claims the directory by validating the domain in DNS (a domain admin takeover), after which sign-in works; ' +
        'or you create a new Microsoft account with a different email address and link it to your account through account recovery (sign in with your password, or reset it by email).',
    );
  }
  if (error === 'access_denied') {
    return new Problem('microsoft_sign_in_failed', 'Microsoft sign-in was cancelled or not allowed. Sign in again and accept the requested permissions.');
  }
  return new Problem('microsoft_sign_in_failed', 'Microsoft sign-in did not complete. Try signing in again; if it keeps failing, contact support with the time it happened.');
}
