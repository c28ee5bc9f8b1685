/**
 * An organization stops itself: while it is frozen, every API key it owns answers 401, no key can be made or
 * regenerated for it, and trusted publishing gives no keys for it, until it is unfrozen. Its admins freeze and
 * unfreeze it (`POST /api/organizations/{name}/freeze`, `.../unfreeze`), and so do site admins for support
 * (lib/support). Every admin is told of each, whatever their settings: it is the organization's security.
 *
 * The freeze is a suspension of keys as support's lock is one (lib/packages/apiKeys.ts, `matchKeysToSuspension`):
 * written on the organization's document first, then its mark on every key it owns, before the answer, so the
 * push check sees it on the one key it reads and nothing on a hot path reads more. A key made while it is being
 * frozen is revoked by its maker's own look at the organization once the key exists.
 */
import { z } from 'zod';
import { reasonField, recordAudit } from '../shared/audit';
import { nowIso } from '../shared/clock';
import { organizationFrozenNotice, organizationUnfrozenNotice, type OrganizationActor } from '../shared/email/messages';
import type { Log } from '../shared/log';
import { Problem } from '../shared/problems';
import type { AccountDocument, OrganizationFreeze } from '../accounts/account';
import { announced, noticeToAll } from '../accounts/notices';
import { matchKeysToSuspension } from '../packages/apiKeys';
import { assertAdmin, organizationForAdmin, toOrganizationView, updateOrganization, type OrganizationDocument } from './organization';
import { recordMembershipChange } from './trail';

export const freezeBody = z.object({ reason: reasonField }).strict();

/** What the caller of `setFreeze` adds: a check on the document written, and the record of a change made. */
interface FreezeSteps {
  /** Throws if the caller may not change it, as the document written shows (an admin demoted a moment ago). */
  check?(current: OrganizationDocument): void;
  /** Records the change, once, by the call that made it: before its keys are changed, so a call cut short leaves it recorded. */
  record(): Promise<void>;
}

/**
 * Freezes the organization (a `freeze`) or unfreezes it (`null`), for an admin or for support: the change is
 * written on its document, told to every admin and recorded, then every key it owns is suspended or restored.
 * Freezing a frozen organization keeps the first freeze and unfreezing an unfrozen one changes nothing (neither
 * is told or recorded again), and each finishes bringing the keys in line: a freeze or unfreeze cut short is
 * finished by asking again. Answers the organization.
 */
export async function setFreeze(
  organization: OrganizationDocument,
  freeze: OrganizationFreeze | null,
  by: OrganizationActor,
  reason: string | undefined,
  log: Log,
  steps: FreezeSteps,
): Promise<OrganizationDocument> {
  const change = { at: nowIso() };
  const content = freeze
    ? organizationFrozenNotice(organization.username, by, freeze.reason, change)
    : organizationUnfrozenNotice(organization.username, by, reason, change);
  const notice = await noticeToAll([organization.id], 'security', content, { container: 'accounts', id: organization.id });
  let changed = false;
  const updated = await announced(
    notice,
    () =>
      updateOrganization(organization.id, (current) => {
        steps.check?.(current);
        changed = Boolean(current.frozen) !== Boolean(freeze);
        return changed ? { ...current, frozen: freeze } : undefined;
      }),
    log,
    () => changed,
  );
  if (!updated) throw new Problem('not_found', `The organization '${organization.username}' has been deleted.`);
  if (changed) await steps.record();
  await matchKeysToSuspension(organization.id, 'freeze');
  return updated;
}

/** An admin freezes the organization: recorded in its trail and the admin's own log. */
export async function freezeOrganization(name: string, reason: string, caller: AccountDocument, clientAddress: string, log: Log) {
  const organization = await organizationForAdmin(name, caller);
  return setFreezeAsAdmin(organization, { at: nowIso(), by: caller.username, reason }, undefined, caller, clientAddress, log);
}

/** An admin unfreezes it: the keys the freeze suspended work again, unless revoked, expired or locked meanwhile. */
export async function unfreezeOrganization(name: string, reason: string | undefined, caller: AccountDocument, clientAddress: string, log: Log) {
  const organization = await organizationForAdmin(name, caller);
  return setFreezeAsAdmin(organization, null, reason, caller, clientAddress, log);
}

async function setFreezeAsAdmin(
  organization: OrganizationDocument,
  freeze: OrganizationFreeze | null,
  reason: string | undefined,
  caller: AccountDocument,
  clientAddress: string,
  log: Log,
) {
  const action = freeze ? 'organization_frozen' : 'organization_unfrozen';
  const why = freeze?.reason ?? reason;
  const details: Record<string, string> = why ? { reason: why } : {};
  const updated = await setFreeze(organization, freeze, { username: caller.username, support: false }, reason, log, {
    check: (current) => assertAdmin(current, caller),
    record: async () => {
      await recordAudit(caller.id, action, clientAddress, { organization: organization.username, ...details });
      await recordMembershipChange(organization.id, action, caller, details);
    },
  });
  return toOrganizationView(updated, caller.id);
}
