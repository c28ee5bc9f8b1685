import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { nowIso } from './clock';
import { Problem } from './problems';
import { settings } from './settings';
import { container, isNotFound, isTransientStoreError } from './storage/cosmos';

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
  'organization_created',
  'organization_deleted',
  'member_invited',
  'invitation_received',
  'invitation_accepted',
  'invitation_rejected',
  'invitation_cancelled',
  'member_role_changed',
  'member_removed',
  'organization_left',
  'transform_requested',
  'transform_cancelled',
  'transform_accepted',
  'transform_rejected',
  'api_key_created',
  'api_key_regenerated',
  'api_key_revoked',
  'package_owner_invited',
  'package_owner_added',
  'package_owner_removed',
  'prefix_reserved',
  'deletion_requested',
  'deletion_cancelled',
  'account_deleted',
  // Site admins acting for support: on the affected account's log (with the admin and the reason) ...
  'locked_by_support',
  'unlocked_by_support',
  'deletion_scheduled_by_support',
  'username_released_by_support',
  'api_key_revoked_by_support',
  // ... and on the admin's own log.
  'support_action',
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
 * The continuation tokens this service gives out: Cosmos DB's, signed for the account they page, so a forged
 * or altered one, or another account's, is refused here whatever the store would make of it.
 */
function continuationSignature(accountId: string, continuation: string): Buffer {
  return createHmac('sha256', settings().SESSION_SIGNING_KEY).update(`audit-continuation\n${accountId}\n${continuation}`).digest();
}

function wrapContinuation(accountId: string, continuation: string): string {
  const signature = continuationSignature(accountId, continuation).toString('base64url');
  return `${Buffer.from(continuation, 'utf8').toString('base64url')}.${signature}`;
}

function unwrapContinuation(accountId: string, token: string): string {
  const [encoded, signature, ...rest] = token.split('.');
  if (rest.length > 0 || !encoded || !signature) throw badContinuation();
  const continuation = Buffer.from(encoded, 'base64url').toString('utf8');
  const expected = continuationSignature(accountId, continuation);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw badContinuation();
  return continuation;
}

/**
 * One page of the account's own log, newest first: a query within its partition. The continuation token
 * is Cosmos DB's, signed and wrapped so it travels safely in a URL.
 */
export async function readAuditLog(accountId: string, pageSize = 20, continuationToken?: string): Promise<z.infer<typeof auditPage>> {
  const continuation = continuationToken === undefined ? undefined : unwrapContinuation(accountId, continuationToken);
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
    continuationToken: page.continuationToken ? wrapContinuation(accountId, page.continuationToken) : null,
  };
}

/** Erases an account's security log (account deletion), all but the record of the deletion itself. */
export async function eraseAuditLog(accountId: string): Promise<void> {
  const events = container('audit').items.query<{ id: string; action: AuditAction }>(
    // The WHERE repeats the partition key: the stand-in ignores the option, Cosmos DB then reads one partition.
    { query: 'SELECT c.id, c.action FROM c WHERE c.accountId = @id', parameters: [{ name: '@id', value: accountId }] },
    { partitionKey: accountId, maxItemCount: 100 },
  );
  const erased: string[] = [];
  while (events.hasMoreResults()) {
    for (const event of (await events.fetchNext()).resources) if (event.action !== 'account_deleted') erased.push(event.id);
  }
  for (let i = 0; i < erased.length; i += 20) {
    await Promise.all(
      erased.slice(i, i + 20).map((id) =>
        container('audit').item(id, accountId).delete().catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        }),
      ),
    );
  }
}
