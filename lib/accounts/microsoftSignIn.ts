import { z } from 'zod';
import { recordAudit } from '../audit';
import { Problem } from '../http/problems';
import { verifyMicrosoftIdToken, type MicrosoftIdentity } from '../identity/microsoftIdToken';
import { issueSessionToken } from '../sessions';
import { accountView, toAccountView, type AccountDocument } from './account';
import { accountHolding } from './claims';
import { idTokenField } from './registration';

export const microsoftSignInBody = z.union([
  z.object({ idToken: idTokenField }).strict(),
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
 * Signs in the account linked to the Microsoft account of a fresh ID token: two point reads and an audit
 * write. Not linked, it says whether the person can register or must first recover the account that
 * already uses their email address.
 */
export async function signInWithMicrosoft(
  body: z.infer<typeof microsoftSignInBody>,
  clientAddress: string,
): Promise<SignInResult> {
  if ('error' in body) throw platformError(body.error, body.errorDescription ?? '');
  const identity = await verifyMicrosoftIdToken(body.idToken);
  const linked = await accountHolding({ kind: 'microsoft', tid: identity.tid, oid: identity.oid });
  if (linked && linked.kind === 'user' && isLinkedTo(linked, identity)) {
    await recordAudit(linked.id, 'signed_in', clientAddress, { method: 'microsoft' });
    return { status: 'signed_in', sessionToken: issueSessionToken(linked), account: toAccountView(linked) };
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
