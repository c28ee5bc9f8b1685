import { z } from 'zod';
import type { AccountDocument, OrganizationRole } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { invitationRecordsOf } from './owners';
import { isOwner, ownedPackageIds, readPackages, stillPending, type PackageDocument } from './packages';
import { anyVersionListed } from './packageVersions';

const invitationView = z.object({
  package: z.string(),
  username: z.string().describe('The account or organization invited'),
  owner: z.string().nullable().describe('The owner it was sent for: the inviter, or an organization the inviter administers'),
  invitedBy: z.string().nullable(),
  invitedAt: z.string().nullable(),
  expiresAt: z.string(),
});

export const myPackagesView = z.object({
  packages: z
    .array(z.object({ id: z.string(), owner: z.string().describe('The caller, or the organization it belongs to that owns it'), listed: z.boolean() }))
    .describe('One entry per package and owning name, by id'),
  invitations: z.object({
    received: z.array(invitationView).describe('To the caller, and to organizations it administers'),
    sent: z.array(invitationView).describe('For the caller, and for organizations it administers'),
  }),
});

interface Owner {
  id: string;
  name: string;
  role: OrganizationRole;
}

/** The caller and the organizations it belongs to, each by its own document (the caller's list only names them). */
async function ownersActingFor(caller: AccountDocument): Promise<Owner[]> {
  const organizations = await Promise.all(caller.organizations.map(({ name }) => accountHolding({ kind: 'username', name })));
  const memberships = organizations.flatMap((organization) => {
    const role = organization?.kind === 'organization' && !organization.deletedAt && organization.members?.find((m) => m.accountId === caller.id)?.role;
    return organization && role ? [{ id: organization.id, name: organization.username, role }] : [];
  });
  return [{ id: caller.id, name: caller.username, role: 'admin' }, ...memberships];
}

/** Whether each package is listed: a query within each one's versions (a document that holds them answers itself), 50 at a time. */
async function listedOf(packages: readonly PackageDocument[]): Promise<Map<string, boolean>> {
  const listed = new Map<string, boolean>();
  for (let i = 0; i < packages.length; i += 50) {
    const batch = packages.slice(i, i + 50);
    const answers = await Promise.all(batch.map((pkg) => anyVersionListed(pkg)));
    batch.forEach((pkg, j) => listed.set(pkg.id, answers[j]));
  }
  return listed;
}

/**
 * What the caller owns, directly or through its organizations, and the owner invitations it has received
 * and sent (itself, or for an organization it administers). One query within each owner's partition of
 * `ownerships` and `ownerInvitations`, then point reads of the packages, whose documents decide: a copy
 * whose ownership or invitation has gone meanwhile is left out; then whether each package owned is listed.
 */
export async function getMyPackages(caller: AccountDocument): Promise<z.infer<typeof myPackagesView>> {
  const owners = await ownersActingFor(caller);
  const admins = owners.filter((o) => o.role === 'admin');
  const [owned, records] = await Promise.all([
    Promise.all(owners.map((owner) => ownedPackageIds(owner.id, 10_000))),
    Promise.all(admins.map((owner) => invitationRecordsOf(owner.id))),
  ]);
  const packageIds = [...new Set([...owned.flat(), ...records.flat().map((r) => r.packageId)])];
  const packages = new Map<string, PackageDocument>((await readPackages(packageIds)).map((pkg) => [pkg.id, pkg]));

  const ownedBy = owners.flatMap((owner, i) =>
    owned[i].flatMap((id) => {
      const pkg = packages.get(id);
      return pkg && isOwner(pkg, owner.id) ? [{ pkg, owner }] : [];
    }),
  );
  const listed = await listedOf([...new Map(ownedBy.map(({ pkg }) => [pkg.id, pkg])).values()]);
  const rows = ownedBy.map(({ pkg, owner }) => ({ id: pkg.displayId, owner: owner.name, listed: listed.get(pkg.id) === true }));
  const invitations = records.flat().flatMap((record) => {
    const pkg = packages.get(record.packageId);
    const pending = pkg?.pendingOwners.find((p) => p.tokenId === record.tokenId && stillPending(p));
    if (!pkg || !pending) return [];
    const view = {
      package: pkg.displayId,
      username: pending.username,
      owner: pending.invitedFor?.username ?? null,
      invitedBy: pending.invitedBy?.username ?? null,
      invitedAt: pending.invitedAt ?? null,
      expiresAt: pending.expiresAt,
    };
    return [{ side: record.side, view }];
  });
  const byId = (a: { id: string; owner: string }, b: { id: string; owner: string }) =>
    a.id.toLowerCase().localeCompare(b.id.toLowerCase()) || a.owner.toLowerCase().localeCompare(b.owner.toLowerCase());
  const newestFirst = (a: { expiresAt: string }, b: { expiresAt: string }) => b.expiresAt.localeCompare(a.expiresAt);
  return {
    packages: rows.sort(byId),
    invitations: {
      received: invitations.filter((i) => i.side === 'received').map((i) => i.view).sort(newestFirst),
      sent: invitations.filter((i) => i.side === 'sent').map((i) => i.view).sort(newestFirst),
    },
  };
}
