import type { InvocationContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { recordAudit } from '../audit';
import { nowIso } from '../clock';
import { confirmOrganizationEmailMessage } from '../email/messages';
import { deliverSoon, queueEmail } from '../email/outbox';
import { Problem } from '../http/problems';
import { container } from '../storage/cosmos';
import { issueToken } from '../tokens';
import { newAccountDocument, type AccountDocument } from '../accounts/account';
import { releaseClaim, withClaims, type ClaimKey } from '../accounts/claims';
import { CONFIRMATION_LIFETIME_MS } from '../accounts/emailAddress';
import { assertValidUsername, emailAddressField, emailInUse, usernameField, usernameUnavailable } from '../accounts/names';
import { ownedPackageIds } from '../packages/packages';
import { assertAdmin, mirrorMembership, organizationForAdmin, toOrganizationView, updateOrganization, type OrganizationDocument } from './organization';

export const createOrganizationBody = z.object({ name: usernameField, emailAddress: emailAddressField }).strict();

/**
 * Creates an organization in the username namespace with the caller as its admin. Like a registration, it
 * claims the name and the address first and gives them back if it cannot finish.
 */
export async function createOrganization(
  input: z.infer<typeof createOrganizationBody>,
  caller: AccountDocument,
  clientAddress: string,
  log: Pick<InvocationContext, 'warn'>,
) {
  if (!caller.emailConfirmed) {
    throw new Problem('email_unconfirmed', 'Confirm your own email address before you create an organization.');
  }
  assertValidUsername(input.name);
  const id = randomUUID();
  const keys: Array<[ClaimKey, Problem]> = [
    [{ kind: 'username', name: input.name }, usernameUnavailable(input.name)],
    [{ kind: 'email', address: input.emailAddress }, emailInUse(input.emailAddress)],
  ];
  const organization: OrganizationDocument = {
    ...newAccountDocument({ id, kind: 'organization', username: input.name, emailAddress: input.emailAddress, microsoftAccount: null }),
    kind: 'organization',
    members: [{ accountId: caller.id, username: caller.username, role: 'admin' }],
    pendingInvitations: [],
  };
  const email = await withClaims(id, keys, async () => {
    const { secret } = await issueToken('confirm-email', id, input.emailAddress, CONFIRMATION_LIFETIME_MS);
    const queued = await queueEmail(confirmOrganizationEmailMessage(input.name, input.emailAddress, secret), { container: 'accounts', id });
    await container('accounts').items.create(organization);
    return queued;
  });
  await mirrorMembership(caller.id, organization.username, 'admin');
  await recordAudit(caller.id, 'organization_created', clientAddress, { organization: organization.username });
  await deliverSoon(email, log);
  return toOrganizationView(organization, caller.id);
}

/**
 * Deletes an organization that has no other members and no packages. Its name stays reserved forever: the
 * document stays behind as a tombstone that the name's claim points to. Its address is released.
 */
export async function deleteOrganization(name: string, caller: AccountDocument, clientAddress: string): Promise<void> {
  const organization = await organizationForAdmin(name, caller);
  const packages = await ownedPackageIds(organization.id, 5);
  if (packages.length > 0) {
    throw new Problem(
      'organization_not_empty',
      `'${organization.username}' still owns packages: ${packages.join(', ')}${packages.length === 5 ? ', …' : ''}. Transfer or remove its ownership first.`,
    );
  }
  const deleted = await updateOrganization(organization.id, (current) => {
    assertAdmin(current, caller);
    const others = current.members.filter((member) => member.accountId !== caller.id);
    if (others.length > 0) {
      throw new Problem(
        'organization_not_empty',
        `'${current.username}' still has ${others.length === 1 ? 'a member' : `${others.length} members`}: ${others.map((m) => m.username).join(', ')}. Remove ${others.length === 1 ? 'them' : 'them all'} first.`,
      );
    }
    return { ...current, members: [], pendingInvitations: [], deletedAt: nowIso() };
  });
  if (!deleted) return;
  await releaseClaim({ kind: 'email', address: organization.emailAddress }, organization.id);
  await mirrorMembership(caller.id, organization.username, null);
  await recordAudit(caller.id, 'organization_deleted', clientAddress, { organization: organization.username });
}
