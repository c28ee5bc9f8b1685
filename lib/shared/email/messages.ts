import { settings } from '../settings';
import type { EmailMessage } from './sender';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The token an emailed link carries, and when it stops working (an issued token is one). */
export interface LinkToken {
  secret: string;
  expiresAt: string;
}

interface Action {
  label: string;
  url: string;
  expiresAt: string;
}

/**
 * A link to the frontend carrying `token`, always from PUBLIC_BASE_URL (a request's Host header is the
 * caller's to forge), with the token's expiry so the outbox never sends it once it cannot work.
 */
function frontendLink(label: string, path: string, token: LinkToken): Action {
  return { label, url: `${settings().PUBLIC_BASE_URL}${path}?token=${encodeURIComponent(token.secret)}`, expiresAt: token.expiresAt };
}

function compose(to: string, subject: string, paragraphs: string[], action?: Action): EmailMessage {
  const plainText = [...paragraphs, ...(action ? [`${action.label}: ${action.url}`] : [])].join('\n\n') + '\n';
  const html =
    paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('') +
    (action ? `<p><a href="${escapeHtml(action.url)}">${escapeHtml(action.label)}</a></p>` : '');
  return { to, subject, plainText, html, ...(action ? { linkExpiresAt: action.expiresAt } : {}) };
}

export function confirmEmailMessage(username: string, emailAddress: string, token: LinkToken): EmailMessage {
  return compose(
    emailAddress,
    'Confirm your email address',
    [
      `Hello ${username},`,
      'Please confirm this email address for your package gallery account. Until you do, you cannot create organizations or join them.',
      'If you did not create this account, you can ignore this message.',
    ],
    frontendLink('Confirm your email address', '/account/confirm-email', token),
  );
}

export function resetPasswordMessage(username: string, emailAddress: string, token: LinkToken): EmailMessage {
  return compose(
    emailAddress,
    'Reset your password',
    [
      `Hello ${username},`,
      'Someone asked to reset the password of your package gallery account. The link works once, for one hour.',
      'A password only lets you back in to link a new Microsoft account. If you did not ask for this, ignore this message: your account is unchanged.',
    ],
    frontendLink('Reset your password', '/account/reset-password', token),
  );
}

export function confirmNewEmailMessage(username: string, newAddress: string, token: LinkToken): EmailMessage {
  return compose(
    newAddress,
    'Confirm your new email address',
    [`Hello ${username},`, 'Please confirm this address to make it the email address of your package gallery account.'],
    frontendLink('Confirm your new email address', '/account/confirm-email', token),
  );
}

export function emailChangeNoticeMessage(username: string, currentAddress: string, newAddress: string): EmailMessage {
  return compose(currentAddress, 'Your email address is being changed', [
    `Hello ${username},`,
    `Someone signed in to your package gallery account asked to change its email address to ${newAddress}. It changes once that address is confirmed.`,
    'If this was not you, sign in, cancel the change from the account settings page, and sign out everywhere.',
  ]);
}

export function signInAssistanceMessage(username: string, emailAddress: string, microsoftAccounts: string[]): EmailMessage {
  return compose(emailAddress, 'The Microsoft account you sign in with', [
    `Hello ${username},`,
    microsoftAccounts.length > 0
      ? `Your package gallery account is linked to this Microsoft account: ${microsoftAccounts.join(', ')}. Sign in with it.`
      : 'Your package gallery account is not linked to any Microsoft account. Reset your password to get back in, then link one.',
    'If you have lost access to that Microsoft account, reset your password from the sign-in page and link another Microsoft account.',
  ]);
}

export function organizationInvitationMessage(
  invitee: { username: string; emailAddress: string },
  organizationName: string,
  invitedBy: string,
  role: string,
  token: LinkToken,
): EmailMessage {
  return compose(
    invitee.emailAddress,
    `Join the organization ${organizationName}`,
    [
      `Hello ${invitee.username},`,
      `${invitedBy} invited you to join the organization ${organizationName} as ${role === 'admin' ? 'an admin' : 'a collaborator'}. The invitation works for 7 days.`,
    ],
    frontendLink(`Accept or decline the invitation to ${organizationName}`, `/organizations/${encodeURIComponent(organizationName)}/invitation`, token),
  );
}

export function confirmOrganizationEmailMessage(organizationName: string, emailAddress: string, token: LinkToken): EmailMessage {
  return compose(
    emailAddress,
    `Confirm the email address of ${organizationName}`,
    [`This address was given as the email address of the organization ${organizationName} on the package gallery.`, 'Please confirm it.'],
    frontendLink('Confirm the email address', '/account/confirm-email', token),
  );
}

export function transformRequestMessage(admin: { username: string; emailAddress: string }, accountName: string, token: LinkToken): EmailMessage {
  return compose(
    admin.emailAddress,
    `${accountName} asks you to administer it as an organization`,
    [
      `Hello ${admin.username},`,
      `The account ${accountName} asks to become an organization with you as its admin. It keeps its name, email address and packages, and can no longer sign in; you manage it from your own account.`,
      'The request works for 7 days.',
    ],
    frontendLink(`Accept or decline administering ${accountName}`, '/organizations/transform', token),
  );
}

export function packageOwnerInvitationMessage(
  invitee: { username: string; emailAddress: string },
  packageId: string,
  invitedBy: string,
  token: LinkToken,
): EmailMessage {
  return compose(
    invitee.emailAddress,
    `Become an owner of ${packageId}`,
    [`Hello ${invitee.username},`, `${invitedBy} invited you to become an owner of the package ${packageId}. The invitation works for 7 days.`],
    frontendLink(`Accept ownership of ${packageId}`, `/packages/${encodeURIComponent(packageId)}/owners/accept`, token),
  );
}

/** To the holder of a key support revoked because its secret was found exposed. */
export function leakedApiKeyRevokedMessage(
  holder: { username: string; emailAddress: string },
  key: { description: string; owner: string; revokedAt: string },
): EmailMessage {
  // The description is the holder's own text: one line in the subject.
  const description = key.description.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
  return compose(holder.emailAddress, `API key '${description}' revoked: it was exposed`, [
    `Hello ${holder.username},`,
    `Your API key '${description}', which pushes for ${key.owner}, was found exposed where others could read it, so our support team revoked it at ${key.revokedAt} (UTC). It no longer works for anyone.`,
    'What to do: create a new key from the API keys page and put it wherever the old one was used (a CI secret, a script), keeping it out of source code, logs and build output. Then check the latest versions of the packages the key could push; if you did not publish one of them, unlist it and contact support.',
  ]);
}

export function accountDeletedBySupportMessage(username: string, emailAddress: string): EmailMessage {
  return compose(emailAddress, 'Your account has been deleted by support', [
    `Hello ${username},`,
    `The package gallery account ${username} has been deleted by our support team: its API keys are revoked, it no longer owns packages or has members or memberships, and its email address is free to use again.`,
    'If you think this is a mistake, or want to know why, contact support.',
  ]);
}

export function accountDeletedMessage(username: string, emailAddress: string): EmailMessage {
  return compose(emailAddress, 'Your account has been deleted', [
    `Hello ${username},`,
    'As you asked, your package gallery account has been deleted: its API keys are revoked, it no longer owns packages or belongs to organizations, and your Microsoft account and this email address are free to use again.',
    `The username ${username} stays reserved and will not be given to anyone else.`,
  ]);
}
