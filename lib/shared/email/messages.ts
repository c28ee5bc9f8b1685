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

/**
 * What a notice says, the same for every recipient: each email adds the greeting and the line that says why it
 * was sent. Every string from users (names, descriptions, package ids) is HTML-escaped with its paragraph.
 */
export interface NoticeContent {
  subject: string;
  paragraphs: string[];
}

/**
 * Which of the recipient's preferences let a notice through: `security` (the account's own security, and what
 * it must answer) always goes; `emailAllowed` is every other notice; `notifyPackagePushed` is the push notice.
 */
export type NoticeGate = 'security' | 'emailAllowed' | 'notifyPackagePushed';

/** One line, for a subject or a quotation: a key's description is its maker's own text. */
export const oneLine = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();

/** `2026-01-10 12:00:00 UTC`: when, in words a person reads at a glance. */
export const readableTime = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

/** ` from the address 203.0.113.5`, where the request's address is known. */
export const fromAddress = (clientAddress: string | undefined) =>
  clientAddress && clientAddress !== 'unknown' ? ` from the address ${clientAddress}` : '';

const settingsPage = () => `${settings().PUBLIC_BASE_URL}/account`;
export const apiKeysPage = () => `${settings().PUBLIC_BASE_URL}/account/api-keys`;

const WHY: Record<NoticeGate, () => string> = {
  security: () => 'This is a notice about the security of your package gallery account: these are always sent.',
  emailAllowed: () => `To stop emails like this one, turn off email notices in your account settings: ${settingsPage()}`,
  notifyPackagePushed: () => `You get this because you own the package. To stop emails about pushes, turn off push notices in your account settings: ${settingsPage()}`,
};

/** A notice as the email one recipient gets. */
export function noticeEmail(recipient: { username: string; emailAddress: string }, content: NoticeContent, gate: NoticeGate): EmailMessage {
  return compose(recipient.emailAddress, content.subject, [`Hello ${recipient.username},`, ...content.paragraphs, WHY[gate]()]);
}

/** When, and from where, a change was made: what lets a person tell their own change from someone else's. */
export interface ChangeMade {
  at: string;
  clientAddress?: string;
}

const someoneElseSignsIn =
  'someone else can sign in to your account: sign out everywhere from the account settings page, check your API keys and your Microsoft account, and contact support.';
const notYouSignedIn = `If this was not you, ${someoneElseSignsIn}`;

export interface NoticedKey {
  id: string;
  description: string;
  owner: string;
}

const keyName = (key: NoticedKey) => `'${oneLine(key.description)}' (id ${key.id}, pushing for ${key.owner})`;

export function apiKeyCreatedNotice(key: NoticedKey & { scopes: string[]; packageGlobs: string[]; expiresAt: string }, change: ChangeMade): NoticeContent {
  return {
    subject: `API key '${oneLine(key.description)}' created`,
    paragraphs: [
      `The API key ${keyName(key)} was created for your account at ${readableTime(change.at)}${fromAddress(change.clientAddress)}. It allows ${key.scopes.join(', ')} for packages matching ${key.packageGlobs.join(', ')} until ${readableTime(key.expiresAt)}.`,
      `If you did not create it, revoke it at once on the API keys page (${apiKeysPage()}). ${notYouSignedIn}`,
    ],
  };
}

export function apiKeyRegeneratedNotice(key: NoticedKey & { expiresAt: string }, change: ChangeMade): NoticeContent {
  return {
    subject: `API key '${oneLine(key.description)}' regenerated`,
    paragraphs: [
      `The API key ${keyName(key)} was given a new secret at ${readableTime(change.at)}${fromAddress(change.clientAddress)}. Its old secret no longer works; it now expires at ${readableTime(key.expiresAt)}.`,
      `If you did not regenerate it, revoke it at once on the API keys page (${apiKeysPage()}). ${notYouSignedIn}`,
    ],
  };
}

export function apiKeyEditedNotice(key: NoticedKey & { packageGlobs: string[] }, changed: { description: boolean; packageGlobs: boolean }, change: ChangeMade): NoticeContent {
  const what = [
    ...(changed.description ? [`its description is now '${oneLine(key.description)}'`] : []),
    ...(changed.packageGlobs ? [`it now covers packages matching ${key.packageGlobs.join(', ')}`] : []),
  ];
  return {
    subject: `API key '${oneLine(key.description)}' changed`,
    paragraphs: [
      `The API key ${keyName(key)} was changed at ${readableTime(change.at)}${fromAddress(change.clientAddress)}: ${what.join(', and ')}.`,
      `If you did not change it, revoke it at once on the API keys page (${apiKeysPage()}). ${notYouSignedIn}`,
    ],
  };
}

/** Why a key was revoked, as its holder is told (support's revocation of a leaked key has its own message). */
export type RevokedBecause = 'holder' | 'owner_deleted' | 'left_organization';

export function apiKeyRevokedNotice(key: NoticedKey, because: RevokedBecause, change: ChangeMade): NoticeContent {
  const when = readableTime(change.at);
  const paragraphs = {
    holder: [
      `The API key ${keyName(key)} was revoked at ${when}${fromAddress(change.clientAddress)}. It no longer works for anyone.`,
      `If you did not revoke it, ${someoneElseSignsIn}`,
    ],
    owner_deleted: [
      `The API key ${keyName(key)} was revoked at ${when}, because the organization ${key.owner} it pushed for was deleted. It no longer works for anyone.`,
      'If you did not expect the organization to be deleted, contact support.',
    ],
    left_organization: [
      `The API key ${keyName(key)} was revoked at ${when}, because you are no longer a member of ${key.owner}, which it pushed for. It no longer works for anyone.`,
      `If you did not expect to leave ${key.owner}, ask one of its admins, or contact support.`,
    ],
  }[because];
  return { subject: `API key '${oneLine(key.description)}' revoked`, paragraphs };
}

export function microsoftAccountLinkedNotice(
  linked: { name: string; email?: string | null },
  effects: { replacedAnother: boolean; passwordRemoved: boolean },
  change: ChangeMade,
): NoticeContent {
  return {
    subject: 'A Microsoft account was linked to your account',
    paragraphs: [
      `The Microsoft account ${oneLine(linked.name)} <${linked.email ?? 'no email address'}> was linked to your package gallery account at ${readableTime(change.at)}${fromAddress(change.clientAddress)}: it is now the one you sign in with, and every other session was ended.` +
        (effects.replacedAnother ? ' The Microsoft account linked before no longer signs in.' : '') +
        (effects.passwordRemoved ? ' Your password was removed: password sign-in ends once a Microsoft account is linked.' : ''),
      'If this was not you, someone else now signs in to your account: contact support at once, and do not use it until support has answered.',
    ],
  };
}

export function passwordSetNotice(change: ChangeMade): NoticeContent {
  return {
    subject: 'A password was set for your account',
    paragraphs: [
      `A password was set for your package gallery account at ${readableTime(change.at)}${fromAddress(change.clientAddress)}, with a reset link sent to this address. Every session was ended. A password only lets you back in to link a new Microsoft account.`,
      'If this was not you, someone can read this mailbox or followed your link: secure your email account, then contact support.',
    ],
  };
}

/** To the address an account had, once the switch to its new one is made: the old mailbox hears of it last. */
export function emailAddressChangedNotice(username: string, oldAddress: string, newAddress: string, change: ChangeMade): NoticeContent {
  return {
    subject: 'Your email address was changed',
    paragraphs: [
      `The email address of your package gallery account ${username} was changed from ${oldAddress} to ${newAddress} at ${readableTime(change.at)}${fromAddress(change.clientAddress)}, when the new address was confirmed. This address no longer gets the account's emails and cannot reset its password.`,
      'If this was not you, contact support at once: someone who could sign in to your account has moved it to an address they read.',
    ],
  };
}

const asRole = (role: string) => (role === 'admin' ? 'an admin' : 'a collaborator');

/** To the member and the organization's admins. */
export function memberJoinedNotice(organization: string, member: string, role: string, change: ChangeMade): NoticeContent {
  return {
    subject: `${member} joined the organization ${organization}`,
    paragraphs: [
      `${member} accepted the invitation to the organization ${organization} and joined it as ${asRole(role)} at ${readableTime(change.at)}.`,
      `If you did not expect this, an admin of ${organization} can remove the member on the organization's members page.`,
    ],
  };
}

/** `by` is the admin who removed the member; absent when the member left (or its account was deleted). */
export function memberRemovedNotice(organization: string, member: string, how: { by?: string; accountDeleted?: boolean }, change: ChangeMade): NoticeContent {
  const what = how.accountDeleted
    ? `${member} is no longer a member of the organization ${organization}: its account was deleted at ${readableTime(change.at)}.`
    : how.by
      ? `${how.by} removed ${member} from the organization ${organization} at ${readableTime(change.at)}.`
      : `${member} left the organization ${organization} at ${readableTime(change.at)}.`;
  return {
    subject: `${member} is no longer a member of ${organization}`,
    paragraphs: [
      `${what} The API keys ${member} made for ${organization} no longer work.`,
      `If you did not expect this, ask an admin of ${organization}, or contact support.`,
    ],
  };
}

/**
 * To an organization's admins when the domain of its address lapsed (the address itself may be read by whoever
 * holds the domain now, so it is not told). `reason` and `eventDate` as the account's `emailDomainLapsed` has them.
 */
export function organizationEmailDomainLapsedNotice(
  organization: string,
  lapse: { domain: string; reason: 'expired' | 'pending_delete' | 'reregistered'; eventDate: string | null },
): NoticeContent {
  const what = {
    expired: `expired${lapse.eventDate ? ` on ${readableTime(lapse.eventDate)}` : ''}`,
    pending_delete: 'is being deleted by its registry',
    reregistered: `was registered again${lapse.eventDate ? ` on ${readableTime(lapse.eventDate)}` : ''}, after the organization confirmed its address`,
  }[lapse.reason];
  return {
    subject: `The email address of ${organization} no longer counts as confirmed`,
    paragraphs: [
      `The registry's public record (RDAP) shows that ${lapse.domain}, the domain of the email address of the organization ${organization}, ${what}. ` +
        'Whoever holds the domain now may read that mailbox, so the address counts as unconfirmed: it gets no notices until it is confirmed again.',
      `If ${organization} still holds the domain, an admin can send a new confirmation link to the address from the organization's settings. If not, contact support.`,
    ],
  };
}

/**
 * `by` is the admin who changed it; absent when the organization's last admin was deleted and every
 * collaborator became an admin (then `members` names them all).
 */
export function memberRoleChangedNotice(organization: string, members: string[], role: string, by: string | undefined, change: ChangeMade): NoticeContent {
  const who = members.join(', ');
  const are = members.length === 1 ? 'is' : 'are';
  const what = by
    ? `${by} made ${who} ${asRole(role)} of the organization ${organization} at ${readableTime(change.at)}.`
    : `${who} ${are} now ${members.length === 1 ? asRole(role) : `${role}s`} of the organization ${organization}: its last admin's account was deleted at ${readableTime(change.at)}.`;
  return {
    subject: `${who} ${are} now ${members.length === 1 ? asRole(role) : `${role}s`} of ${organization}`,
    paragraphs: [what, `If you did not expect this, ask an admin of ${organization}, or contact support.`],
  };
}

/** Who froze or unfroze an organization: one of its admins, or a site admin acting for support. */
export interface OrganizationActor {
  username: string;
  support: boolean;
}

const actorName = (actor: OrganizationActor) => (actor.support ? `Support (${actor.username})` : actor.username);
const askActor = (actor: OrganizationActor) => (actor.support ? 'contact support' : `ask ${actor.username}, or contact support`);

/** Why an admin is told: an organization's keys and freezes concern every admin, whatever their settings. */
const asAdminOf = (organization: string) =>
  `You get this as an admin of ${organization}: notices about its API keys and about freezing it go to every admin.`;

export function organizationFrozenNotice(organization: string, by: OrganizationActor, reason: string, change: ChangeMade): NoticeContent {
  return {
    subject: `The organization ${organization} is frozen`,
    paragraphs: [
      `${actorName(by)} froze the organization ${organization} at ${readableTime(change.at)}, giving the reason: "${oneLine(reason)}".`,
      `While it is frozen every API key of ${organization} is refused, whoever holds it, no key can be made or regenerated for it, and trusted publishing gives no keys for it. Its members' sessions and their own keys are not affected. Any admin of ${organization} can unfreeze it on the organization's page once it is safe.`,
      `If you did not expect this, ${askActor(by)}.`,
      asAdminOf(organization),
    ],
  };
}

export function organizationUnfrozenNotice(organization: string, by: OrganizationActor, reason: string | undefined, change: ChangeMade): NoticeContent {
  const because = reason ? `, giving the reason: "${oneLine(reason)}"` : '';
  return {
    subject: `The organization ${organization} is no longer frozen`,
    paragraphs: [
      `${actorName(by)} unfroze the organization ${organization} at ${readableTime(change.at)}${because}. Its API keys work again, unless they were revoked or have expired meanwhile, and trusted publishing gives keys for it again.`,
      `If you did not expect this, someone may have taken over an admin's account: freeze ${organization} again at once, revoke the keys of any member you do not trust, and contact support.`,
      asAdminOf(organization),
    ],
  };
}

/** To the member whose keys an admin revoked, and to every admin of the organization. */
export function memberKeysRevokedNotice(organization: string, member: string, by: string, keys: NoticedKey[], change: ChangeMade): NoticeContent {
  const named = keys.map((key) => `'${oneLine(key.description)}' (id ${key.id})`).join(', ');
  return {
    subject: `The API keys ${member} held for ${organization} were revoked`,
    paragraphs: [
      `${by} revoked every API key ${member} held for the organization ${organization} at ${readableTime(change.at)}: ${named}. They no longer work for anyone.`,
      `${member} is still a member of ${organization}, and the trusted publishing policies ${member} made for it still give keys. If ${member}'s account may be in someone else's hands, an admin should also remove ${member} from ${organization}, or freeze the organization.`,
      `If you did not expect this, ask ${by}, or contact support.`,
      `This notice goes to every admin of ${organization} and to ${member}.`,
    ],
  };
}

export function transformAcceptedNotice(account: string, admin: string, change: ChangeMade): NoticeContent {
  return {
    subject: `${account} is now an organization`,
    paragraphs: [
      `${admin} accepted to administer ${account}, which became an organization at ${readableTime(change.at)}: it can no longer sign in, every session of it was ended, its packages stay, and its API keys now belong to ${admin}.`,
      `If you did not ask for this, contact support at once.`,
    ],
  };
}

export function transformRejectedNotice(account: string, admin: string, change: ChangeMade): NoticeContent {
  return {
    subject: `${admin} declined to administer ${account}`,
    paragraphs: [
      `${admin} declined the request to administer ${account} as an organization, at ${readableTime(change.at)}. The account stays as it is.`,
      'If you still want to turn it into an organization, ask another account to administer it. If you did not ask at all, contact support.',
    ],
  };
}

export function packageOwnerAddedNotice(packageId: string, owner: string, invitedBy: string, change: ChangeMade): NoticeContent {
  return {
    subject: `${owner} is now an owner of ${packageId}`,
    paragraphs: [
      `${owner} accepted the invitation ${invitedBy} sent and became an owner of the package ${packageId} at ${readableTime(change.at)}.`,
      `If you did not expect this, an owner of ${packageId} can remove it on the package's owners page.`,
    ],
  };
}

/** `by` is whoever removed the owner; absent when the owner's account was deleted. */
export function packageOwnerRemovedNotice(packageId: string, owner: string, by: string | undefined, change: ChangeMade): NoticeContent {
  const what = by
    ? `${by} removed ${owner} from the owners of the package ${packageId} at ${readableTime(change.at)}.`
    : `${owner} is no longer an owner of the package ${packageId}: its account was deleted at ${readableTime(change.at)}.`;
  return {
    subject: `${owner} is no longer an owner of ${packageId}`,
    paragraphs: [what, `If you did not expect this, contact the other owners of ${packageId}, or support.`],
  };
}

/** The key a push was made with, as its record names it. */
export interface PushKey {
  keyId: string;
  keyDescription: string;
  holder?: string;
}

const pushKeyName = (key: PushKey) => `the API key '${oneLine(key.keyDescription)}' (id ${key.keyId})${key.holder ? ` of ${key.holder}` : ''}`;

export function packagePushedNotice(packageId: string, version: string, pushedWith: PushKey, change: ChangeMade): NoticeContent {
  const by = pushKeyName(pushedWith);
  return {
    subject: `Package pushed: ${packageId} ${version}`,
    paragraphs: [
      `The package ${packageId} ${version} was pushed at ${readableTime(change.at)} with ${by}.`,
      `If this push was not intended, unlist the version, have the key revoked, and contact support: a key that can push for you may have leaked.`,
    ],
  };
}

/**
 * The alarm: a long-lived key pushed a package that trusted publishing pushes (`trustedPublishingPushed`, its
 * latest push so), as a stolen token published axios in 2026 although trusted publishing was set up for it.
 */
export function longLivedKeyPushAlarm(
  packageId: string,
  version: string,
  pushedWith: PushKey,
  trustedPublishingPushed: { at: string; version: string } | undefined,
  change: ChangeMade,
): NoticeContent {
  const by = pushKeyName(pushedWith);
  const before = trustedPublishingPushed
    ? `trusted publishing pushed it before (its latest such push: ${trustedPublishingPushed.version}, at ${readableTime(trustedPublishingPushed.at)})`
    : 'trusted publishing pushed it before';
  return {
    subject: `Security alert: ${packageId} ${version} was pushed with a long-lived API key`,
    paragraphs: [
      `The package ${packageId} ${version} was pushed at ${readableTime(change.at)} with ${by}: a long-lived key, not one trusted publishing gave a CI workflow, although ${before}. A package that publishes from CI and is suddenly pushed with a stored key is how stolen keys publish malicious versions.`,
      `If this push was not intended: unlist the version, have the key revoked, check the package's owners and contact support. To refuse every key but those trusted publishing makes, an owner turns on trusted-publishing-only for ${packageId}.`,
    ],
  };
}

/** `reader`: the account that switched it (told where from), or the other owners. */
export function trustedPublishingOnlyNotice(packageId: string, on: boolean, change: ChangeMade & { by: string }, reader: 'actor' | 'owners'): NoticeContent {
  const from = reader === 'actor' ? fromAddress(change.clientAddress) : '';
  const what = on
    ? `From now on only API keys trusted publishing gives a CI workflow can push ${packageId} or unlist and relist its versions; every other key is refused. Owners signed in can still unlist and relist.`
    : `Any API key of an owner whose scopes cover ${packageId} can push it again.`;
  const notYou = reader === 'actor' ? notYouSignedIn : `If you did not expect this, ask ${change.by}, or contact support.`;
  return {
    subject: `Trusted-publishing-only turned ${on ? 'on' : 'off'} for ${packageId}`,
    paragraphs: [
      `${change.by} turned trusted-publishing-only ${on ? 'on' : 'off'} for the package ${packageId} at ${readableTime(change.at)}${from}. ${what}`,
      on ? notYou : `${notYou} Turning it off is what someone who wants to push with a stolen key does first: if it should stay on, turn it on again.`,
    ],
  };
}

export function ownerInvitationDeclinedNotice(packageId: string, invitee: string, change: ChangeMade): NoticeContent {
  return {
    subject: `${invitee} declined to own ${packageId}`,
    paragraphs: [
      `${invitee} declined the invitation to become an owner of the package ${packageId}, at ${readableTime(change.at)}.`,
      `If you did not invite ${invitee}, check the owners of ${packageId}, or contact support.`,
    ],
  };
}

/**
 * Withdrawn `by` someone who manages the package, or because its sender no longer does (`senderLeft`: no longer
 * an owner, or no longer an admin of the organization it sent it for).
 */
export function ownerInvitationWithdrawnNotice(
  packageId: string,
  invitee: string,
  withdrawal: { by: string } | { senderLeft: string },
  change: ChangeMade,
): NoticeContent {
  const when = readableTime(change.at);
  const what =
    'by' in withdrawal
      ? `${withdrawal.by} withdrew the invitation for ${invitee} to become an owner of the package ${packageId}, at ${when}.`
      : `The invitation ${withdrawal.senderLeft} sent for ${invitee} to become an owner of the package ${packageId} was withdrawn at ${when}: ${withdrawal.senderLeft} no longer manages the package.`;
  return {
    subject: `Invitation to own ${packageId} withdrawn`,
    paragraphs: [
      `${what} Its link no longer works.`,
      'Nothing needs doing. If you expected to become an owner, ask the owners of the package to invite you again.',
    ],
  };
}

/** A trusted publishing policy as its notices name it. */
export interface NoticedPolicy {
  id: string;
  /** The username of the account that made it. */
  creator: string;
  /** Whose packages the keys it makes push: its maker, or an organization. */
  owner: string;
  /** Whom it trusts, in its provider's words. */
  publisher: PublisherDescription;
  /** Whether it stops working if no run uses it within 7 days. */
  lapses: boolean;
  /** What the keys it makes may do, and which package ids they cover. */
  scopes: string[];
  packageGlobs: string[];
}

/** How a trusted publishing provider describes what a policy trusts (lib/trustedPublishing/providers). */
export interface PublisherDescription {
  /** For subjects: "contoso/contoso-sdk, release.yml". */
  short: string;
  /** The jobs it trusts: "runs of the workflow release.yml of the GitHub repository contoso/contoso-sdk (in any deployment environment)". */
  runs: string;
  /** One of them: "a run of the workflow …". */
  aRun: string;
  /** What publishes, as in "that workflow": "workflow". */
  publisher: string;
  /** What its first use does, when it does something: "the first run that uses it pins it to that repository". */
  firstUse?: string;
}

/**
 * Who a policy's notice is written for: its maker (standing rights to publish for its account are its security),
 * or the admins of the organization the policy makes keys for (its maker aside, who has its own).
 */
export type PolicyReader = 'maker' | 'admins';

/** A change to a policy: who made it and when, and where from when it is told to the maker who made it. */
export interface PolicyChange extends ChangeMade {
  by: string;
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

const policySubject = (policy: NoticedPolicy, what: string) => `Trusted publishing policy ${what}: ${policy.publisher.short}`;

/** What happens to a policy not used yet: it lapses, its first use pins it, both, or neither. */
function untilFirstUse(policy: NoticedPolicy): string {
  const clauses = [policy.lapses ? 'unused, the policy lapses in 7 days' : undefined, policy.publisher.firstUse].filter(Boolean);
  return clauses.length === 0 ? '' : ` ${capitalized(clauses.join('; '))}.`;
}

/** What the keys a policy makes may do, after "API key" (`one`) or "API keys": by default, push any package of its owner. */
function keysThat(policy: NoticedPolicy, one: boolean): string {
  const { owner, scopes, packageGlobs } = policy;
  const packages = packageGlobs.length === 1 && packageGlobs[0] === '*' ? `any package of ${owner}` : `the packages of ${owner} matching ${packageGlobs.join(', ')}`;
  if (scopes.length === 1 && scopes[0] === 'package:push') return `that ${one ? 'pushes' : 'push'} ${packages}`;
  return `with the scopes ${scopes.join(', ')} for ${packages}`;
}

/** Where the reader removes a policy: the maker its own, an admin those of the organization. */
const removeThePolicy = (policy: NoticedPolicy, reader: PolicyReader) =>
  `remove the policy at once in your account settings (${settingsPage()})${reader === 'admins' ? `, which list the policies made for ${policy.owner}` : ''}`;

/** The admins learn why they are told; the maker's notice says so in its last line. */
const forReader = (policy: NoticedPolicy, reader: PolicyReader, paragraphs: string[]) =>
  reader === 'admins' ? [...paragraphs, `You get this as an admin of ${policy.owner}.`] : paragraphs;

/** The address is told only to the maker, and only of its own change: an admin's or a member's stays theirs. */
const madeFrom = (reader: PolicyReader, change: ChangeMade) => (reader === 'maker' ? fromAddress(change.clientAddress) : '');

export function trustedPublisherAddedNotice(policy: NoticedPolicy, change: PolicyChange, reader: PolicyReader): NoticeContent {
  return {
    subject: policySubject(policy, 'added'),
    paragraphs: forReader(policy, reader, [
      `${change.by} added a trusted publishing policy (id ${policy.id}) at ${readableTime(change.at)}${madeFrom(reader, change)}: ${policy.publisher.runs} can now get API keys ${keysThat(policy, false)}, each key for 15 minutes.${untilFirstUse(policy)}`,
      reader === 'maker'
        ? `If you did not add it, ${removeThePolicy(policy, reader)}. ${notYouSignedIn}`
        : `If you did not expect it, ask ${change.by}, and if it should not be there, ${removeThePolicy(policy, reader)}.`,
    ]),
  };
}

export function trustedPublisherRemovedNotice(policy: NoticedPolicy, change: PolicyChange, reader: PolicyReader): NoticeContent {
  const byMaker = change.by === policy.creator;
  return {
    subject: policySubject(policy, 'removed'),
    paragraphs: forReader(policy, reader, [
      `${change.by} removed the trusted publishing policy (id ${policy.id}${byMaker ? '' : `, made by ${policy.creator}`}) at ${readableTime(change.at)}${madeFrom(reader, change)}. ${capitalized(policy.publisher.runs)} get no more API keys for ${policy.owner}, and the keys it gave out no longer work.`,
      reader === 'maker' && byMaker
        ? `If you did not remove it, ${someoneElseSignsIn}`
        : `If you did not expect this, ask ${change.by}, or contact support. To publish from the ${policy.publisher.publisher} again, add the policy again.`,
    ]),
  };
}

/** The first run that fully matched a policy pinned it to what its provider describes (`pinnedTo`). */
export function trustedPublisherPinnedNotice(policy: NoticedPolicy, pinnedTo: string, change: ChangeMade, reader: PolicyReader): NoticeContent {
  return {
    subject: policySubject(policy, 'first used'),
    paragraphs: forReader(policy, reader, [
      `The trusted publishing policy (id ${policy.id}, made by ${policy.creator}) was used for the first time at ${readableTime(change.at)}${madeFrom(reader, change)}: ${policy.publisher.aRun} used it to ask for an API key ${keysThat(policy, true)}. The policy is now pinned to ${pinnedTo}.`,
      `If you did not expect that ${policy.publisher.publisher} to publish now, ${removeThePolicy(policy, reader)}, then check the latest versions of the packages of ${policy.owner}: unlist any that was not meant to be published, and contact support.`,
    ]),
  };
}

/** No run used the policy within 7 days of its making: it lapsed at `lapsedAt`, and gives no more keys. */
export function trustedPublisherLapsedNotice(policy: NoticedPolicy, lapsedAt: string, reader: PolicyReader): NoticeContent {
  return {
    subject: policySubject(policy, 'lapsed'),
    paragraphs: forReader(policy, reader, [
      `The trusted publishing policy (id ${policy.id}, made by ${policy.creator}) lapsed at ${readableTime(lapsedAt)}: no run used it within 7 days of its making, so ${policy.publisher.runs} get no API keys ${keysThat(policy, false)} from it.`,
      `To publish from that ${policy.publisher.publisher}, add the policy again and use it within 7 days; otherwise remove it in the account settings (${settingsPage()}).`,
    ]),
  };
}

const expiresWithin = (warning: '7d' | '1d') => (warning === '7d' ? 'within 7 days' : 'within a day');

/** 7 days, then 1 day, before a key expires, to the account that holds it. */
export function apiKeyExpiringMessage(holder: { username: string; emailAddress: string }, key: NoticedKey & { expiresAt: string }, warning: '7d' | '1d'): EmailMessage {
  const within = expiresWithin(warning);
  return noticeEmail(
    holder,
    {
      subject: `Your API key '${oneLine(key.description)}' expires ${within}`,
      paragraphs: [
        `Your API key ${keyName(key)} expires ${within}, at ${readableTime(key.expiresAt)}. From then on every push with it fails.`,
        `To keep publishing, regenerate it (or create a new one) on the API keys page, ${apiKeysPage()}, and put the new secret wherever the key is used, such as a CI secret. If you no longer need it, let it expire.`,
      ],
    },
    'security',
  );
}

/**
 * The same warnings of a key an organization owns, to its admins (its holder aside, told by its own): a key a
 * CI job publishes with outlives the person who made it, and someone must renew or replace it.
 */
export function organizationKeyExpiringNotice(key: NoticedKey & { expiresAt: string; holder: string }, warning: '7d' | '1d'): NoticeContent {
  const within = expiresWithin(warning);
  return {
    subject: `An API key of ${key.owner} expires ${within}`,
    paragraphs: [
      `The API key ${keyName(key)}, held by ${key.holder}, expires ${within}, at ${readableTime(key.expiresAt)}. From then on every push with it fails.`,
      `${key.holder} can regenerate it on the API keys page (${apiKeysPage()}). If nobody does, whatever publishes with it (a CI job) stops: make a key for ${key.owner} and put it there instead, or publish with trusted publishing, whose keys need no renewing.`,
      asAdminOf(key.owner),
    ],
  };
}
