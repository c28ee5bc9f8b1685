import { z } from 'zod';
import { reasonField } from '../shared/audit';
import { leakedApiKeyRevokedMessage } from '../shared/email/messages';
import { deliverSoon, queueEmail } from '../shared/email/outbox';
import type { Log } from '../shared/log';
import { Problem } from '../shared/problems';
import { apiKeySecretField, auditKeyOf, revokeLeakedKey, type ApiKeyDocument } from '../packages/apiKeys';
import { hasTrustedAddress, readAccount, type AccountDocument } from '../accounts/account';
import { recordOnAffectedAccount, recordSupportAction } from './actions';

export const revokeLeakedKeyBody = z.object({ key: apiKeySecretField, reason: reasonField.optional() }).strict();

export const revokedKeyView = z.object({
  id: z.string(),
  description: z.string(),
  owner: z.string(),
  holder: z.string().nullable().describe('The username of the account that holds the key, which was told'),
  revokedAt: z.string().nullable(),
  outcome: z
    .enum(['revoked', 'already_revoked', 'expired'])
    .describe('`revoked` by this call; `already_revoked` before it (by its holder, or as leaked); `expired`, and left so'),
});

/**
 * Revokes a leaked key given its secret, and tells its holder by email (plain text and HTML, through the
 * outbox, queued once per key whatever the retries). The secret is hashed and compared, never kept, logged or
 * recorded: the logs name the key by its id. 404 when no key has this secret; a key already revoked or
 * expired is answered as it is.
 */
export async function revokeLeakedApiKey(
  admin: AccountDocument,
  input: z.infer<typeof revokeLeakedKeyBody>,
  clientAddress: string,
  log: Log,
): Promise<z.infer<typeof revokedKeyView>> {
  const revoked = await revokeLeakedKey(input.key);
  if (!revoked) throw new Problem('not_found', 'No API key has this secret. Check that it was copied whole.');
  const { key, revokedNow } = revoked;
  const holder = await readAccount(key.creatorAccountId);
  if (revokedNow) await recordRevocation(admin, key, holder, input.reason, clientAddress);
  // Also when an earlier call revoked it as leaked and stopped before its email was queued.
  if (key.revokedBecause === 'leaked' && holder && hasTrustedAddress(holder) && !holder.deletedAt) await tellHolder(key, holder, log);
  return {
    id: key.id,
    description: key.description,
    owner: key.ownerName,
    holder: holder?.username ?? null,
    revokedAt: key.revokedAt,
    outcome: revokedNow ? 'revoked' : key.revokedAt ? 'already_revoked' : 'expired',
  };
}

/** In the holder's log (or trail) and, for an organization's key one of its members held, in its trail too. */
async function recordRevocation(
  admin: AccountDocument,
  key: ApiKeyDocument,
  holder: AccountDocument | undefined,
  reason: string | undefined,
  clientAddress: string,
): Promise<void> {
  const record = { action: 'api_key_revoked_by_support' as const, reason, apiKey: auditKeyOf(key) };
  if (holder) await recordSupportAction(admin, holder, record, clientAddress);
  if (key.ownerAccountId === key.creatorAccountId) return;
  const owner = await readAccount(key.ownerAccountId);
  if (owner) await recordOnAffectedAccount(admin, owner, record, clientAddress);
}

async function tellHolder(key: ApiKeyDocument, holder: AccountDocument, log: Log): Promise<void> {
  const message = leakedApiKeyRevokedMessage(holder, { description: key.description, owner: key.ownerName, revokedAt: key.revokedAt ?? '' });
  const email = await queueEmail(message, { container: 'apiKeys', id: key.id }, `leaked-api-key:${key.id}`);
  await deliverSoon(email, log);
}
