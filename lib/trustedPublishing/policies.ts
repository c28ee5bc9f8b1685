import { randomInt, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { recordAudit, recordTrailEvent, type AuditAction } from '../shared/audit';
import { clock, nowIso } from '../shared/clock';
import {
  trustedPublisherAddedNotice,
  trustedPublisherPinnedNotice,
  trustedPublisherRemovedNotice,
  type NoticeContent,
  type NoticedPolicy,
  type PolicyReader,
} from '../shared/email/messages';
import type { Log } from '../shared/log';
import { Problem } from '../shared/problems';
import {
  container,
  documentsInPartition,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  readDocument,
  replaceIfUnchanged,
  updateDocumentFrom,
  type StoredDocument,
} from '../shared/storage/cosmos';
import { readAccount, type AccountDocument } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { announced, noticesTogether, noticeToAll, type Notice } from '../accounts/notices';
import { allowedOwner, API_KEY_SCOPES, apiKeyScopesField, packageGlobsField, revokeTrustedPublishingKeys, type ApiKeyScope } from '../packages/apiKeys';
import { deleteOrganization } from '../organizations/lifecycle';
import { roleOf, type OrganizationDocument } from '../organizations/organization';
import { DEFAULT_PROVIDER, PROVIDERS, providerNamed } from './providers';
import type { Pin, PinRule, TrustedPublishingProvider } from './providers/provider';

/**
 * Trusted publishing policies: an account trusts the jobs of one CI provider that its criteria name (a GitHub
 * Actions workflow of a repository, and optionally its deployment environment; providers/) to be given
 * short-lived API keys for itself or for an organization it belongs to (NuGet.org's "Trusted Publishing", with
 * organization-owned policies). Where the provider pins, a policy is pinned to the ids behind the names of its
 * criteria by the first token that fully matches it, so a repository deleted and made again under the same name
 * (a new id) cannot use it; where it lapses, one never used lapses after 7 days. An account holds at most 50:
 * each policy takes one of 50 slots in its creator's partition.
 */
export interface TrustedPublisherDocument extends StoredDocument {
  /** The partition: the account that made it, whose username its workflows exchange tokens under. */
  creatorId: string;
  creatorName: string;
  /** Whose keys it makes: its creator, or an organization its creator belongs to. */
  ownerId: string;
  ownerName: string;
  /** The `name` of its provider (providers/index.ts). */
  provider: string;
  /** What its provider matches tokens on: the output of the provider's `criteria` schema. */
  criteria: Record<string, unknown>;
  /** The ids the first token that fully matched it pinned it to (its provider's `pin`); null until then, or for good where the provider pins nothing. */
  pinned: Pin | null;
  /** What the keys it makes may do, and which package ids they cover, as on any key. */
  scopes: ApiKeyScope[];
  packageGlobs: string[];
  createdAt: string;
  /** Until it is first used: when it lapses. */
  lapsesAt: string | null;
  pinnedAt: string | null;
  lastUsedAt: string | null;
  /**
   * Set on every policy made since slots hold the limit: it counts and works only while a slot names it. A
   * policy stored before (absent) counts and works without one, and leaves that many fewer slots to take.
   */
  slotted?: true;
}

/**
 * A policy as stored before providers: it trusts a GitHub Actions workflow, whose criteria and ids are at the
 * top level. Read as a `github` policy (`policyFrom`), and written in today's form when it is next written.
 */
interface PolicyStoredBeforeProviders extends Omit<TrustedPublisherDocument, 'provider' | 'criteria' | 'pinned' | ScopeFields> {
  provider?: undefined;
  repositoryOwner: string;
  repository: string;
  workflowFile: string;
  environment: string | null;
  repositoryOwnerId: string | null;
  repositoryId: string | null;
}

type ScopeFields = 'scopes' | 'packageGlobs';

/** A policy as stored: one stored before scopes has none (its keys pushed every id: the defaults). */
type StoredPolicy = (Omit<TrustedPublisherDocument, ScopeFields> | PolicyStoredBeforeProviders) & Partial<Pick<TrustedPublisherDocument, ScopeFields>>;

/** What the keys of a policy may do unless it says otherwise: push any package, as every policy's keys did before scopes. */
const DEFAULT_SCOPES: ApiKeyScope[] = ['package:push'];
const DEFAULT_GLOBS = ['*'];

/** A stored policy in today's form. */
function policyFrom(stored: StoredPolicy): TrustedPublisherDocument {
  const { scopes = DEFAULT_SCOPES, packageGlobs = DEFAULT_GLOBS } = stored;
  if (stored.provider !== undefined) return { ...stored, scopes, packageGlobs };
  const { repositoryOwner, repository, workflowFile, environment, repositoryOwnerId, repositoryId, provider: _absent, ...policy } = stored;
  return {
    ...policy,
    provider: DEFAULT_PROVIDER.name,
    criteria: { repositoryOwner, repository, workflowFile, environment },
    pinned: repositoryOwnerId !== null && repositoryId !== null ? { repositoryOwnerId, repositoryId } : null,
    scopes,
    packageGlobs,
  };
}

/** The provider whose jobs the policy trusts. */
const providerOf = (policy: TrustedPublisherDocument): TrustedPublishingProvider => providerNamed(policy.provider);

/**
 * One of the places an account's policies take, in its partition beside them (`slot:0` … `slot:49`), naming the
 * policy that holds it. A policy counts, is listed and makes keys only while a slot names it, and the slot of a
 * policy that is gone is free: so the limit holds on any number of instances with no transaction, removing a
 * policy frees its slot by itself, and a creation that stops between writing the policy and taking a slot
 * leaves a policy that never counts (tidied by a later creation), never a slot lost.
 */
interface PolicySlotDocument extends StoredDocument {
  creatorId: string;
  /** The owner of the policy holding it, so the admins' look across partitions finds the slots with the policies. */
  ownerId: string;
  policyId: string;
}

/** What a creator's partition holds. */
type PartitionDocument = StoredPolicy | PolicySlotDocument;

const SLOT_PREFIX = 'slot:';
const isSlot = (document: PartitionDocument): document is PolicySlotDocument => document.id.startsWith(SLOT_PREFIX);

/** A policy never used stops working this long after it was made (NuGet.org's "temporarily active for 7 days"). */
const UNUSED_POLICY_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** How many policies one account may make: the token exchange reads them all. */
export const MAX_POLICIES_PER_ACCOUNT = 50;
/** A policy this old that holds no slot was left by a creation that stopped halfway (one takes milliseconds). */
const STRANDED_AFTER_MS = 60 * 60 * 1000;

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
      createdBy: z.string().describe("The username its jobs exchange tokens under (NuGet/login's `user`)"),
      provider: z.literal(provider.name),
      criteria: provider.criteria.describe(`What ${provider.title} tokens are matched on, as the policy was added with`),
      ...criteriaAtTopLevel(provider),
      packageGlobs: z.array(z.string()).describe('The package ids the keys it makes may act on'),
      scopes: z.array(z.enum(API_KEY_SCOPES)).describe('What the keys it makes may do'),
      status: z
        .enum(POLICY_STATUSES)
        .describe(
          "`active`: pinned to its ids (or, where its provider pins nothing, from the start), makes keys; `pending`: not used yet, makes keys until `lapsesAt` and is pinned by the first; " +
            '`lapsed`: not used within 7 days, makes no keys (add it again); `inactive`: its creator no longer belongs to the organization that owns it, or that organization is gone, so it makes no keys while so',
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
    `You have ${MAX_POLICIES_PER_ACCOUNT} trusted publishing policies, as many as an account may have. Remove one you no longer use first.`,
  );

/** Whether the creator may still make keys for the owner: itself, or a live organization it belongs to. */
function ownerAllows(policy: TrustedPublisherDocument, owner: AccountDocument | undefined): boolean {
  if (policy.ownerId === policy.creatorId) return true;
  return owner?.kind === 'organization' && !owner.deletedAt && roleOf(owner as OrganizationDocument, policy.creatorId) !== undefined;
}

/** Whether a policy never used has passed its 7 days. */
export const hasLapsed = (policy: TrustedPublisherDocument, now = clock.now().getTime()): boolean =>
  policy.pinned === null && policy.lapsesAt !== null && Date.parse(policy.lapsesAt) <= now;

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

const byAge = (a: StoredPolicy, b: StoredPolicy) => a.createdAt.localeCompare(b.createdAt);

const isPolicy = (document: PartitionDocument): document is StoredPolicy => !isSlot(document);
/** A policy stored before slots held the limit: it counts and works without one. */
const storedBeforeSlots = (policy: StoredPolicy): boolean => policy.slotted !== true;

/** The policies among these documents that count: those a slot names, and those stored before slots; oldest first. */
function slottedPolicies(documents: PartitionDocument[]): TrustedPublisherDocument[] {
  const held = new Set(documents.filter(isSlot).map((slot) => slot.policyId));
  return documents
    .filter(isPolicy)
    .filter((policy) => held.has(policy.id) || storedBeforeSlots(policy))
    .sort(byAge)
    .map(policyFrom);
}

/** Everything in the creator's partition, its policies and their slots: one query within it. */
const partitionOf = (creatorId: string) => documentsInPartition<PartitionDocument>('trustedPublishers', creatorId);

/** The policies an account made (at most 50), oldest first: one query within its partition. */
export async function policiesCreatedBy(creatorId: string): Promise<TrustedPublisherDocument[]> {
  return slottedPolicies(await partitionOf(creatorId));
}

/** The policies other members made for these organizations, oldest first: a query across partitions, off every hot path. */
async function policiesOwnedByOthers(ownerIds: string[], callerId: string): Promise<TrustedPublisherDocument[]> {
  if (ownerIds.length === 0) return [];
  const { resources } = await container('trustedPublishers')
    .items.query<PartitionDocument>({
      query: 'SELECT * FROM c WHERE ARRAY_CONTAINS(@owners, c.ownerId) AND c.creatorId != @caller',
      parameters: [
        { name: '@owners', value: ownerIds },
        { name: '@caller', value: callerId },
      ],
    })
    .fetchAll();
  return slottedPolicies(resources);
}

/** A slot no live policy holds: absent (`etag` undefined), or naming a policy that is gone. */
interface FreeSlot {
  id: string;
  etag: string | undefined;
}

/**
 * The creator's free slots, as these documents of its partition show them. Policies stored before slots take the
 * last places: with `n` of them only the first 50 - `n` slots may be taken. Their number only ever falls (none is
 * made any more), so a count read a moment ago never lets the limit be passed.
 */
function freeSlots(documents: PartitionDocument[]): FreeSlot[] {
  const policies = documents.filter(isPolicy);
  const live = new Set(policies.map((policy) => policy.id));
  const slots = new Map(documents.filter(isSlot).map((slot) => [slot.id, slot]));
  const places = MAX_POLICIES_PER_ACCOUNT - policies.filter(storedBeforeSlots).length;
  return Array.from({ length: Math.max(0, places) }, (_, n) => slots.get(`${SLOT_PREFIX}${n}`) ?? { id: `${SLOT_PREFIX}${n}` })
    .filter((slot) => !('policyId' in slot) || !live.has(slot.policyId))
    .map((slot) => ({ id: slot.id, etag: '_etag' in slot ? slot._etag : undefined }));
}

/**
 * Gives the policy a slot: one that is absent by creating it (of two creations, Cosmos DB answers the second
 * 409), or one whose policy is gone by replacing it under the ETag it was read with (the second: 412). The
 * free slots are tried in random order, so creations at the same moment seldom reach for the same one. False
 * once every slot seen free was taken by another: one freed since is for the next request.
 */
async function takeSlot(policy: TrustedPublisherDocument, seen: PartitionDocument[]): Promise<boolean> {
  const free = freeSlots(seen);
  while (free.length > 0) {
    const [slot] = free.splice(randomInt(free.length), 1);
    const taken: PolicySlotDocument = { id: slot.id, creatorId: policy.creatorId, ownerId: policy.ownerId, policyId: policy.id };
    try {
      if (slot.etag === undefined) await container('trustedPublishers').items.create(taken);
      else await replaceIfUnchanged('trustedPublishers', { ...taken, _etag: slot.etag }, policy.creatorId);
      return true;
    } catch (error) {
      if (!isConflict(error) && !isPreconditionFailed(error) && !isNotFound(error)) throw error;
    }
  }
  return false;
}

/** Deletes one document of the container; one already gone is no error. */
async function deleteIfThere(document: Pick<PartitionDocument, 'id' | 'creatorId'>): Promise<void> {
  try {
    await container('trustedPublishers').item(document.id, document.creatorId).delete();
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/**
 * Writes the policy, then gives it a slot, from which on it counts and works; with none free it goes again and
 * the limit is answered. Policies a creation that stopped halfway left without a slot go too.
 */
async function storeInSlot(policy: TrustedPublisherDocument, seen: PartitionDocument[]): Promise<void> {
  await container('trustedPublishers').items.create(policy);
  if (!(await takeSlot(policy, seen))) {
    await deleteIfThere(policy);
    throw limitReached();
  }
  const held = new Set(slottedPolicies(seen).map((p) => p.id));
  const strandedBefore = clock.now().getTime() - STRANDED_AFTER_MS;
  for (const stranded of seen) {
    if (isPolicy(stranded) && !held.has(stranded.id) && Date.parse(stranded.createdAt) < strandedBefore) await deleteIfThere(stranded);
  }
}

/** The policy as its notices name it. */
function noticed(policy: TrustedPublisherDocument): NoticedPolicy {
  const provider = providerOf(policy);
  const { id, creatorName: creator, ownerName: owner, scopes, packageGlobs } = policy;
  return { id, creator, owner, publisher: provider.describe(policy.criteria), lapses: provider.lapses, scopes, packageGlobs };
}

/**
 * Queues, before the change, the notices of a change to a policy: to its maker, always (standing rights to
 * publish for its account are its security), and for an organization's policy to the organization's admins,
 * the maker aside, as the organization's other notices go (`emailAllowed`). Both travel by the outbox timer:
 * the request writes an entry for each and sends nothing itself.
 */
function policyNotice(policy: TrustedPublisherDocument, content: (reader: PolicyReader) => NoticeContent, log: Log): Promise<Notice> {
  const toMaker = () => noticeToAll([policy.creatorId], 'security', content('maker'), { container: 'accounts', id: policy.creatorId });
  const toAdmins = () =>
    noticeToAll([policy.ownerId], 'emailAllowed', content('admins'), { container: 'accounts', id: policy.ownerId }, { except: [policy.creatorId] });
  return noticesTogether(policy.ownerId === policy.creatorId ? [toMaker] : [toMaker, toAdmins], log);
}

/**
 * Records a change of a policy: in the log of whoever made it (the creator, or an admin of the owning
 * organization removing it), in the creator's own log when someone else did it, and in the owning
 * organization's trail.
 */
async function recordPolicyEvent(
  action: AuditAction,
  actor: Pick<AccountDocument, 'id' | 'username'>,
  policy: TrustedPublisherDocument,
  clientAddress: string,
  more: Record<string, string> = {},
): Promise<void> {
  const provider = providerOf(policy);
  const details = {
    policyId: policy.id,
    owner: policy.ownerName,
    provider: provider.name,
    ...provider.logged(policy.criteria),
    packageGlobs: policy.packageGlobs.join(', '),
    scopes: policy.scopes.join(', '),
    ...more,
  };
  await recordAudit(actor.id, action, clientAddress, details);
  // The creator learns what someone else did to its policy, but not from where.
  if (actor.id !== policy.creatorId) await recordAudit(policy.creatorId, action, 'unknown', { ...details, by: actor.username });
  if (policy.ownerId !== policy.creatorId) {
    await recordTrailEvent([policy.ownerId], { action, actor: { accountId: actor.id, username: actor.username }, details });
  }
}

/**
 * Adds a policy for the caller or an organization the caller belongs to, in one of the caller's 50 slots. It is
 * not pinned yet: the first token that fully matches it pins it (where its provider pins), unless 7 days pass
 * first (where its provider lapses). Its maker and, for an organization, the organization's admins are told.
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
  // At the limit, refused before anything is written; below it, the slot taken decides, whatever runs meanwhile.
  const seen = await partitionOf(caller.id);
  if (freeSlots(seen).length === 0) throw limitReached();
  const now = clock.now();
  const policy: TrustedPublisherDocument = {
    id: randomUUID(),
    creatorId: caller.id,
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
  const change = { at: policy.createdAt, by: caller.username, clientAddress };
  const notice = await policyNotice(policy, (reader) => trustedPublisherAddedNotice(noticed(policy), change, reader), log);
  await announced(notice, () => storeInSlot(policy, seen), log);
  await recordPolicyEvent('trusted_publisher_added', caller, policy, clientAddress);
  return toView(policy, owner);
}

/** The organizations the caller administers, by their own documents (the account's list only says where to look). */
async function organizationsAdministered(caller: AccountDocument): Promise<OrganizationDocument[]> {
  const candidates = await Promise.all(
    caller.organizations.filter((o) => o.role === 'admin').map((o) => accountHolding({ kind: 'username', name: o.name })),
  );
  return candidates.filter(
    (o): o is OrganizationDocument => o?.kind === 'organization' && !o.deletedAt && roleOf(o as OrganizationDocument, caller.id) === 'admin',
  );
}

/**
 * The policies the caller made, then those other members made for the organizations the caller administers,
 * each with its status (which reads the owning organization, once each).
 */
export async function listTrustedPublishers(caller: AccountDocument): Promise<TrustedPublisherView[]> {
  const administered = await organizationsAdministered(caller);
  const [own, others] = await Promise.all([
    policiesCreatedBy(caller.id),
    policiesOwnedByOthers(
      administered.map((o) => o.id),
      caller.id,
    ),
  ]);
  const owners = new Map<string, AccountDocument | undefined>([[caller.id, caller], ...administered.map((o) => [o.id, o] as const)]);
  for (const ownerId of new Set(own.map((p) => p.ownerId))) if (!owners.has(ownerId)) owners.set(ownerId, await readAccount(ownerId));
  return [...own, ...others].map((policy) => toView(policy, owners.get(policy.ownerId)));
}

/**
 * The policy, for whoever may remove it: its creator (one point read in its own partition), or an admin of
 * the organization that owns it (found by id across partitions, then the organization's own document
 * decides). Anyone else learns nothing, not even that it exists.
 */
async function policyToRemove(caller: AccountDocument, id: string): Promise<TrustedPublisherDocument> {
  const own = await readDocument<StoredPolicy>('trustedPublishers', id, caller.id);
  if (own) return policyFrom(own);
  const { resources } = await container('trustedPublishers')
    .items.query<StoredPolicy>({ query: 'SELECT * FROM c WHERE c.id = @id', parameters: [{ name: '@id', value: id }] })
    .fetchAll();
  const [policy] = resources;
  if (!policy || policy.ownerId === policy.creatorId) throw noSuchPolicy();
  const owner = await readAccount(policy.ownerId);
  if (owner?.kind !== 'organization' || owner.deletedAt || roleOf(owner as OrganizationDocument, caller.id) !== 'admin') throw noSuchPolicy();
  return policyFrom(policy);
}

/**
 * Removes a policy: it makes no key from now on, and the keys it made stop working. The document goes first,
 * then the keys are looked for, so a key an exchange makes meanwhile is either found here or finds the policy
 * gone itself (tokenExchange.ts). Its slot is free from then on. Its maker and, for an organization, the
 * organization's admins are told (the maker of where from only when it removed the policy itself).
 */
export async function deleteTrustedPublisher(caller: AccountDocument, id: string, clientAddress: string, log: Log): Promise<void> {
  const policy = await policyToRemove(caller, id);
  const change = { at: nowIso(), by: caller.username, clientAddress: caller.id === policy.creatorId ? clientAddress : undefined };
  const notice = await policyNotice(policy, (reader) => trustedPublisherRemovedNotice(noticed(policy), change, reader), log);
  await announced(
    notice,
    async () => {
      try {
        await container('trustedPublishers').item(policy.id, policy.creatorId).delete();
      } catch (error) {
        // Removed by a request at the same moment: that one records it, and tells.
        if (isNotFound(error)) throw noSuchPolicy();
        throw error;
      }
    },
    log,
  );
  await revokeTrustedPublishingKeys(policy.creatorId, policy.id);
  await recordPolicyEvent('trusted_publisher_removed', caller, policy, clientAddress);
}

/** The policy as stored now, or undefined once it is removed. */
export async function currentPolicy(policy: TrustedPublisherDocument): Promise<TrustedPublisherDocument | undefined> {
  const stored = await readDocument<StoredPolicy>('trustedPublishers', policy.id, policy.creatorId);
  return stored && policyFrom(stored);
}

/** Whether the policy is pinned to these ids (a run's ids under its provider's `pin`). */
export const isPinnedTo = (policy: TrustedPublisherDocument, ids: Pin): boolean =>
  policy.pinned !== null && Object.entries(policy.pinned).every(([name, id]) => ids[name] === id);

/**
 * Pins a policy to the ids of the first token that fully matched it, under its ETag: of two exchanges at
 * once, one pins and the other finds it pinned, to the same ids or not. The one that pins records it and has
 * its maker (and an organization's admins) told; the notice is queued before, and withdrawn by the others.
 * Answers whether the policy is now pinned to these ids; false when it is pinned to others, lapsed or gone.
 */
export async function pinPolicy(
  creator: AccountDocument,
  policy: TrustedPublisherDocument,
  rule: PinRule<unknown>,
  ids: Pin,
  clientAddress: string,
  log: Log,
): Promise<boolean> {
  const now = clock.now();
  const change = { at: now.toISOString(), clientAddress };
  const notice = await policyNotice(policy, (reader) => trustedPublisherPinnedNotice(noticed(policy), rule.describe(ids), change, reader), log);
  let pinnedNow = false;
  const updated = await announced(
    notice,
    () =>
      updateDocumentFrom<StoredPolicy>(
        'trustedPublishers',
        policy,
        (stored) => {
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
  const matches = updated !== undefined && isPinnedTo(policyFrom(updated), ids);
  if (matches && pinnedNow) await recordPolicyEvent('trusted_publisher_pinned', creator, policy, clientAddress, ids);
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
 * Removes the policies an account made (with their slots) and those it owns (account deletion; an organization
 * support deletes owns some): none makes a key again. Runs again without harm.
 */
export async function deleteTrustedPublishersOf(accountId: string): Promise<void> {
  const { resources: owned } = await container('trustedPublishers')
    .items.query<Pick<PartitionDocument, 'id' | 'creatorId'>>({
      query: 'SELECT c.id, c.creatorId FROM c WHERE c.ownerId = @account',
      parameters: [{ name: '@account', value: accountId }],
    })
    .fetchAll();
  const created = await partitionOf(accountId);
  // Another creator's slot is free once its policy is gone, and may be taken again meanwhile: it stays.
  const ownedPolicies = owned.filter((document) => !document.id.startsWith(SLOT_PREFIX));
  for (const document of [...created, ...ownedPolicies]) await deleteIfThere(document);
}

/**
 * Deletes an organization (lib/organizations/lifecycle.ts), then the policies it owns: with their owner gone
 * none could make a key again, and they would only stay in their creators' lists. Asking again after a stop
 * between the two finds the organization gone (404); its policies then show `inactive` until their creators
 * remove them.
 */
export async function deleteOrganizationAndItsPolicies(name: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  await deleteOrganization(name, caller, clientAddress, log);
  const organization = await accountHolding({ kind: 'username', name });
  if (organization?.kind === 'organization' && organization.deletedAt) await deleteTrustedPublishersOf(organization.id);
}
