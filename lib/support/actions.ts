import { z } from 'zod';
import { recordAudit, type AuditAction } from '../shared/audit';
import type { AccountDocument } from '../accounts/account';

/** Why support acted: a note for the affected account's security log and the admin's own. */
export const reasonField = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .meta({ examples: ['Published malware; reported by the security team (case 4711).'] });

/** The body of an action whose reason may be left out: `{ reason? }`, `{}`, or no body at all. */
export const optionalReasonBody = z.object({ reason: reasonField.optional() }).strict().optional();

/**
 * Records what a site admin did: on the affected account's security log, with the admin's username and the
 * reason, and on the admin's own log, naming the account.
 */
export async function recordSupportAction(
  admin: AccountDocument,
  affected: Pick<AccountDocument, 'id' | 'username'>,
  action: AuditAction,
  reason: string | undefined,
  clientAddress: string,
  details: Record<string, string> = {},
): Promise<void> {
  const why: Record<string, string> = reason ? { reason } : {};
  await recordAudit(affected.id, action, clientAddress, { ...details, siteAdmin: admin.username, ...why });
  await recordAudit(admin.id, 'support_action', clientAddress, { ...details, action, account: affected.username, ...why });
}
