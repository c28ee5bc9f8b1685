import { randomUUID } from 'node:crypto';
import { nowIso } from './clock';
import { container } from './storage/cosmos';

export type AuditAction =
  | 'account_registered'
  | 'signed_in'
  | 'email_confirmed'
  | 'signed_out_everywhere';

export interface AuditEvent {
  id: string;
  accountId: string;
  action: AuditAction;
  at: string;
  clientAddress: string;
  details?: Record<string, string>;
}

/** Appends to the account's security log. */
export async function recordAudit(
  accountId: string,
  action: AuditAction,
  clientAddress: string,
  details?: Record<string, string>,
): Promise<void> {
  const event: AuditEvent = { id: randomUUID(), accountId, action, at: nowIso(), clientAddress, ...(details ? { details } : {}) };
  await container('audit').items.create(event);
}
