import type { NoticeContent, NoticedPolicy, PolicyReader } from '../shared/email/messages';
import type { Log } from '../shared/log';
import type { AccountDocument } from '../accounts/account';
import { noticesTogether, noticeToAll, type Notice } from '../accounts/notices';
import { roleOf, type OrganizationDocument } from '../organizations/organization';
import { providerNamed } from './providers';
import { heldByOwner, makerOf, type TrustedPublisherDocument } from './store';

/** The policy as its notices name it. */
export function noticed(policy: TrustedPublisherDocument): NoticedPolicy {
  const provider = providerNamed(policy.provider);
  const { id, creatorName: creator, ownerName: owner, scopes, packageGlobs } = policy;
  return { id, creator, owner, publisher: provider.describe(policy.criteria), lapses: provider.lapses, scopes, packageGlobs };
}

/**
 * Whether the maker is told of its policy: always of one in its own partition (for itself, or stored there for an
 * organization before organizations held theirs); of an organization's while it belongs to the organization
 * (`owner`, its document), since the organization's policies are not a former member's business.
 */
const makerIsTold = (policy: TrustedPublisherDocument, owner: AccountDocument | undefined): boolean =>
  !heldByOwner(policy) ||
  policy.ownerId === makerOf(policy) ||
  (owner?.kind === 'organization' && roleOf(owner as OrganizationDocument, makerOf(policy)) !== undefined);

/**
 * Queues, before the change, the notices of a change to a policy, both `security`, sent whatever the
 * preferences (standing rights to publish are never silent): to its maker (see `makerIsTold`), and for an
 * organization's policy to the organization's admins, the maker aside. Both travel by the outbox timer: the
 * request writes an entry for each and sends nothing itself. Work that may run again queues them once
 * (`onceKey`); `afterChange`: the change is made already (a timer's).
 */
export function policyNotice(
  policy: TrustedPublisherDocument,
  owner: AccountDocument | undefined,
  content: (reader: PolicyReader) => NoticeContent,
  log: Log,
  options: { onceKey?: string; afterChange?: boolean } = {},
): Promise<Notice> {
  const maker = makerOf(policy);
  const queued = (audience: PolicyReader) => ({
    afterChange: options.afterChange,
    ...(options.onceKey ? { onceKey: `${options.onceKey}:${audience}` } : {}),
  });
  const toMaker = () => noticeToAll([maker], 'security', content('maker'), { container: 'accounts', id: maker }, queued('maker'));
  const toAdmins = () =>
    noticeToAll([policy.ownerId], 'security', content('admins'), { container: 'accounts', id: policy.ownerId }, { ...queued('admins'), except: [maker] });
  return noticesTogether([...(makerIsTold(policy, owner) ? [toMaker] : []), ...(policy.ownerId !== maker ? [toAdmins] : [])], log);
}
