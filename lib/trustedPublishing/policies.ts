import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { recordAudit, recordTrailEvent, type AuditAction } from '../shared/audit';
import { clock, nowIso } from '../shared/clock';
import { trustedPublisherAddedNotice, trustedPublisherPinnedNotice, trustedPublisherRemovedNotice } from '../shared/email/messages';
import type { Log } from '../shared/log';
import { Problem } from '../shared/problems';
import { isNotFound, updateDocumentFrom, container } from '../shared/storage/cosmos';
import { readAccount, type AccountDocument } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { announced } from '../accounts/notices';
import { allowedOwner, API_KEY_SCOPES, apiKeyScopesField, packageGlobsField } from '../packages/apiKeys';
import { deleteOrganization } from '../organizations/lifecycle';
import { roleOf, type OrganizationDocument } from '../organizations/organization';
import { indexLapse } from './lapses';
import { noticed, policyNotice } from './policyNotices';
import { DEFAULT_PROVIDER, PROVIDERS, providerNamed } from './providers';
import type { Pin, PinRule, TrustedPublishingProvider } from './providers/provider';
import {
  DEFAULT_GLOBS,
  DEFAULT_SCOPES,
  deleteTrustedPublishersOf,
  hasFreeSlot,
  hasLapsed,
  heldByOwner,
  isPointer,
  makerOf,
  MAX_POLICIES_PER_ACCOUNT,
  partitionOf,
  policiesInPartitionOf,
  policiesOfOrganizations,
  policyFrom,
  policyWithId,
  removePolicy,
  revokeKeysOf,
  storeOrganizationPolicy,
  storePolicy,
  type PolicyPointerDocument,
  type StoredPolicy,
  type TrustedPublisherDocument,
} from './store';

/**
 * Trusted publishing policies: an account trusts the jobs of one CI provider that its criteria name (a GitHub
 * Actions workflow of a repository, and optionally its deployment environment; providers/) to be given
 * short-lived API keys for itself or for an organization it belongs to (NuGet.org's "Trusted Publishing"). A
 * policy for an organization is the organization's: it lives in the organization's partition, its jobs may name
 * the organization (the key is then the organization's own) and it outlives its maker (store.ts). Where the
 * provider pins, a policy is pinned to the ids behind the names of its criteria by the first token that fully
 * matches it, so a repository deleted and made again under the same name (a new id) cannot use it; where it
 * lapses, one never used lapses after 7 days, and its people are told (lapses.ts). An account may have made 50,
 * and an organization may hold 50.
 */
export type { TrustedPublisherDocument } from './store';
export { currentPolicy, hasLapsed, policyTrusting, type PolicyTest } from './store';

/** A policy never used stops working this long after it was made (NuGet.org's "temporarily active for 7 days"). */
const UNUSED_POLICY_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

const providerNames = PROVIDERS.map((provider) => JSON.stringify(provider.name)).join(', ');

/** The body for one provider: the policy's own fields and the provider's criteria, nothing else. */
const requestFor = (provider: TrustedPublishingProvider) =>
  z
    .object({
      owner: usernameField.describe('Whose keys the policy makes: you, or an organization you belong to'),
      provider: (provider === DEFAULT_PROVIDER ? z.literal(provider.name).default(provider.name) : z.literal(provider.name)).describe(
        `Whose jobs the policy trusts: one of ${providerNames} (default ${JSON.stringify(DEFAULT_PROVIDER.name)})`,
      ),
      ...provider.criteria.shape,
      packageGlobs: packageGlobsField.default(DEFAULT_GLOBS).describe("The package ids its keys may act on, as an API key's globs (default every id)"),
      scopes: apiKeyScopesField.default(DEFAULT_SCOPES).describe("What its keys may do, as an API key's scopes (default package:push)"),
    })
    .strict()
    .describe(`A policy trusting ${provider.title}`);

const [firstRequest, ...otherRequests] = PROVIDERS.map(requestFor);

/** `{ owner, provider?, ...criteria, packageGlobs?, scopes? }`: the fields a provider does not name are refused, naming the field. */
export const createTrustedPublisherBody = z.discriminatedUnion('provider', [firstRequest, ...otherRequests], {
  error: `must be one of ${providerNames}`,
});

/** `{id}`: one policy. */
export const trustedPublisherParams = z.object({
  id: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a trusted publishing policy id')
    .meta({ examples: ['4b2f3c1d-5e6f-4a7b-8c9d-0e1f2a3b4c5d'] }),
});

export const POLICY_STATUSES = ['active', 'pending', 'lapsed', 'inactive'] as const;
type PolicyStatus = (typeof POLICY_STATUSES)[number];

/**
 * Before providers the view had GitHub's criteria at its top level, where frontends read them: a policy of the
 * default provider (GitHub) still shows them there, beside `criteria`.
 */
const criteriaAtTopLevel = (provider: TrustedPublishingProvider) =>
  provider === DEFAULT_PROVIDER
    ? Object.fromEntries(Object.entries(provider.criteria.shape).map(([name, field]) => [name, field.meta({ deprecated: true, description: `As in \`criteria\`` })]))
    : {};

const pinnedView = (pin: PinRule<unknown> | undefined) =>
  (pin ? pin.schema.extend({ pinnedAt: z.string() }).nullable() : z.null()).describe(
    pin ? `${pin.schema.description ?? 'The ids'}, from the first token that matched; null until then` : 'Always null: the criteria are immutable ids',
  );

/** The view of a policy of one provider. */
const viewFor = (provider: TrustedPublishingProvider) =>
  z
    .object({
      id: z.string(),
      owner: z.string(),
      createdBy: z
        .string()
        .describe(
          "Who made it: a username its jobs exchange tokens under (NuGet/login's `user`). For an organization's policy the organization's name works too, and keeps working once its maker leaves",
        ),
      provider: z.literal(provider.name),
      criteria: provider.criteria.describe(`What ${provider.title} tokens are matched on, as the policy was added with`),
      ...criteriaAtTopLevel(provider),
      packageGlobs: z.array(z.string()).describe('The package ids the keys it makes may act on'),
      scopes: z.array(z.enum(API_KEY_SCOPES)).describe('What the keys it makes may do'),
      status: z
        .enum(POLICY_STATUSES)
        .describe(
          "`active`: pinned to its ids (or, where its provider pins nothing, from the start), makes keys; `pending`: not used yet, makes keys until `lapsesAt` and is pinned by the first; " +
            '`lapsed`: not used within 7 days, makes no keys (add it again); `inactive`: the organization that owns it is gone or, for a policy its maker stored in its own account before organizations held theirs, its maker no longer belongs to it, so it makes no keys while so',
        ),
      lapsesAt: z.string().nullable().describe('Until it is first used: when it lapses (or lapsed); null where its provider never lapses'),
      pinned: pinnedView(provider.pin),
      createdAt: z.string(),
      lastUsedAt: z.string().nullable(),
    })
    .describe(`A policy trusting ${provider.title}`);

const [firstView, ...otherViews] = PROVIDERS.map(viewFor);

export const trustedPublisherView = z.discriminatedUnion('provider', [firstView, ...otherViews]);
type TrustedPublisherView = z.infer<typeof trustedPublisherView>;

const noSuchPolicy = () => new Problem('not_found', 'There is no trusted publishing policy with that id that you can see.');
const limitReached = () =>
  new Problem(
    'trusted_publisher_limit',
    `You have made ${MAX_POLICIES_PER_ACCOUNT} trusted publishing policies, as many as an account may make. Remove one you no longer use first.`,
  );
const organizationLimitReached = (organization: string) => () =>
  new Problem(
    'trusted_publisher_limit',
    `'${organization}' has ${MAX_POLICIES_PER_ACCOUNT} trusted publishing policies, as many as an organization may have. Its admins can remove one it no longer uses first.`,
  );

/**
 * Whether the policy may make keys for its owner: a policy for its maker itself, always; an organization's, while
 * the organization is there; one its maker stored for an organization in its own partition before organizations
 * held theirs, while the maker belongs to it too.
 */
function ownerAllows(policy: TrustedPublisherDocument, owner: AccountDocument | undefined): boolean {
  if (policy.ownerId === makerOf(policy)) return true;
  if (owner?.kind !== 'organization' || owner.deletedAt) return false;
  return heldByOwner(policy) || roleOf(owner as OrganizationDocument, makerOf(policy)) !== undefined;
}

function statusOf(policy: TrustedPublisherDocument, owner: AccountDocument | undefined): PolicyStatus {
  if (!ownerAllows(policy, owner)) return 'inactive';
  // Pinned, or of a provider that neither pins nor lapses.
  if (policy.pinned !== null || policy.lapsesAt === null) return 'active';
  return hasLapsed(policy) ? 'lapsed' : 'pending';
}

function toView(policy: TrustedPublisherDocument, owner: AccountDocument | undefined): TrustedPublisherView {
  const { id, ownerName, creatorName, provider, criteria, pinned, pinnedAt, lapsesAt, createdAt, lastUsedAt } = policy;
  return {
    id,
    owner: ownerName,
    createdBy: creatorName,
    provider,
    criteria,
    ...(provider === DEFAULT_PROVIDER.name ? criteria : {}),
    packageGlobs: policy.packageGlobs,
    scopes: policy.scopes,
    status: statusOf(policy, owner),
    lapsesAt,
    pinned: pinned !== null && pinnedAt !== null ? { ...pinned, pinnedAt } : null,
    createdAt,
    lastUsedAt,
  };
}

/**
 * Records a change of a policy: in the log of whoever made it (its maker, an admin of the owning organization
 * removing it; not an organization, whose job pinned it through the organization's name: its trail records it),
 * in the maker's own log when someone else did it, and in the owning organization's trail.
 */
async function recordPolicyEvent(
  action: AuditAction,
  actor: Pick<AccountDocument, 'id' | 'username' | 'kind'>,
  policy: TrustedPublisherDocument,
  clientAddress: string,
  more: Record<string, string> = {},
): Promise<void> {
  const provider = providerNamed(policy.provider);
  const details = {
    policyId: policy.id,
    owner: policy.ownerName,
    provider: provider.name,
    ...provider.logged(policy.criteria),
    packageGlobs: policy.packageGlobs.join(', '),
    scopes: policy.scopes.join(', '),
    ...more,
  };
  const maker = makerOf(policy);
  if (actor.kind === 'user') await recordAudit(actor.id, action, clientAddress, details);
  // The maker learns what someone else did to its policy, but not from where.
  if (actor.id !== maker && actor.kind === 'user') await recordAudit(maker, action, 'unknown', { ...details, by: actor.username });
  if (policy.ownerId !== maker) {
    await recordTrailEvent([policy.ownerId], { action, actor: { accountId: actor.id, username: actor.username }, details });
  }
}

/**
 * Adds a policy for the caller, in one of its 50 slots, or for an organization the caller belongs to: in one of the
 * organization's 50 slots, with a pointer in one of the caller's (store.ts). Refused at either limit after the
 * queries of the two partitions, before anything is written. It is not pinned yet: the first token that fully
 * matches it pins it (where its provider pins), unless 7 days pass first (where its provider lapses; the day it
 * lapses is indexed before it is written, for the notice of its lapse). Its maker and, for an organization, the
 * organization's admins are told.
 */
export async function createTrustedPublisher(
  caller: AccountDocument,
  input: z.infer<typeof createTrustedPublisherBody>,
  clientAddress: string,
  log: Log,
): Promise<TrustedPublisherView> {
  const { owner: ownerName, provider: providerName, packageGlobs, scopes, ...criteria } = input;
  const provider = providerNamed(providerName);
  if (!provider.enabled()) {
    throw new Problem('invalid_request', `The field 'provider' names ${provider.title}, whose tokens this service is not set up to take.`);
  }
  const owner = await allowedOwner(caller, ownerName, 'A trusted publishing policy');
  const forOrganization = owner.id !== caller.id;
  // At a limit, refused before anything is written; below it, the slots taken decide, whatever runs meanwhile.
  const [maker, organization] = await Promise.all([partitionOf(caller.id), forOrganization ? partitionOf(owner.id) : []]);
  if (!hasFreeSlot(maker)) throw limitReached();
  if (forOrganization && !hasFreeSlot(organization)) throw organizationLimitReached(owner.username)();
  const now = clock.now();
  const policy: TrustedPublisherDocument = {
    id: randomUUID(),
    creatorId: owner.id,
    ...(forOrganization ? { makerId: caller.id } : {}),
    creatorName: caller.username,
    ownerId: owner.id,
    ownerName: owner.username,
    provider: provider.name,
    criteria,
    pinned: null,
    scopes,
    packageGlobs,
    createdAt: now.toISOString(),
    lapsesAt: provider.lapses ? new Date(now.getTime() + UNUSED_POLICY_LIFETIME_MS).toISOString() : null,
    pinnedAt: null,
    lastUsedAt: null,
    slotted: true,
  };
  await indexLapse(policy);
  const change = { at: policy.createdAt, by: caller.username, clientAddress };
  const notice = await policyNotice(policy, owner, (reader) => trustedPublisherAddedNotice(noticed(policy), change, reader), log);
  await announced(
    notice,
    () =>
      forOrganization
        ? storeOrganizationPolicy(policy, { organization, maker }, { organization: organizationLimitReached(owner.username), maker: limitReached })
        : storePolicy(policy, maker, limitReached),
    log,
  );
  await recordPolicyEvent('trusted_publisher_added', caller, policy, clientAddress);
  return toView(policy, owner);
}

/** The live organizations the caller belongs to, with its role, by their own documents (the account's list only says where to look). */
async function membershipsOf(caller: AccountDocument): Promise<Array<{ organization: OrganizationDocument; role: string }>> {
  const candidates = await Promise.all(caller.organizations.map((o) => accountHolding({ kind: 'username', name: o.name })));
  return candidates.flatMap((candidate) => {
    const organization = candidate as OrganizationDocument | undefined;
    const role = organization?.kind === 'organization' && !organization.deletedAt ? roleOf(organization, caller.id) : undefined;
    return organization && role ? [{ organization, role }] : [];
  });
}

/**
 * The policies the caller made (for itself, and for the organizations it still belongs to), then those others
 * made for the organizations it administers, each with its status (which reads the owning organization, once
 * each). Its own partition, and one query across the partitions of its organizations.
 */
export async function listTrustedPublishers(caller: AccountDocument): Promise<TrustedPublisherView[]> {
  const memberships = await membershipsOf(caller);
  const administered = memberships.filter((m) => m.role === 'admin').map((m) => m.organization.id);
  const [own, ofOrganizations] = await Promise.all([
    policiesInPartitionOf(caller.id),
    policiesOfOrganizations(
      memberships.map((m) => m.organization.id),
      administered,
      caller.id,
    ),
  ]);
  // A member sees what it made for its organization; an admin, everything the organization has.
  const visible = ofOrganizations.filter((policy) => administered.includes(policy.ownerId) || makerOf(policy) === caller.id);
  const made = [...own, ...visible.filter((policy) => makerOf(policy) === caller.id)].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const others = visible.filter((policy) => makerOf(policy) !== caller.id);
  const owners = new Map<string, AccountDocument | undefined>([[caller.id, caller], ...memberships.map((m) => [m.organization.id, m.organization] as const)]);
  for (const ownerId of new Set(own.map((p) => p.ownerId))) if (!owners.has(ownerId)) owners.set(ownerId, await readAccount(ownerId));
  return [...made, ...others].map((policy) => toView(policy, owners.get(policy.ownerId)));
}

/**
 * The policy, for whoever may remove it, with its owner's document where it is another account: its maker (a
 * policy for itself, or one for an organization it still belongs to), or an admin of the organization that owns
 * it (decided by the organization's own document). Anyone else learns nothing, not even that it exists.
 */
async function policyToRemove(caller: AccountDocument, id: string): Promise<{ policy: TrustedPublisherDocument; owner?: AccountDocument }> {
  const policy = await policyWithId(id, caller.id);
  if (!policy) throw noSuchPolicy();
  if (policy.ownerId === caller.id && makerOf(policy) === caller.id) return { policy };
  const owner = await readAccount(policy.ownerId);
  const role = owner?.kind === 'organization' && !owner.deletedAt ? roleOf(owner as OrganizationDocument, caller.id) : undefined;
  // Stored in the maker's own partition before organizations held theirs: its maker's, as it always was.
  const makersOwn = !heldByOwner(policy) && makerOf(policy) === caller.id;
  if (role === 'admin' || makersOwn || (role !== undefined && makerOf(policy) === caller.id)) return { policy, owner };
  throw noSuchPolicy();
}

/**
 * Removes a policy: it makes no key from now on, and the keys it made stop working. The documents go first
 * (store.ts), then the keys are looked for, so a key an exchange makes meanwhile is either found here or finds
 * the policy gone itself (tokenExchange.ts). Its slots are free from then on. Its maker and, for an
 * organization, the organization's admins are told (the maker of where from only when it removed the policy itself).
 */
export async function deleteTrustedPublisher(caller: AccountDocument, id: string, clientAddress: string, log: Log): Promise<void> {
  const { policy, owner } = await policyToRemove(caller, id);
  const byMaker = caller.id === makerOf(policy);
  const change = { at: nowIso(), by: caller.username, clientAddress: byMaker ? clientAddress : undefined };
  const notice = await policyNotice(policy, owner, (reader) => trustedPublisherRemovedNotice(noticed(policy), change, reader), log);
  await announced(
    notice,
    async () => {
      // Removed by a request at the same moment: that one records it, and tells.
      if (!(await removePolicy(policy))) throw noSuchPolicy();
    },
    log,
  );
  await revokeKeysOf(policy);
  await recordPolicyEvent('trusted_publisher_removed', caller, policy, clientAddress);
}

/** Whether the policy is pinned to these ids (a run's ids under its provider's `pin`). */
export const isPinnedTo = (policy: TrustedPublisherDocument, ids: Pin): boolean =>
  policy.pinned !== null && Object.entries(policy.pinned).every(([name, id]) => ids[name] === id);

/**
 * Pins a policy to the ids of the first token that fully matched it, under its ETag: of two exchanges at
 * once, one pins and the other finds it pinned, to the same ids or not. The one that pins records it and has
 * its maker (and an organization's admins) told; the notice is queued before, and withdrawn by the others.
 * `holder` is the account the job named, `owner` the policy's owner's document. Answers whether the policy is
 * now pinned to these ids; false when it is pinned to others, lapsed or gone.
 */
export async function pinPolicy(
  holder: AccountDocument,
  owner: AccountDocument,
  policy: TrustedPublisherDocument,
  rule: PinRule<unknown>,
  ids: Pin,
  clientAddress: string,
  log: Log,
): Promise<boolean> {
  const now = clock.now();
  const change = { at: now.toISOString(), clientAddress };
  const notice = await policyNotice(policy, owner, (reader) => trustedPublisherPinnedNotice(noticed(policy), rule.describe(ids), change, reader), log);
  let pinnedNow = false;
  const updated = await announced(
    notice,
    () =>
      updateDocumentFrom<StoredPolicy | PolicyPointerDocument>(
        'trustedPublishers',
        policy,
        (stored) => {
          // Moved into its organization's partition meanwhile (a pointer is in its place): the job asks again.
          if (isPointer(stored)) return undefined;
          // A policy stored before providers is written in today's form.
          const current = policyFrom(stored);
          pinnedNow = current.pinned === null && !hasLapsed(current, now.getTime());
          if (!pinnedNow) return undefined;
          return { ...current, pinned: ids, pinnedAt: change.at, lapsesAt: null, lastUsedAt: change.at };
        },
        policy.creatorId,
      ),
    log,
    () => pinnedNow,
  );
  const matches = updated !== undefined && !isPointer(updated) && isPinnedTo(policyFrom(updated), ids);
  if (matches && pinnedNow) await recordPolicyEvent('trusted_publisher_pinned', holder, policy, clientAddress, ids);
  return matches;
}

/** Notes a pinned policy's use (one patch); false when the policy was removed meanwhile. */
export async function markUsed(policy: TrustedPublisherDocument): Promise<boolean> {
  try {
    await container('trustedPublishers')
      .item(policy.id, policy.creatorId)
      .patch([{ op: 'set', path: '/lastUsedAt', value: clock.now().toISOString() }]);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Deletes an organization (lib/organizations/lifecycle.ts), then the policies it owns: with their owner gone
 * none could make a key again. Asking again after a stop between the two finds the organization gone (404); its
 * policies then show `inactive` until their makers or the deletion of an account remove them.
 */
export async function deleteOrganizationAndItsPolicies(name: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  await deleteOrganization(name, caller, clientAddress, log);
  const organization = await accountHolding({ kind: 'username', name });
  if (organization?.kind === 'organization' && organization.deletedAt) await deleteTrustedPublishersOf(organization.id);
}
