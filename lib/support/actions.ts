import { recordAudit, recordTrailEvent, type AuditAction, type AuditApiKey } from '../shared/audit';
import type { AccountDocument } from '../accounts/account';

/** The account or organization a site admin acted on. */
export type AffectedAccount = Pick<AccountDocument, 'id' | 'username' | 'kind'>;

/** What a site admin did to an account: the action, why, what it was done to, and the key it was done to, if any. */
export interface SupportRecord {
  action: AuditAction;
  reason?: string;
  details?: Record<string, string>;
  apiKey?: AuditApiKey;
}

/**
 * Records what a site admin did where the affected account's people read it, naming the admin (`siteAdmin`)
 * and the reason: an individual's security log, with the client address; an organization's trail, which its
 * members read (the admin its actor, no client address), since nobody reads an organization's own log. A
 * key is named as each names keys: by `keyId` in a security log, as `apiKey` in a trail.
 */
export async function recordOnAffectedAccount(admin: AccountDocument, affected: AffectedAccount, record: SupportRecord, clientAddress: string): Promise<void> {
  const { action, reason, apiKey } = record;
  const details = { ...record.details, siteAdmin: admin.username, ...(reason ? { reason } : {}) };
  if (affected.kind === 'organization') {
    await recordTrailEvent([affected.id], { action, actor: { accountId: admin.id, username: admin.username }, details, ...(apiKey ? { apiKey } : {}) });
  } else {
    await recordAudit(affected.id, action, clientAddress, apiKey ? { keyId: apiKey.id, ...details } : details);
  }
}

/**
 * Records what a site admin did: where the affected account's people read it (`recordOnAffectedAccount`), and
 * on the admin's own log, naming the account.
 */
export async function recordSupportAction(admin: AccountDocument, affected: AffectedAccount, record: SupportRecord, clientAddress: string): Promise<void> {
  await recordOnAffectedAccount(admin, affected, record, clientAddress);
  const { action, reason, apiKey } = record;
  await recordAudit(admin.id, 'support_action', clientAddress, {
    ...(apiKey ? { keyId: apiKey.id } : {}),
    ...record.details,
    action,
    account: affected.username,
    ...(reason ? { reason } : {}),
  });
}
