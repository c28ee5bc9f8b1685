import { randomInt } from 'node:crypto';
import { clock } from '../shared/clock';
import type { Log } from '../shared/log';
import type { Problem } from '../shared/problems';
import {
  container,
  documentsInPartition,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  readDocument,
  replaceIfUnchanged,
  updateDocument,
  type StoredDocument,
} from '../shared/storage/cosmos';
import { readAccount, type AccountDocument } from '../accounts/account';
import { organizationStop, revokeTrustedPublishingKeys, type ApiKeyScope } from '../packages/apiKeys';
import { DEFAULT_PROVIDER } from './providers';
import type { Pin } from './providers/provider';

/**
 * Where trusted publishing policies are kept: the `trustedPublishers` container, one partition per account, named
 * by `creatorId` (the container's partition key path, named when only makers had partitions).
 *
 * - **A person's partition**: the policies it made for itself; a **pointer** to each policy it made for an
 *   organization (the policy itself is in the organization's partition, under the same id); the policies it made
 *   for an organization before organizations held their own (**legacy**: `ownerId` another account), until the
 *   timer moves them (`moveOrganizationPolicies`); and its 50 slots.
 * - **An organization's partition**: its policies, whoever made them (`makerId`; `creatorName` is the maker's
 *   username on every policy), and its 50 slots. An account that became an organization keeps in it what it made
 *   as a person: the organization's now.
 *
 * So the token exchange reads one partition: an organization's name, its own; a person's name, its own, where a
 * pointer that matches costs one point read of the organization's policy. Each partition holds at most 50 that
 * count, each held by a slot (`slot:0` … `slot:49`): an organization's policy takes one of the organization's
 * slots and its pointer one of its maker's, so an account may have made 50 and an organization may hold 50.
 */
export interface TrustedPublisherDocument extends StoredDocument {
  /** The partition: its maker's, or the organization's that holds it (then `makerId` names the maker). */
  creatorId: string;
  /** Who made it, where that is not the account of its partition: on an organization's policy. */
  makerId?: string;
  /** The username of whoever made it. */
  creatorName: string;
  /** Whose keys it makes: its maker, or an organization its maker belonged to when it made it. */
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
  /** When it was moved into its organization's partition from its maker's (`moveToOrganization`), for one stored there before. */
  movedAt?: string;
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
export type StoredPolicy = (Omit<TrustedPublisherDocument, ScopeFields> | PolicyStoredBeforeProviders) &
  Partial<Pick<TrustedPublisherDocument, ScopeFields>>;

/**
 * In the maker's partition, what finds a policy it made for an organization: the organization's partition (its
 * `ownerId`) holds the policy under the same id. It copies what never changes once the policy is made (its
 * provider and criteria), so the creator form reads the policy only when the pointer already matches the job.
 */
export interface PolicyPointerDocument extends StoredDocument {
  /** The maker's partition. */
  creatorId: string;
  pointer: true;
  ownerId: string;
  ownerName: string;
  provider: string;
  criteria: Record<string, unknown>;
  createdAt: string;
  /** As on a policy: absent on the pointer that took the place of a policy stored before slots. */
  slotted?: true;
}

/**
 * One of the places a partition's policies and pointers take (`slot:0` … `slot:49`), naming the one that holds
 * it. A policy or pointer counts, is listed and matches only while a slot names it, and the slot of one that is
 * gone is free: so the limit holds on any number of instances with no transaction, removing frees the slot by
 * itself, and a creation that stops between writing and taking a slot leaves something that never counts
 * (tidied by a later creation), never a slot lost.
 */
interface PolicySlotDocument extends StoredDocument {
  creatorId: string;
  /** The owner of the policy holding it, so the admins' look across partitions finds the slots with the policies. */
  ownerId: string;
  policyId: string;
}

/** What takes a slot: a policy, or a pointer to one. */
type SlotHolder = StoredPolicy | PolicyPointerDocument;
/** What a partition holds. */
export type PartitionDocument = SlotHolder | PolicySlotDocument;

const SLOT_PREFIX = 'slot:';
const isSlot = (document: PartitionDocument): document is PolicySlotDocument => document.id.startsWith(SLOT_PREFIX);
export const isPointer = (document: PartitionDocument): document is PolicyPointerDocument => 'pointer' in document && document.pointer === true;
const isPolicy = (document: PartitionDocument): document is StoredPolicy => !isSlot(document) && !isPointer(document);

/** How many policies a partition may hold: the token exchange reads them all. */
export const MAX_POLICIES_PER_ACCOUNT = 50;
/** Something this old that holds no slot was left by a creation that stopped halfway (one takes milliseconds). */
const STRANDED_AFTER_MS = 60 * 60 * 1000;

/** What the keys of a policy may do unless it says otherwise: push any package, as every policy's keys did before scopes. */
export const DEFAULT_SCOPES: ApiKeyScope[] = ['package:push'];
export const DEFAULT_GLOBS = ['*'];

/** A stored policy in today's form. */
export function policyFrom(stored: StoredPolicy): TrustedPublisherDocument {
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

/** The account that made the policy. */
export const makerOf = (policy: TrustedPublisherDocument): string => policy.makerId ?? policy.creatorId;

/** Whether a policy never used has passed its 7 days. */
export const hasLapsed = (policy: TrustedPublisherDocument, now = clock.now().getTime()): boolean =>
  policy.pinned === null && policy.lapsesAt !== null && Date.parse(policy.lapsesAt) <= now;

/** Whether the policy is in its owner's own partition: a person's for itself, or an organization's. */
export const heldByOwner = (policy: TrustedPublisherDocument): boolean => policy.creatorId === policy.ownerId;

const byAge = (a: SlotHolder, b: SlotHolder) => a.createdAt.localeCompare(b.createdAt);
/** Stored before slots held the limit: it counts and works without one. */
const storedBeforeSlots = (holder: SlotHolder): boolean => holder.slotted !== true;

/** The policies and pointers among one partition's documents that count: those a slot names, and those stored before slots; oldest first. */
function counted(documents: PartitionDocument[]): SlotHolder[] {
  const held = new Set(documents.filter(isSlot).map((slot) => slot.policyId));
  return documents
    .filter((document): document is SlotHolder => !isSlot(document))
    .filter((holder) => held.has(holder.id) || storedBeforeSlots(holder))
    .sort(byAge);
}

/** The policies that count among one partition's documents, oldest first (pointers aside). */
const policiesIn = (documents: PartitionDocument[]): TrustedPublisherDocument[] => counted(documents).filter(isPolicy).map(policyFrom);

/** Everything in an account's partition, its policies, pointers and slots: one query within it. */
export const partitionOf = (accountId: string) => documentsInPartition<PartitionDocument>('trustedPublishers', accountId);

/** What the creator form and the organization form test a stored policy with. */
export interface PolicyTest {
  /** Whether a policy of this provider with these criteria would trust the job (what never changes: a pointer's copy is tested too). */
  criteria(provider: string, criteria: Record<string, unknown>): boolean;
  /** Whether the policy, as stored now, trusts the job: its criteria, and its pin or its lapse. */
  policy(policy: TrustedPublisherDocument): boolean;
}

/**
 * The first policy, oldest first, that a job naming `account` may use, as the test accepts it; one query within
 * the account's partition. An organization: its own policies, whoever made them. A person: the policies it made
 * for itself and, through their pointers, those it made for organizations (a point read of the one whose pointer
 * matches), and those it made for organizations before they held their own. Whether the account may still use
 * it (an organization's maker still a member) is for the caller to decide.
 */
export async function policyTrusting(account: AccountDocument, test: PolicyTest): Promise<TrustedPublisherDocument | undefined> {
  for (const holder of counted(await partitionOf(account.id))) {
    if (isPointer(holder)) {
      if (account.kind !== 'user' || !test.criteria(holder.provider, holder.criteria)) continue;
      // The pointer is written once the policy counts, and removed before it: the policy found counts.
      const stored = await readDocument<StoredPolicy>('trustedPublishers', holder.id, holder.ownerId);
      if (stored && test.policy(policyFrom(stored))) return policyFrom(stored);
      continue;
    }
    const policy = policyFrom(holder);
    // What an organization made as a person, for another owner, before it became one is not its own.
    if (account.kind === 'organization' && policy.ownerId !== account.id) continue;
    if (test.policy(policy)) return policy;
  }
  return undefined;
}

/** The policy, if it still counts: one query within its partition, for it and the slot naming it. */
export async function countedPolicy(partition: string, id: string): Promise<TrustedPublisherDocument | undefined> {
  const { resources } = await container('trustedPublishers')
    .items.query<PartitionDocument>(
      {
        query: 'SELECT * FROM c WHERE c.creatorId = @partition AND (c.id = @id OR c.policyId = @id)',
        parameters: [
          { name: '@partition', value: partition },
          { name: '@id', value: id },
        ],
      },
      { partitionKey: partition },
    )
    .fetchAll();
  return policiesIn(resources)[0];
}

/** The policy as stored now, or undefined once it is removed. */
export async function currentPolicy(policy: TrustedPublisherDocument): Promise<TrustedPublisherDocument | undefined> {
  const stored = await readDocument<StoredPolicy>('trustedPublishers', policy.id, policy.creatorId);
  return stored && policyFrom(stored);
}

/** The policy stored under this id, in the caller's partition or another's: its pointer leads to it. */
export async function policyWithId(id: string, callerId: string): Promise<TrustedPublisherDocument | undefined> {
  const own = await readDocument<PartitionDocument>('trustedPublishers', id, callerId);
  if (own && isPolicy(own)) return policyFrom(own);
  if (own && isPointer(own)) {
    const stored = await readDocument<StoredPolicy>('trustedPublishers', id, own.ownerId);
    return stored && policyFrom(stored);
  }
  // Someone else's: found by id across partitions, off every hot path.
  const { resources } = await container('trustedPublishers')
    .items.query<PartitionDocument>({ query: 'SELECT * FROM c WHERE c.id = @id', parameters: [{ name: '@id', value: id }] })
    .fetchAll();
  const stored = resources.find(isPolicy);
  return stored && policyFrom(stored);
}

/** The policies made for itself and held by the account: those its own partition counts (pointers aside), oldest first. */
export const policiesInPartitionOf = async (accountId: string): Promise<TrustedPublisherDocument[]> => policiesIn(await partitionOf(accountId));

/**
 * The policies of these organizations (in their partitions), and those members other than the caller made in
 * their own partitions for the organizations it administers before organizations held their own; oldest first.
 * A query across partitions, off every hot path.
 */
export async function policiesOfOrganizations(organizationIds: string[], administeredIds: string[], callerId: string): Promise<TrustedPublisherDocument[]> {
  if (organizationIds.length === 0) return [];
  const { resources } = await container('trustedPublishers')
    .items.query<PartitionDocument>({
      query: 'SELECT * FROM c WHERE ARRAY_CONTAINS(@organizations, c.creatorId) OR (ARRAY_CONTAINS(@administered, c.ownerId) AND c.creatorId != @caller)',
      parameters: [
        { name: '@organizations', value: organizationIds },
        { name: '@administered', value: administeredIds },
        { name: '@caller', value: callerId },
      ],
    })
    .fetchAll();
  const partitions = new Map<string, PartitionDocument[]>();
  for (const document of resources) partitions.set(document.creatorId, [...(partitions.get(document.creatorId) ?? []), document]);
  const policies = [...partitions.values()].flatMap(policiesIn);
  // In an organization's partition, its own: not what the account made there as a person before it became one.
  return policies.filter((policy) => !organizationIds.includes(policy.creatorId) || heldByOwner(policy)).sort(byAge);
}

/** A slot no live policy or pointer holds: absent (`etag` undefined), or naming one that is gone. */
interface FreeSlot {
  id: string;
  etag: string | undefined;
}

/**
 * The partition's free slots, as these documents of it show them. What was stored before slots takes the last
 * places: with `n` such, only the first 50 - `n` slots may be taken. Their number only ever falls (none is made
 * any more), so a count read a moment ago never lets the limit be passed.
 */
function freeSlots(documents: PartitionDocument[]): FreeSlot[] {
  const holders = documents.filter((document): document is SlotHolder => !isSlot(document));
  const live = new Set(holders.map((holder) => holder.id));
  const slots = new Map(documents.filter(isSlot).map((slot) => [slot.id, slot]));
  const places = MAX_POLICIES_PER_ACCOUNT - holders.filter(storedBeforeSlots).length;
  return Array.from({ length: Math.max(0, places) }, (_, n) => slots.get(`${SLOT_PREFIX}${n}`) ?? { id: `${SLOT_PREFIX}${n}` })
    .filter((slot) => !('policyId' in slot) || !live.has(slot.policyId))
    .map((slot) => ({ id: slot.id, etag: '_etag' in slot ? slot._etag : undefined }));
}

/** Whether the partition, as these documents show it, has a free slot. */
export const hasFreeSlot = (documents: PartitionDocument[]): boolean => freeSlots(documents).length > 0;

/**
 * Gives the policy or pointer a slot: one that is absent by creating it (of two creations, Cosmos DB answers the
 * second 409), or one whose holder is gone by replacing it under the ETag it was read with (the second: 412). The
 * free slots are tried in random order, so creations at the same moment seldom reach for the same one. False
 * once every slot seen free was taken by another: one freed since is for the next request.
 */
async function takeSlot(holder: SlotHolder, seen: PartitionDocument[]): Promise<boolean> {
  const free = freeSlots(seen);
  while (free.length > 0) {
    const [slot] = free.splice(randomInt(free.length), 1);
    const taken: PolicySlotDocument = { id: slot.id, creatorId: holder.creatorId, ownerId: holder.ownerId, policyId: holder.id };
    try {
      if (slot.etag === undefined) await container('trustedPublishers').items.create(taken);
      else await replaceIfUnchanged('trustedPublishers', { ...taken, _etag: slot.etag }, holder.creatorId);
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
 * Writes the policy or pointer into its partition, then gives it a slot, from which on it counts and works; with
 * none free it goes again and `limitReached` is thrown. What a creation that stopped halfway left there without a
 * slot goes too, once an hour old.
 */
async function storeInSlot(holder: SlotHolder, seen: PartitionDocument[], limitReached: () => Problem): Promise<void> {
  await container('trustedPublishers').items.create(holder);
  if (!(await takeSlot(holder, seen))) {
    await deleteIfThere(holder);
    throw limitReached();
  }
  const held = new Set(counted(seen).map((h) => h.id));
  const strandedBefore = clock.now().getTime() - STRANDED_AFTER_MS;
  for (const stranded of seen) {
    if (!isSlot(stranded) && !held.has(stranded.id) && Date.parse(writtenAt(stranded)) < strandedBefore) await deleteIfThere(stranded);
  }
}

/** When the document was written into its partition: its making, or its move. */
const writtenAt = (holder: SlotHolder): string => ('movedAt' in holder && holder.movedAt) || holder.createdAt;

/** A policy for its maker itself, in one of the maker's slots (`seen`: the maker's partition). */
export const storePolicy = (policy: TrustedPublisherDocument, seen: PartitionDocument[], limitReached: () => Problem): Promise<void> =>
  storeInSlot(policy, seen, limitReached);

/** The pointer to an organization's policy, for its maker's partition. */
const pointerTo = (policy: TrustedPublisherDocument): PolicyPointerDocument => ({
  id: policy.id,
  creatorId: makerOf(policy),
  pointer: true,
  ownerId: policy.ownerId,
  ownerName: policy.ownerName,
  provider: policy.provider,
  criteria: policy.criteria,
  createdAt: policy.createdAt,
  ...(policy.slotted ? { slotted: true as const } : {}),
});

/**
 * An organization's policy: written in the organization's partition and given one of its slots, from which on it
 * counts and the organization form finds it; then its pointer in the maker's partition, in one of the maker's
 * slots, for the creator form. So a creation cut short leaves either nothing that counts, or the organization's
 * policy without its pointer: counted by the organization, found by the organization form only. Should the
 * maker have no slot left by then, the policy goes again (with any key made in that moment).
 */
export async function storeOrganizationPolicy(
  policy: TrustedPublisherDocument,
  seen: { organization: PartitionDocument[]; maker: PartitionDocument[] },
  limitReached: { organization: () => Problem; maker: () => Problem },
): Promise<void> {
  await storeInSlot(policy, seen.organization, limitReached.organization);
  try {
    await storeInSlot(pointerTo(policy), seen.maker, limitReached.maker);
  } catch (error) {
    await deleteIfThere(policy);
    await revokeTrustedPublishingKeys(policy.ownerId, policy.id);
    throw error;
  }
}

/**
 * Removes a stored policy: first what the other of its two partitions holds under its id (an organization's
 * policy: its pointer, so a removal cut short leaves the organization's policy without one; a policy stored in its
 * maker's partition for an organization: the copy a move may be writing, so the move finds it gone and stops), then
 * the policy, from which on it makes no key and its slot is free. False when the policy was gone already (removed
 * at the same moment).
 */
export async function removePolicy(policy: TrustedPublisherDocument): Promise<boolean> {
  const other = heldByOwner(policy) ? makerOf(policy) : policy.ownerId;
  if (other !== policy.creatorId) await deleteIfThere({ id: policy.id, creatorId: other });
  try {
    await container('trustedPublishers').item(policy.id, policy.creatorId).delete();
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** The live keys the policy made stop working: those its maker holds and, for an organization's policy, those it holds itself. */
export async function revokeKeysOf(policy: TrustedPublisherDocument): Promise<void> {
  for (const holderId of new Set([makerOf(policy), policy.ownerId])) await revokeTrustedPublishingKeys(holderId, policy.id);
}

/** Stored fields only: what Cosmos DB adds to a document it returns is not written into another partition. */
function storedFieldsOf<T extends object>(document: T): T {
  return Object.fromEntries(Object.entries(document).filter(([name]) => !name.startsWith('_'))) as T;
}

/**
 * Moves a policy its maker stored in its own partition for an organization, before organizations held their own,
 * into the organization's partition, while its maker still belongs to the organization (one whose maker left is
 * `inactive` and stays so: moving it would give the organization a policy nobody there made or was told of). In
 * steps any of which may be cut short and run again:
 * 1. the policy is written in the organization's partition under the same id (`makerId` its maker) and given one
 *    of the organization's slots: from then on the organization form finds it. With no slot free it goes again,
 *    and the policy stays where it is, found by the creator form alone.
 * 2. a pointer takes the stored policy's place, under its ETag, so the maker's slot now holds the pointer and the
 *    creator form reaches the organization's copy through it. Used meanwhile through the creator form (pinned,
 *    its ETag changed), the copy takes its pin first and the step is tried again; removed meanwhile, the copy
 *    goes too.
 * Answers whether it is now the organization's.
 */
export async function moveToOrganization(stored: StoredPolicy): Promise<boolean> {
  const legacy = policyFrom(stored);
  // A lock leaves the organization and its members as they are: its policies move all the same.
  const stop = organizationStop(await readAccount(legacy.ownerId), legacy.creatorId);
  if (stop !== undefined && stop !== 'owner_locked') return false;
  const seen = await partitionOf(legacy.ownerId);
  const copy: TrustedPublisherDocument = {
    ...storedFieldsOf(legacy),
    creatorId: legacy.ownerId,
    makerId: legacy.creatorId,
    slotted: true,
    movedAt: clock.now().toISOString(),
  };
  if (!policiesIn(seen).some((policy) => policy.id === legacy.id)) {
    try {
      await container('trustedPublishers').items.create(copy);
    } catch (error) {
      // Written by a run cut short, or one at the same moment: it takes its slot now if it has none.
      if (!isConflict(error)) throw error;
    }
    if (!(await takeSlot(copy, seen))) {
      await deleteIfThere(copy);
      return false;
    }
  }
  for (let current: StoredPolicy | PolicyPointerDocument | undefined = stored; current; ) {
    if (isPointer(current)) return true;
    // The copy removed meanwhile (a removal by id finds either): the policy is removed, in the maker's partition too.
    if (!(await takePinOf(policyFrom(current), copy))) {
      await deleteIfThere(current);
      return false;
    }
    try {
      await replaceIfUnchanged<PartitionDocument>('trustedPublishers', { ...pointerTo(policyFrom(current)), _etag: current._etag }, current.creatorId);
      return true;
    } catch (error) {
      if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
    }
    current = await readDocument<StoredPolicy | PolicyPointerDocument>('trustedPublishers', stored.id, stored.creatorId);
  }
  await deleteIfThere(copy);
  await revokeTrustedPublishingKeys(copy.ownerId, copy.id);
  return false;
}

/**
 * The organization's copy takes the pin and last use of the stored policy, where it has no pin of its own; false
 * when the copy is gone.
 */
async function takePinOf(legacy: TrustedPublisherDocument, copy: TrustedPublisherDocument): Promise<boolean> {
  const updated = await updateDocument<StoredPolicy>(
    'trustedPublishers',
    copy.id,
    (current) => {
      const policy = policyFrom(current);
      if (legacy.pinned === null || policy.pinned !== null) return undefined;
      const { pinned, pinnedAt, lapsesAt, lastUsedAt } = legacy;
      return { ...policy, pinned, pinnedAt, lapsesAt, lastUsedAt };
    },
    copy.creatorId,
  );
  return updated !== undefined;
}

/**
 * The timer `moveOrganizationPolicies`: moves the policies makers stored for organizations in their own
 * partitions (before organizations held their own) into the organizations' (`moveToOrganization`), so the
 * organization form finds them too. A query across partitions for the makers that still have such policies (no
 * policy is stored so any more, so they only grow fewer), then each maker's partition (which says which count);
 * one that cannot move (its organization has 50, or its maker left it) is looked at again by the next run, and
 * trouble with one is logged and leaves it for the next. Once none is left, a run is one query.
 */
export async function moveOrganizationPolicies(log: Log): Promise<{ moved: number; left: number; failed: number }> {
  const { resources } = await container('trustedPublishers')
    .items.query<Pick<StoredPolicy, 'creatorId'>>(
      'SELECT c.creatorId FROM c WHERE c.ownerId != c.creatorId AND NOT IS_DEFINED(c.pointer) AND NOT IS_DEFINED(c.policyId)',
    )
    .fetchAll();
  const tally = { moved: 0, left: 0, failed: 0 };
  for (const makerId of new Set(resources.map((policy) => policy.creatorId))) {
    const legacy = counted(await partitionOf(makerId)).filter(isPolicy).filter((policy) => policy.ownerId !== policy.creatorId);
    for (const stored of legacy) {
      try {
        if (await moveToOrganization(stored)) tally.moved += 1;
        else tally.left += 1;
      } catch (error) {
        tally.failed += 1;
        log.warn(`Trusted publishing policy ${stored.id} stays in its maker's partition until the next run`, error);
      }
    }
  }
  return tally;
}

/**
 * Removes what the account's partition holds and the policies and pointers other partitions hold for it as
 * owner (account deletion; an organization deleted): none makes a key again. A person's policies for
 * organizations survive it: stored in its own partition before organizations held their own, each is moved to
 * its organization first (or goes, where the organization has no slot for it). Runs again without harm.
 */
export async function deleteTrustedPublishersOf(accountId: string): Promise<void> {
  for (const legacy of counted(await partitionOf(accountId)).filter(isPolicy)) {
    if (legacy.ownerId !== accountId) await moveToOrganization(legacy);
  }
  const { resources: owned } = await container('trustedPublishers')
    .items.query<Pick<PartitionDocument, 'id' | 'creatorId'>>({
      query: 'SELECT c.id, c.creatorId FROM c WHERE c.ownerId = @account AND NOT IS_DEFINED(c.policyId)',
      parameters: [{ name: '@account', value: accountId }],
    })
    .fetchAll();
  // Another account's slot is free once what it held is gone, and may be taken again meanwhile: it stays.
  for (const document of [...(await partitionOf(accountId)), ...owned]) await deleteIfThere(document);
}
