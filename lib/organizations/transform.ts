import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { nowIso } from '../shared/clock';
import { transformAcceptedNotice, transformRejectedNotice, transformRequestMessage } from '../shared/email/messages';
import { deliverSoon, queueEmail } from '../shared/email/outbox';
import { Problem } from '../shared/problems';
import { enforceEmailingLimits } from '../shared/rateLimits';
import { findToken, issueToken, spendToken, tokensConcerning, type TokenDocument } from '../shared/tokens';
import { hasTrustedAddress, readAccount, tokenRecipient, tokenStillAddressed, updateAccount, type AccountDocument } from '../accounts/account';
import { releaseClaim } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { announced, noticeTo } from '../accounts/notices';
import { confirmedIndividual, invitationTokenBody } from './membership';
import { mirrorMembership } from './organization';
import { ORGANIZATION_EMAIL_LIMITS } from './rateLimits';
import { recordMembershipChange } from './trail';
import { handOverApiKeys } from '../packages/apiKeys';
import type { Log } from '../shared/log';

export const requestTransformBody = z.object({ adminUsername: usernameField }).strict();
export const transformTokenBody = invitationTokenBody;

const TRANSFORM_REQUEST_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

const notAllowed = (detail: string) => new Problem('transform_not_allowed', detail);

function assertTransformable(account: AccountDocument): void {
  if (!hasTrustedAddress(account)) {
    throw new Problem('email_unconfirmed', 'Confirm your email address before turning the account into an organization.');
  }
  if (account.organizations.length > 0) {
    throw notAllowed(
      `An account that belongs to organizations cannot become one. Leave ${account.organizations.map((o) => o.name).join(', ')} first.`,
    );
  }
}

/**
 * Asks another confirmed individual account, named by username, to administer this account as an
 * organization; the emailed token goes to that admin. Asking again replaces the earlier request (and counts
 * against the limits per account and per admin).
 */
export async function requestTransform(account: AccountDocument, adminUsername: string, clientAddress: string, log: Log) {
  assertTransformable(account);
  const admin = await confirmedIndividual(adminUsername);
  if (admin.id === account.id) throw notAllowed('The admin must be another account than the one becoming an organization.');
  await enforceEmailingLimits(ORGANIZATION_EMAIL_LIMITS.transformRequest, account.id, admin.id);
  const token = await issueToken('transform', tokenRecipient(admin), TRANSFORM_REQUEST_LIFETIME_MS, account.id);
  const email = await queueEmail(transformRequestMessage(admin, account.username, token), { container: 'accounts', id: account.id });
  await updateAccount(account.id, (current) => ({
    ...current,
    pendingTransform: { adminAccountId: admin.id, adminUsername: admin.username, tokenId: token.id, requestedAt: nowIso() },
  }));
  await recordAudit(account.id, 'transform_requested', clientAddress, { admin: admin.username });
  await deliverSoon(email, log);
}

export async function cancelTransform(account: AccountDocument, clientAddress: string): Promise<void> {
  if (!account.pendingTransform) return;
  await updateAccount(account.id, (current) => ({ ...current, pendingTransform: null }));
  await recordAudit(account.id, 'transform_cancelled', clientAddress);
}

const invalidRequest = () =>
  new Problem('invalid_token', 'This request is not valid any more: it may have expired, been cancelled or answered already.');

/** The transform request `secret` stands for, if the caller is the admin it names, at the address it went to. */
async function requestForAdmin(secret: string, admin: AccountDocument): Promise<{ token: TokenDocument; account: AccountDocument }> {
  const token = await findToken(secret, 'transform');
  if (!tokenStillAddressed(token, admin)) throw invalidRequest();
  const account = token.subjectId ? await readAccount(token.subjectId) : undefined;
  if (!account) throw invalidRequest();
  return { token, account };
}

/**
 * The account becomes an organization with the caller as its admin. It keeps its id, so its name, email
 * address and packages stay as they are, and its API keys pass to the admin, still owned by it; it loses
 * its Microsoft account, password and sessions. Each step
 * can run again: an accept that died halfway is finished by accepting again, since the token is spent last.
 * The account's own address is told (once), as a notice about its security: it can no longer sign in.
 */
export async function acceptTransform(secret: string, admin: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const { token, account } = await requestForAdmin(secret, admin);
  if (account.kind === 'user') {
    if (account.pendingTransform?.tokenId !== token.id) throw invalidRequest();
    assertTransformable(account);
  }
  const content = transformAcceptedNotice(account.username, admin.username, { at: nowIso() });
  const notice = await noticeTo(account, 'security', content, { container: 'accounts', id: account.id }, { onceKey: `transform-accepted:${token.id}` });
  const organization = await announced(notice, () => turnIntoOrganization(account, token, admin), log, (changed) => changed?.transformedFrom?.tokenId === token.id);
  if (organization?.kind !== 'organization' || organization.transformedFrom?.tokenId !== token.id) throw invalidRequest();
  const former = organization.transformedFrom.microsoftAccount;
  if (former) await releaseClaim({ kind: 'microsoft', tid: former.tid, oid: former.oid }, organization.id);
  await mirrorMembership(admin.id, organization.username, 'admin');
  await handOverApiKeys(organization.id, admin);
  await recordAudit(admin.id, 'transform_accepted', clientAddress, { organization: organization.username });
  await recordAudit(organization.id, 'transform_accepted', clientAddress, { admin: admin.username });
  const joined = { member: admin.username, role: 'admin' };
  await recordMembershipChange(organization.id, 'transform_accepted', admin, joined, `transformed:${token.id}`);
  await spendToken(token);
}

/**
 * The account's document becomes the organization's, with the admin as its one member; a second run changes
 * nothing. Whether it may is decided again on the document written: a membership it gained since it was read
 * refuses it.
 */
function turnIntoOrganization(account: AccountDocument, token: TokenDocument, admin: AccountDocument) {
  return updateAccount(account.id, (current) => {
    if (current.kind === 'organization') return undefined;
    if (current.pendingTransform?.tokenId !== token.id) throw invalidRequest();
    assertTransformable(current);
    return {
      ...current,
      kind: 'organization',
      members: [{ accountId: admin.id, username: admin.username, role: 'admin' }],
      pendingInvitations: [],
      transformedFrom: { tokenId: token.id, microsoftAccount: current.microsoftAccount },
      pendingTransform: null,
      pendingEmailAddress: null,
      microsoftAccount: null,
      passwordHash: null,
      failedPasswordAttempts: 0,
      lockedUntil: null,
      sessionVersion: current.sessionVersion + 1,
    };
  });
}

/** The admin declines; the account that asked is told (unless it turned such emails off). */
export async function rejectTransform(secret: string, admin: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const { token, account } = await requestForAdmin(secret, admin);
  if (account.kind !== 'user' || account.pendingTransform?.tokenId !== token.id) throw invalidRequest();
  const content = transformRejectedNotice(account.username, admin.username, { at: nowIso() });
  const notice = await noticeTo(account, 'emailAllowed', content, { container: 'accounts', id: account.id });
  // Of two answers at once, the one that spends the token tells the account.
  await announced(
    notice,
    async () => {
      await withdrawRequest(account.id, token.id);
      await spendToken(token);
    },
    log,
  );
  await recordAudit(admin.id, 'transform_rejected', clientAddress, { account: account.username });
  await recordAudit(account.id, 'transform_rejected', clientAddress, { admin: admin.username });
}

/** The account no longer waits for the answer to the request `tokenId` stands for (a newer one stays). */
async function withdrawRequest(accountId: string, tokenId: string): Promise<void> {
  await updateAccount(accountId, (current) => (current.pendingTransform?.tokenId === tokenId ? { ...current, pendingTransform: null } : undefined));
}

/**
 * Drops the transform requests an account is part of (account deletion): those asking it to administer
 * another account, which then waits no more, and its own. The tokens go with the account's.
 */
export async function dropTransformRequests(accountId: string): Promise<void> {
  for (const token of await tokensConcerning(accountId, 'transform')) {
    if (token.subjectId && token.subjectId !== accountId) await withdrawRequest(token.subjectId, token.id);
  }
  await updateAccount(accountId, (account) => (account.pendingTransform ? { ...account, pendingTransform: null } : undefined));
}
