import { z } from 'zod';
import { clock } from '../shared/clock';
import { Problem } from '../shared/problems';
import { updateAccount, type AccountDocument, type Invitation, type Member, type OrganizationRole } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';

export interface OrganizationDocument extends AccountDocument {
  kind: 'organization';
  members: Member[];
  pendingInvitations: NonNullable<AccountDocument['pendingInvitations']>;
}

export const roleField = z.enum(['admin', 'collaborator']);

/** `{name}`: an organization. */
export const organizationParams = z.object({ name: usernameField });
/** `{name}` and `{username}`: an organization and one of its members (or someone invited). */
export const memberParams = z.object({ name: usernameField, username: usernameField });

/** A freeze as members see it (and support). */
export const frozenView = z
  .object({
    at: z.string(),
    by: z.string().describe('The admin, or the site admin, who froze it'),
    reason: z.string(),
  })
  .nullable()
  .describe('Set while it is frozen: every API key it owns answers 401, and no key can be made for it');

export const organizationView = z.object({
  name: z.string(),
  members: z.array(z.object({ username: z.string(), role: roleField })),
  frozen: frozenView,
  emailAddress: z.string().optional().describe('admins only'),
  emailConfirmed: z.boolean().optional().describe('admins only'),
  emailDomainLapsed: z
    .boolean()
    .optional()
    .describe("admins only: the address's domain expired or was registered again since it was confirmed, so it counts as unconfirmed; an admin sends a new confirmation link"),
  pendingInvitations: z
    .array(z.object({ username: z.string(), role: roleField, invitedAt: z.string(), expiresAt: z.string() }))
    .optional()
    .describe('admins only'),
});

const notFound = (name: string) =>
  new Problem('not_found', `There is no organization named '${name}' that you are a member of.`);

/** An invitation not yet expired: the others show nowhere, count for nothing, and go with the next invitation. */
export const stillWaiting = (invitation: Invitation, now = clock.now().getTime()): boolean => Date.parse(invitation.expiresAt) > now;

export const roleOf = (organization: OrganizationDocument, accountId: string): OrganizationRole | undefined =>
  organization.members.find((member) => member.accountId === accountId)?.role;

/** The organization, for one of its members; anyone else learns nothing, not even that it exists. */
export async function organizationForMember(name: string, caller: AccountDocument): Promise<OrganizationDocument> {
  const account = await accountHolding({ kind: 'username', name });
  if (account?.kind !== 'organization' || account.deletedAt) throw notFound(name);
  const organization = account as OrganizationDocument;
  if (!roleOf(organization, caller.id)) throw notFound(name);
  return organization;
}

export function assertAdmin(organization: OrganizationDocument, caller: AccountDocument): void {
  if (roleOf(organization, caller.id) !== 'admin') {
    throw new Problem('admin_required', `Only an admin of '${organization.username}' can do this.`);
  }
}

export async function organizationForAdmin(name: string, caller: AccountDocument): Promise<OrganizationDocument> {
  const organization = await organizationForMember(name, caller);
  assertAdmin(organization, caller);
  return organization;
}

/** Members see who is in it and whether it is frozen; admins also see its address and who is invited. */
export function toOrganizationView(organization: OrganizationDocument, viewerId: string): z.infer<typeof organizationView> {
  const members = organization.members.map(({ username, role }) => ({ username, role }));
  const seenByMembers = { name: organization.username, members, frozen: organization.frozen ?? null };
  if (roleOf(organization, viewerId) !== 'admin') return seenByMembers;
  return {
    ...seenByMembers,
    emailAddress: organization.emailAddress,
    emailConfirmed: organization.emailConfirmed,
    emailDomainLapsed: Boolean(organization.emailDomainLapsed),
    pendingInvitations: organization.pendingInvitations
      .filter((invitation) => stillWaiting(invitation))
      .map(({ username, role, invitedAt, expiresAt }) => ({ username, role, invitedAt, expiresAt })),
  };
}

/** Read-modify-write of the organization under its ETag: concurrent membership changes never overwrite each other. */
export async function updateOrganization(
  id: string,
  change: (organization: OrganizationDocument) => OrganizationDocument | undefined,
): Promise<OrganizationDocument | undefined> {
  return (await updateAccount(id, (current) =>
    current.kind === 'organization' && !current.deletedAt ? change(current as OrganizationDocument) : undefined,
  )) as OrganizationDocument | undefined;
}

/**
 * Mirrors a membership onto the member's own account, which lists its organizations for GET /api/me.
 * The organization's document is the truth; this copy is brought in line with it, idempotently.
 */
export async function mirrorMembership(accountId: string, organizationName: string, role: OrganizationRole | null): Promise<void> {
  await updateAccount(accountId, (account) => {
    const others = account.organizations.filter((o) => o.name.toLowerCase() !== organizationName.toLowerCase());
    const next = role ? [...others, { name: organizationName, role }] : others;
    const unchanged = JSON.stringify(next) === JSON.stringify(account.organizations);
    return unchanged ? undefined : { ...account, organizations: next };
  });
}

export function assertKeepsAnAdmin(members: Member[], organizationName: string): void {
  if (!members.some((member) => member.role === 'admin')) {
    throw new Problem('last_admin', `'${organizationName}' must keep at least one admin. Make another member an admin first.`);
  }
}

/** The organizations nobody but the account administers, by name: theirs to hand over before it is deleted. */
export async function organizationsSolelyAdministered(account: AccountDocument): Promise<string[]> {
  const names: string[] = [];
  for (const membership of account.organizations.filter((o) => o.role === 'admin')) {
    const organization = await accountHolding({ kind: 'username', name: membership.name });
    const admins = organization?.members?.filter((m) => m.role === 'admin') ?? [];
    if (admins.length === 1 && admins[0].accountId === account.id) names.push(organization!.username);
  }
  return names;
}
