import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { nowIso } from './clock';
import { Problem } from './http/problems';
import { container, isTransientStoreError } from './storage/cosmos';

export const AUDIT_ACTIONS = [
  'account_registered',
  'signed_in',
  'sign_in_failed',
  'account_locked',
  'signed_out_everywhere',
  'password_reset_requested',
  'password_reset',
  'microsoft_account_changed',
  'email_confirmed',
  'email_change_requested',
  'email_change_cancelled',
  'email_changed',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

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

export const auditQuery = z.object({
  pageSize: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 100, 'must be a whole number from 1 to 100')
    .optional(),
  continuationToken: z.string().max(4096).optional(),
});

export const auditPage = z.object({
  events: z.array(
    z.object({
      at: z.string(),
      action: z.enum(AUDIT_ACTIONS),
      clientAddress: z.string(),
      details: z.record(z.string(), z.string()).optional(),
    }),
  ),
  continuationToken: z.string().nullable(),
});

const badContinuation = () =>
  new Problem('invalid_request', "The query parameter 'continuationToken' is not one this service gave out. Start again from the first page.");

/**
 * One page of the account's own log, newest first: a query within its partition. The continuation token
 * is Cosmos DB's, wrapped so it travels safely in a URL.
 */
export async function readAuditLog(accountId: string, pageSize = 20, continuationToken?: string): Promise<z.infer<typeof auditPage>> {
  let continuation: string | undefined;
  if (continuationToken !== undefined) {
    continuation = Buffer.from(continuationToken, 'base64url').toString('utf8');
    if (!continuation.startsWith('[') && !continuation.startsWith('{')) throw badContinuation();
  }
  const iterator = container('audit').items.query<AuditEvent>(
    { query: 'SELECT * FROM c WHERE c.accountId = @accountId ORDER BY c.at DESC', parameters: [{ name: '@accountId', value: accountId }] },
    { partitionKey: accountId, maxItemCount: pageSize, continuationToken: continuation },
  );
  let page;
  try {
    page = await iterator.fetchNext();
  } catch (error) {
    // The token is the caller's to tamper with; whatever the SDK makes of a bad one is the caller's error.
    if (continuation !== undefined && !isTransientStoreError(error)) throw badContinuation();
    throw error;
  }
  return {
    events: page.resources.map(({ at, action, clientAddress, details }) => ({ at, action, clientAddress, ...(details ? { details } : {}) })),
    continuationToken: page.continuationToken ? Buffer.from(page.continuationToken, 'utf8').toString('base64url') : null,
  };
}
