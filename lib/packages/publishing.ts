import { z } from 'zod';
import { nowIso } from '../shared/clock';
import { trustedPublishingOnlyNotice } from '../shared/email/messages';
import type { Log } from '../shared/log';
import { updateDocumentFrom } from '../shared/storage/cosmos';
import type { AccountDocument } from '../accounts/account';
import { announced, noticesTogether, noticeTo, noticeToAll } from '../accounts/notices';
import { recordPackageChange } from './packageEvents';
import { isOwner, noSuchPackage, packageManagedBy, viewWithInvitations, type PackageDocument, type packageView } from './packages';

/**
 * Trusted-publishing-only (issue 24; the 2026 axios hijack published with a stolen token although trusted
 * publishing was set up): an owner turns it on, and from then on the push check and the key's unlist refuse
 * every key trusted publishing did not make (`trusted_publishing_required`, in lib/packages/packages.ts, on the
 * package document they read anyway). Owners signed in still unlist and relist: a session is no stored key.
 */
export const publishingBody = z
  .object({
    trustedPublishingOnly: z.boolean().describe('true: only API keys trusted publishing made may push the package or unlist and relist its versions'),
  })
  .strict();

/**
 * Turns trusted-publishing-only on or off: by an owner, or an admin of an owning organization; anyone else gets
 * the 404 of a package that does not exist, as the package's other settings would answer them. The switch is
 * told to every owner (an organization: its admins), queued before the write and sent once it is made: to the
 * account that switched it, with the address it did it from, always (its own session did it: if that was not
 * the person, its sign-in is someone else's); to the other owners unless they turned such notices off, like every
 * other change to their packages. Setting what is already so writes, records and tells nothing.
 */
export async function setTrustedPublishingOnly(
  packageId: string,
  on: boolean,
  caller: AccountDocument,
  clientAddress: string,
  log: Log,
): Promise<z.infer<typeof packageView>> {
  const { pkg, actingAs } = await packageManagedBy(packageId, caller);
  const change = { by: caller.username, at: nowIso(), clientAddress };
  const cause = { container: 'packages' as const, id: pkg.id };
  const owners = pkg.owners.map((o) => o.accountId);
  const notice = await noticesTogether(
    [
      () => noticeTo(caller, 'security', trustedPublishingOnlyNotice(pkg.displayId, on, change, 'actor'), cause),
      () => noticeToAll(owners, 'emailAllowed', trustedPublishingOnlyNotice(pkg.displayId, on, change, 'owners'), cause, { except: [caller.id] }),
    ],
    log,
  );
  let switched = false;
  const updated = await announced(
    notice,
    () =>
      updateDocumentFrom<PackageDocument>('packages', pkg, (current) => {
        // Removed as an owner (or its organization's admin) a moment ago: the package is none of its business now.
        if (!isOwner(current, actingAs.accountId)) throw noSuchPackage(packageId);
        switched = (current.trustedPublishingOnly === true) !== on;
        return switched ? { ...current, trustedPublishingOnly: on } : undefined;
      }),
    log,
    () => switched,
  );
  const now = updated ?? pkg;
  if (switched) {
    const action = on ? 'trusted_publishing_only_enabled' : 'trusted_publishing_only_disabled';
    await recordPackageChange(action, { account: caller, clientAddress }, { package: pkg.displayId }, now.owners.map((o) => o.accountId));
  }
  return viewWithInvitations(now);
}
