import { z } from 'zod';
import { AUDIT_ACTIONS, readTrail, recordTrailEvent, type AuditAction, type AuditEvent } from '../shared/audit';
import { readAccount, type AccountDocument } from '../accounts/account';
import { organizationForMember } from './organization';

/**
 * An organization's audit trail: the events of its partition of `audit` that belong to its trail. What
 * was done for it with its keys and by its members' sessions (pushes, unlists, relists), changes of its
 * packages' owners and of its prefixes, its keys, its membership, and what support did to it (naming the
 * site admin). Usernames are kept as they were, so what a member did stays after it leaves; client addresses
 * are not kept, its members being other people.
 */
export const organizationAuditPage = z.object({
  events: z.array(
    z.object({
      at: z.string(),
      action: z.enum(AUDIT_ACTIONS),
      actor: z
        .object({ username: z.string() })
        .nullable()
        .describe('The member who did it, or the site admin who did it for support (then also named in `details.siteAdmin`)'),
      apiKey: z
        .object({
          id: z.string(),
          description: z.string(),
          trustedPublishing: z.literal(true).optional().describe('A short-lived key a trusted publishing policy gave a CI job'),
        })
        .nullable()
        .describe('The key it was done with, if any'),
      details: z.record(z.string(), z.string()).describe('What it was done to: package, version, owner, prefix, member, role; `siteAdmin` and `reason` for support'),
    }),
  ),
  continuationToken: z.string().nullable(),
});

/** Members' names the records do not carry (keys made before keys named their maker): point reads, once each. */
async function actorNames(events: AuditEvent[]): Promise<Map<string, string>> {
  const unnamed = [...new Set(events.filter((e) => e.actor && !e.actor.username).map((e) => e.actor!.accountId))];
  const accounts = await Promise.all(unnamed.map((id) => readAccount(id)));
  return new Map(accounts.flatMap((account) => (account ? [[account.id, account.username] as const] : [])));
}

/** One page of the organization's trail, newest first, for its members; anyone else gets the 404 of a name nobody has. */
export async function getOrganizationAudit(name: string, caller: AccountDocument, pageSize?: number, continuationToken?: string) {
  const organization = await organizationForMember(name, caller);
  const page = await readTrail(organization.id, pageSize, continuationToken);
  const names = await actorNames(page.events);
  return {
    events: page.events.map(({ at, action, actor, apiKey, details }) => {
      const username = actor && (actor.username ?? names.get(actor.accountId));
      return { at, action, actor: username ? { username } : null, apiKey: apiKey ?? null, details: details ?? {} };
    }),
    continuationToken: page.continuationToken,
  };
}

/**
 * Records a change of the organization's membership (or of the organization itself) in its trail, naming
 * who made it. An `id` makes a step that may run again record once.
 */
export async function recordMembershipChange(
  organizationId: string,
  action: AuditAction,
  actor: Pick<AccountDocument, 'id' | 'username'>,
  details: Record<string, string>,
  id?: string,
): Promise<void> {
  await recordTrailEvent([organizationId], { action, actor: { accountId: actor.id, username: actor.username }, details, ...(id ? { id } : {}) });
}
