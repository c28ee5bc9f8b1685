import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { recordAudit, recordTrailEvent, type AuditAction, type AuditApiKey } from '../shared/audit';
import { clock, nowIso } from '../shared/clock';
import {
  apiKeyCreatedNotice,
  apiKeyEditedNotice,
  apiKeyRegeneratedNotice,
  apiKeyRevokedNotice,
  memberKeysRevokedNotice,
  type NoticeContent,
  type NoticedKey,
} from '../shared/email/messages';
import type { Log } from '../shared/log';
import { pageQuery } from '../shared/paging';
import { Problem } from '../shared/problems';
import { container, readDocument, updateDocument, updateDocumentFrom, type StoredDocument } from '../shared/storage/cosmos';
import { readAccount, type AccountDocument } from '../accounts/account';
import { accountHolding } from '../accounts/claims';
import { usernameField } from '../accounts/names';
import { announced, nothingQueued, noticeTo, noticeToAll, type Notice } from '../accounts/notices';
import { lockedAccountSessionEnded } from '../accounts/sessions';
import { globMatches, packageGlobField } from './globs';
import { everyHeldKeyId, heldKeyIds, heldKeysPage, holdKey, moveKeyListOff, releaseHeldKey, type HeldKeyFilter } from './heldKeys';
import { forgetExpiry, indexExpiry } from './keyExpiry';

export const API_KEY_SCOPES = ['package:push', 'package:pushversion', 'package:unlist'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export interface ApiKeyDocument extends StoredDocument {
  description: string;
  scopes: ApiKeyScope[];
  packageGlobs: string[];
  /** The account or organization the key pushes for. */
  ownerAccountId: string;
  ownerName: string;
  /**
   * Who holds the key: the account that created it, or the admin a transformed account handed it to; or, for a
   * key trusted publishing made for an organization's policy through the organization's own name, the
   * organization itself (`holderKind`).
   */
  creatorAccountId: string;
  /** Set when the holder is an organization (its own trusted publishing key); absent: a person. */
  holderKind?: 'organization';
  /** The holder's username, so what the key does names it without a read (absent on keys made before). */
  creatorName?: string;
  /** 0 for a key trusted publishing made, which lives minutes (`TRUSTED_PUBLISHING_KEY_MINUTES`). */
  expiresInDays: number;
  createdAt: string;
  expiresAt: string;
  /**
   * When it stopped for good, and why: revoked by its holder (no reason), or with its owner's end, written
   * by the change that ended the owner so the push check needs no read of the owner.
   */
  revokedAt: string | null;
  revokedBecause?: RevocationReason;
  /**
   * The reversible state beside it: a mark for each suspension that holds it (see `Suspension`: its holder's
   * or owner's lock, its owning organization's freeze), written by the lock or freeze and taken off when it is
   * lifted, so the push check reads it on the key (`refusalOf`). It works again once no mark is left, unless
   * it was revoked or expired meanwhile.
   */
  suspendedBy?: string[];
  /** SHA-256 of the whole secret: it has 256 random bits, so a fast hash is as good as a slow one. */
  secretHash: string;
  /**
   * Set on a key trusted publishing made for one CI run: the policy that matched and the run it was given to.
   * Such a key cannot be edited or regenerated, and what it pushes says where it came from.
   */
  trustedPublishing?: TrustedPublishingGrant;
}

/** The policy and the CI run a trusted publishing key was made for, as the key keeps them. */
export interface TrustedPublishingGrant {
  policyId: string;
  /** The policy's provider (lib/trustedPublishing/providers), which says what `run` holds. */
  provider: string;
  /** What the provider's token said about the run (GitHub: repository and its id, ref, sha, run, actor, event, workflow file, environment). */
  run: Record<string, string | null>;
}

/** A trusted publishing key to make: what its policy lets it do, the grant it keeps, and how its description and the log name the run. */
export interface TrustedPublishingKeyRequest {
  scopes: ApiKeyScope[];
  packageGlobs: string[];
  grant: TrustedPublishingGrant;
  /** The run in a few words: "contoso/contoso-sdk, release.yml, run 42". */
  summary: string;
  /** What the record of the key's making names of the run, beside the key, owner and policy. */
  logged: Record<string, string>;
}

/** How long a key trusted publishing makes works (the contract's 15 minutes; NuGet.org's default too). */
export const TRUSTED_PUBLISHING_KEY_MINUTES = 15;

/**
 * Why a key was revoked other than by its holder: its owner was deleted; its creator left the owning
 * organization; support revoked it as leaked; it was made while its holder or owner was locked, or its owner
 * frozen, and never handed out; the trusted publishing policy that made it was removed; or an admin of the
 * owning organization revoked the keys its holder held for it.
 */
export type RevocationReason =
  | 'owner_deleted'
  | 'holder_deleted'
  | 'left_organization'
  | 'leaked'
  | 'account_locked'
  | 'organization_frozen'
  | 'policy_removed'
  | 'organization_admin';

const descriptionField = z.string().trim().min(1).max(256);
/** What a key may do (at least one), and which package ids it covers: a key's, or a trusted publishing policy's for the keys it makes. */
export const apiKeyScopesField = z.array(z.enum(API_KEY_SCOPES)).min(1).max(API_KEY_SCOPES.length);
export const packageGlobsField = z.array(packageGlobField).min(1).max(100);

export const createApiKeyBody = z
  .object({
    description: descriptionField,
    scopes: apiKeyScopesField,
    packageGlobs: packageGlobsField,
    owner: usernameField,
    expiresInDays: z.number().int().min(1).max(365),
  })
  .strict();

/** What an edit may change (NuGet.org's "Edit" on a key): its scopes and owner stay. */
export const editApiKeyBody = z
  .object({ description: descriptionField.optional(), packageGlobs: packageGlobsField.optional() })
  .strict()
  .refine((body) => body.description !== undefined || body.packageGlobs !== undefined, {
    message: "is required when 'packageGlobs' is not given",
    path: ['description'],
  });

export const apiKeyView = z.object({
  id: z.string(),
  description: z.string(),
  scopes: z.array(z.enum(API_KEY_SCOPES)),
  packageGlobs: z.array(z.string()),
  owner: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  expired: z.boolean(),
  suspended: z
    .boolean()
    .describe('Its holder or its owner is locked by support, or its owning organization is frozen: it works again once that is lifted'),
  trustedPublishing: z
    .boolean()
    .describe("Made by trusted publishing for one CI run (its policy's scopes and globs, 15 minutes): it cannot be edited or regenerated"),
});
export const apiKeyWithSecret = apiKeyView.extend({ key: z.string().describe('The secret: shown this once, never again') });

/** `{id}`: one of the caller's keys, by the id its secret embeds. */
export const apiKeyParams = z.object({
  id: z
    .string()
    .regex(/^[0-9a-f]{32}$/, 'must be an API key id: 32 hexadecimal digits')
    .meta({ examples: ['0f1e2d3c4b5a69788796a5b4c3d2e1f0'] }),
});

const KEY_PREFIX = 'gak1';
/** `gak1.<key id>.<secret>`: the shape of every key this service gives out. */
const KEY_PATTERN = /^gak1\.([0-9a-f]{32})\.[A-Za-z0-9_-]{43}$/;

/** A whole key, secret included, as a body field (support revoking a leaked one). */
export const apiKeySecretField = z
  .string()
  .max(200)
  .regex(KEY_PATTERN, 'must be an API key as this service gives them out: gak1.<id>.<secret>')
  .meta({ examples: ['gak1.0f1e2d3c4b5a69788796a5b4c3d2e1f0.q3Yc2m8ZxV0b1nR4tW7yA9eD6fH5jL2pS8uQ0iO3gEk'] });

/**
 * What suspends keys while it holds, each set on an account's document: support's lock of an account or
 * organization, and an organization's freeze (by its admins, or support). Each suspends every key the
 * account holds and every key it owns, by a mark of its own on each key, so two suspensions of one key
 * (its holder's lock and its owner's freeze) are lifted one at a time and the key works once neither holds.
 */
export type Suspension = 'lock' | 'freeze';

const FREEZE_MARK = 'freeze:';
const isFreezeMark = (mark: string) => mark.startsWith(FREEZE_MARK);

const SUSPENSIONS: Record<Suspension, { holds(account: AccountDocument): boolean; mark(accountId: string): string }> = {
  // A lock's mark is the locked account's bare id, as keys suspended before freezes existed carry it.
  lock: { holds: (account) => Boolean(account.lock), mark: (accountId) => accountId },
  freeze: { holds: (account) => Boolean(account.frozen), mark: (accountId) => `${FREEZE_MARK}${accountId}` },
};

const isSuspended = (key: ApiKeyDocument) => (key.suspendedBy?.length ?? 0) > 0;

/** Which suspensions hold a key, and who lifts them: told only to whoever has its secret, or holds it. */
function whySuspended(key: ApiKeyDocument): string {
  const marks = key.suspendedBy ?? [];
  const frozen = marks.some(isFreezeMark);
  const locked = marks.some((mark) => !isFreezeMark(mark));
  const why = [
    ...(frozen ? [`the organization '${key.ownerName}' it pushes for is frozen`] : []),
    ...(locked ? ['its account or its owner is locked by support'] : []),
  ].join(', and ');
  return `${why}. ${locked ? 'Contact support.' : `It works again once an admin of '${key.ownerName}' unfreezes the organization.`}`;
}

function toView(key: ApiKeyDocument): z.infer<typeof apiKeyView> {
  const { id, description, scopes, packageGlobs, ownerName: owner, createdAt, expiresAt } = key;
  const expired = Date.parse(expiresAt) <= clock.now().getTime();
  const trustedPublishing = key.trustedPublishing !== undefined;
  return { id, description, scopes, packageGlobs, owner, createdAt, expiresAt, expired, suspended: isSuspended(key), trustedPublishing };
}

/** The key as the audit records name it: by id and description, and whether trusted publishing made it. */
export function auditKeyOf(key: ApiKeyDocument): AuditApiKey {
  return { id: key.id, description: key.description, ...(key.trustedPublishing ? { trustedPublishing: true } : {}) };
}

const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

/** `gak1.<key id>.<256 random bits>`: the id finds the key with one point read. */
function newSecret(keyId: string): string {
  return `${KEY_PREFIX}.${keyId}.${randomBytes(32).toString('base64url')}`;
}

/**
 * The owner a key may push for: the caller, or an organization the caller belongs to (by the organization's
 * own document), that support has not locked and that is not frozen. A trusted publishing policy, which makes
 * keys, may be owned by the same; `what` names the thing in the refusal.
 */
export async function allowedOwner(caller: AccountDocument, owner: string, what = 'A key'): Promise<AccountDocument> {
  if (owner.toLowerCase() === caller.username.toLowerCase()) return caller;
  const organization = await accountHolding({ kind: 'username', name: owner });
  const stop = organizationStop(organization, caller.id);
  if (stop === 'owner_locked') throw SESSION_REFUSALS.ownerLocked(organization!.username);
  if (stop === 'owner_frozen') throw SESSION_REFUSALS.ownerFrozen(organization!.username);
  if (stop) throw notAnAllowedOwner(owner, what);
  return organization!;
}

/** Why keys for an organization held by `holderId` (a member, or the organization itself) may not work now. */
export type OrganizationStop = 'owner_deleted' | 'left_organization' | 'owner_locked' | 'owner_frozen';

/**
 * The one list of what stops an organization's keys, decided from its own document: it is gone (or is no
 * organization), the holder is neither the organization itself nor one of its members, support locked it, or it
 * froze itself (its admins or support).
 * Every place that makes a key for an organization, or trusts a policy to make one, asks this.
 */
export function organizationStop(organization: AccountDocument | undefined, holderId: string): OrganizationStop | undefined {
  if (organization?.kind !== 'organization' || organization.deletedAt) return 'owner_deleted';
  if (organization.id !== holderId && !organization.members?.some((m) => m.accountId === holderId)) return 'left_organization';
  if (organization.lock) return 'owner_locked';
  if (organization.frozen) return 'owner_frozen';
  return undefined;
}

/** What stops a key: its holder, a person, locked; or one of its owning organization's stops. */
export type KeyStop = 'holder_locked' | 'holder_deleted' | OrganizationStop;

/** How a stop is answered, in the words of whoever asked for the key. */
export function refusalFor(stop: KeyStop, refusals: KeyRefusals, owner: string): Problem {
  if (stop === 'holder_locked') return refusals.holderLocked();
  if (stop === 'holder_deleted') return refusals.ownerGone(owner);
  if (stop === 'owner_locked') return refusals.ownerLocked(owner);
  if (stop === 'owner_frozen') return refusals.ownerFrozen(owner);
  return stop === 'owner_deleted' ? refusals.ownerGone(owner) : refusals.ownerNotAllowed(owner);
}

const notAnAllowedOwner = (owner: string, what: string) =>
  new Problem('owner_not_allowed', `${what} can be owned by you or by an organization you belong to, not by '${owner}'.`);

/**
 * What a key being made is refused with when something changed while it was made: the person asking with a
 * session is told one way, a workflow exchanging a token (lib/trustedPublishing) another.
 */
export interface KeyRefusals {
  /** Its holder is locked by support. */
  holderLocked(): Problem;
  /** Its owner, an organization, is locked by support. */
  ownerLocked(owner: string): Problem;
  /** Its owner, an organization, is frozen. */
  ownerFrozen(owner: string): Problem;
  /** Its holder no longer belongs to the owning organization. */
  ownerNotAllowed(owner: string): Problem;
  /** The owning organization is gone. */
  ownerGone(owner: string): Problem;
}

const SESSION_REFUSALS: KeyRefusals = {
  holderLocked: lockedAccountSessionEnded,
  ownerLocked: (owner) =>
    new Problem('owner_not_allowed', `'${owner}' is locked by support: no key can be made for it until it is unlocked. Contact support.`),
  ownerFrozen: (owner) =>
    new Problem(
      'owner_not_allowed',
      `'${owner}' is frozen: nothing can publish for it, and no key can be made for it, until one of its admins unfreezes it.`,
    ),
  ownerNotAllowed: (owner) => notAnAllowedOwner(owner, 'A key'),
  ownerGone: (owner) => notAnAllowedOwner(owner, 'A key'),
};

const expiry = (days: number, from = clock.now()) => new Date(from.getTime() + days * 24 * 60 * 60 * 1000).toISOString();

export async function createApiKey(caller: AccountDocument, input: z.infer<typeof createApiKeyBody>, clientAddress: string, log: Log) {
  const owner = await allowedOwner(caller, input.owner);
  // One reading of the clock, so the key lives exactly the days asked for.
  const now = clock.now();
  const id = randomUUID().replace(/-/g, '');
  const secret = newSecret(id);
  const key: ApiKeyDocument = {
    id,
    description: input.description,
    scopes: [...new Set(input.scopes)],
    packageGlobs: input.packageGlobs,
    ownerAccountId: owner.id,
    ownerName: owner.username,
    creatorAccountId: caller.id,
    creatorName: caller.username,
    expiresInDays: input.expiresInDays,
    createdAt: now.toISOString(),
    expiresAt: expiry(input.expiresInDays, now),
    revokedAt: null,
    secretHash: hashSecret(secret),
  };
  const notice = await keyNotice(caller, key, apiKeyCreatedNotice({ ...noticed(key), scopes: key.scopes, packageGlobs: key.packageGlobs, expiresAt: key.expiresAt }, { at: key.createdAt, clientAddress }));
  await announced(notice, () => storeNewKey(caller, key, SESSION_REFUSALS), log);
  await recordKeyEvent('api_key_created', caller, key, clientAddress, { keyId: id, owner: owner.username });
  return { ...toView(key), key: secret };
}

/**
 * A key for the CI run a trusted publishing policy matched: the policy's scopes and globs, owned by the policy's
 * owner, for 15 minutes. Its holder is the account the job named: the policy's maker, or the organization that
 * owns the policy, which then holds its own key (so the key depends on no member). Made and checked as every key
 * is (`storeNewKey`), refused in the words of the token exchange, and recorded in the holder's log and the owning
 * organization's trail.
 */
export async function createTrustedPublishingKey(
  holder: AccountDocument,
  owner: Pick<AccountDocument, 'id' | 'username'>,
  { scopes, packageGlobs, grant, summary, logged }: TrustedPublishingKeyRequest,
  refusals: KeyRefusals,
  clientAddress: string,
): Promise<{ secret: string; expiresAt: string }> {
  // An organization holds only its own keys, and only those trusted publishing makes.
  if (holder.kind === 'organization' && holder.id !== owner.id) throw new Error('An organization holds only the keys it owns.');
  const now = clock.now();
  const id = randomUUID().replace(/-/g, '');
  const secret = newSecret(id);
  const key: ApiKeyDocument = {
    id,
    description: `Trusted publishing: ${summary}`.slice(0, 256),
    scopes,
    packageGlobs,
    ownerAccountId: owner.id,
    ownerName: owner.username,
    creatorAccountId: holder.id,
    creatorName: holder.username,
    ...(holder.kind === 'organization' ? { holderKind: 'organization' as const } : {}),
    expiresInDays: 0,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + TRUSTED_PUBLISHING_KEY_MINUTES * 60 * 1000).toISOString(),
    revokedAt: null,
    secretHash: hashSecret(secret),
    trustedPublishing: grant,
  };
  await storeNewKey(holder, key, refusals);
  await recordKeyEvent('trusted_publishing_key_created', holder, key, clientAddress, {
    keyId: id,
    owner: owner.username,
    policyId: grant.policyId,
    ...logged,
  });
  return { secret, expiresAt: key.expiresAt };
}

/**
 * Stores a new key, unless its holder (as read) is stopped. Its holder's list holds it before it exists
 * (`heldKeys`), so a crash never leaves a working key its holder cannot see, and a lock or any other sweep that
 * reads the list from then on finds it. Once it exists it is checked again against what may have changed meanwhile
 * (`assertStillIssuable`): such a key is revoked at once and never handed out.
 */
async function storeNewKey(holder: AccountDocument, key: ApiKeyDocument, refusals: KeyRefusals): Promise<void> {
  const stop = holderStop(holder);
  if (stop) throw refusalFor(stop, refusals, key.ownerName);
  await holdKey(key, holder.id);
  // The expiry timer finds the key from its entry, so the entry exists first.
  await indexExpiry(key);
  await container('apiKeys').items.create(key);
  await assertStillIssuable(key, refusals);
}

/**
 * Records what was done to a key in its holder's log and, for a key an organization owns, in the
 * organization's trail (naming the member and the key). An organization holding its own key has no log of its
 * own that anyone reads: its trail records it, naming the organization.
 */
async function recordKeyEvent(
  action: AuditAction,
  caller: AccountDocument,
  key: ApiKeyDocument,
  clientAddress: string,
  details: Record<string, string>,
): Promise<void> {
  if (caller.kind === 'user') await recordAudit(caller.id, action, clientAddress, details);
  if (key.ownerAccountId === caller.id && caller.kind === 'user') return;
  const { keyId: _inApiKey, ...rest } = details;
  await recordTrailEvent([key.ownerAccountId], {
    action,
    actor: { accountId: caller.id, username: caller.username },
    apiKey: auditKeyOf(key),
    details: rest,
  });
}

/** The key as a notice names it. */
const noticed = (key: ApiKeyDocument): NoticedKey => ({ id: key.id, description: key.description, owner: key.ownerName });

/**
 * The notice to the key's holder of what the caller does to it, queued before the change (a security notice:
 * it always goes). Keys trusted publishing hands out are never announced: every CI run makes one, and the
 * security log and the owner's trail record them.
 */
async function keyNotice(holder: AccountDocument, key: ApiKeyDocument, content: NoticeContent, onceKey?: string): Promise<Notice> {
  if (key.trustedPublishing) return nothingQueued;
  return noticeTo(holder, 'security', content, { container: 'apiKeys', id: key.id }, { onceKey });
}

/** The keys behind `keyIds` that `holder` holds and nobody revoked. */
async function liveKeysHeld(holderId: string, keyIds: string[]): Promise<ApiKeyDocument[]> {
  const keys = await Promise.all(keyIds.map((id) => readDocument<ApiKeyDocument>('apiKeys', id)));
  return keys.filter((key): key is ApiKeyDocument => key !== undefined && key.revokedAt === null && key.creatorAccountId === holderId);
}

/** The live keys the account holds (narrowed by `filter`), read 10 at a time: for the sweeps, off every hot path. */
async function liveKeysOf(holder: AccountDocument, filter?: HeldKeyFilter): Promise<ApiKeyDocument[]> {
  const keyIds = await heldKeyIds(holder, filter);
  const live: ApiKeyDocument[] = [];
  for (let i = 0; i < keyIds.length; i += 10) live.push(...(await liveKeysHeld(holder.id, keyIds.slice(i, i + 10))));
  return live;
}

/** How many keys a page of `GET /api/me/api-keys` lists at most, and by default: each is a point read. */
export const API_KEYS_PAGE_SIZE = 100;
export const apiKeysPageQuery = pageQuery(API_KEYS_PAGE_SIZE);

/**
 * One page of the caller's keys, oldest first, without secrets: those it holds and nobody revoked, expired ones too
 * (a key can be regenerated once expired), and keys trusted publishing made until they expire. One query within the
 * caller's partition of `heldApiKeys`, then a point read of each key on the page. An item whose key was revoked or
 * handed over (a crash between the two writes) is skipped, and tidied away.
 */
export async function listApiKeys(caller: AccountDocument, pageSize = API_KEYS_PAGE_SIZE, continuationToken?: string) {
  const page = await heldKeysPage(caller, pageSize, continuationToken);
  const keys = await Promise.all(page.keyIds.map((id) => readDocument<ApiKeyDocument>('apiKeys', id)));
  const live = keys.filter((key): key is ApiKeyDocument => key !== undefined && key.revokedAt === null && key.creatorAccountId === caller.id);
  // A missing key may be one being made (its item is written first): only a key that can no longer be the caller's goes.
  const stale = keys.filter((key): key is ApiKeyDocument => key !== undefined && !live.includes(key));
  await Promise.all(stale.map((key) => releaseHeldKey(key.id, caller.id)));
  return { keys: live.map(toView), continuationToken: page.continuationToken };
}

const noSuchKey = () => new Problem('not_found', 'You have no API key with that id.');

/** The caller's own live key, by the key document (which names its holder); anyone else's, or a revoked one, is simply not found. */
async function callersKey(caller: AccountDocument, keyId: string): Promise<ApiKeyDocument> {
  const [key] = await liveKeysHeld(caller.id, [keyId]);
  if (!key) throw noSuchKey();
  return key;
}

/**
 * The caller's key, for a change of its secret or settings: the one place that decides which keys may be
 * changed. A key trusted publishing made for one workflow run may not: it was never shown to its holder, and
 * a new secret or wider globs would outlive the run it was made for.
 */
async function keyToChange(caller: AccountDocument, keyId: string): Promise<ApiKeyDocument> {
  const key = await callersKey(caller, keyId);
  if (key.trustedPublishing) {
    throw new Problem(
      'trusted_publishing_key',
      `This key was made by trusted publishing for one CI job: it cannot be edited or regenerated, and it stops working by itself ${TRUSTED_PUBLISHING_KEY_MINUTES} minutes after it was made. Revoke it if you must stop it sooner.`,
    );
  }
  return key;
}

/**
 * A suspended key gets no new secret (no key is made or regenerated for a locked or frozen owner): checked
 * before anything is written, and again on the key written, should a suspension cross the regeneration.
 */
function assertNotSuspended(key: ApiKeyDocument): void {
  if (isSuspended(key)) throw new Problem('owner_not_allowed', `This key is suspended, so it cannot be regenerated: ${whySuspended(key)}`);
}

/**
 * A new secret for the same key: same scopes, globs and owner, a fresh expiry; the old secret stops at once.
 * Of regenerations at the same moment one wins; the others answer 409 rather than hand out a secret that
 * the winner's already replaced. A concurrent change of anything else is simply retried.
 */
export async function regenerateApiKey(caller: AccountDocument, keyId: string, clientAddress: string, log: Log) {
  const key = await keyToChange(caller, keyId);
  assertNotSuspended(key);
  const secret = newSecret(key.id);
  const expiresAt = expiry(key.expiresInDays);
  const notice = await keyNotice(caller, key, apiKeyRegeneratedNotice({ ...noticed(key), expiresAt }, { at: nowIso(), clientAddress }));
  const updated = await announced(
    notice,
    async () => {
      // The new expiry is indexed before the key has it, so the timer never misses it.
      await indexExpiry({ id: key.id, expiresAt, expiresInDays: key.expiresInDays });
      return updateDocumentFrom<ApiKeyDocument>('apiKeys', key, (current) => {
        if (current.revokedAt !== null || current.creatorAccountId !== caller.id) throw noSuchKey();
        assertNotSuspended(current);
        if (current.secretHash !== key.secretHash) {
          throw new Problem('concurrent_change', 'This key was regenerated by another request at the same moment. Regenerate it again to get a secret you can use.');
        }
        return { ...current, secretHash: hashSecret(secret), expiresAt };
      });
    },
    log,
  );
  if (!updated) throw noSuchKey();
  await forgetExpiry(key);
  await recordKeyEvent('api_key_regenerated', caller, updated, clientAddress, { keyId });
  return { ...toView(updated), key: secret };
}

/** Changes a key's description or globs; its secret, scopes, owner and expiry stay (and so does its expiry's entry). */
export async function editApiKey(caller: AccountDocument, keyId: string, input: z.infer<typeof editApiKeyBody>, clientAddress: string, log: Log) {
  const key = await keyToChange(caller, keyId);
  const edited = { description: input.description !== undefined, packageGlobs: input.packageGlobs !== undefined };
  const content = apiKeyEditedNotice({ ...noticed(key), packageGlobs: key.packageGlobs, ...input }, edited, { at: nowIso(), clientAddress });
  const updated = await announced(await keyNotice(caller, key, content), () =>
    updateDocumentFrom<ApiKeyDocument>('apiKeys', key, (current) => {
      if (current.revokedAt !== null || current.creatorAccountId !== caller.id) throw noSuchKey();
      return { ...current, ...(input.description !== undefined ? { description: input.description } : {}), ...(input.packageGlobs ? { packageGlobs: input.packageGlobs } : {}) };
    }),
    log,
  );
  if (!updated) throw noSuchKey();
  const changed = [...(edited.description ? ['description'] : []), ...(edited.packageGlobs ? ['packageGlobs'] : [])];
  await recordKeyEvent('api_key_edited', caller, updated, clientAddress, { keyId, changed: changed.join(', ') });
  return toView(updated);
}

export async function revokeApiKey(caller: AccountDocument, keyId: string, clientAddress: string, log: Log): Promise<void> {
  const key = await callersKey(caller, keyId);
  const notice = await keyNotice(caller, key, apiKeyRevokedNotice(noticed(key), 'holder', { at: nowIso(), clientAddress }));
  await announced(notice, () => revokeKey(keyId), log, (revoked) => revoked);
  await recordKeyEvent('api_key_revoked', caller, key, clientAddress, { keyId });
}

/**
 * Revokes the key unless it is revoked already; answers whether this call revoked it. Its expiry's entry and its
 * place in its holder's list go with it, after it (`forgetRevoked`).
 */
async function revokeKey(keyId: string, because?: RevocationReason): Promise<boolean> {
  let revoked = false;
  const key = await updateDocument<ApiKeyDocument>('apiKeys', keyId, (current) => {
    revoked = current.revokedAt === null;
    return revoked ? { ...current, revokedAt: nowIso(), ...(because ? { revokedBecause: because } : {}) } : undefined;
  });
  if (key) await forgetRevoked(key);
  return revoked;
}

/** What indexes a key that is revoked: its expiry's entry, and its item in its holder's list. */
async function forgetRevoked(key: ApiKeyDocument): Promise<void> {
  await forgetExpiry(key);
  await releaseHeldKey(key.id, key.creatorAccountId);
}

/**
 * What stops the keys an account holds, on its own document: a person locked by support, or deleted (a key made
 * while its deletion ran, with a session it still had then); an organization, its own stops.
 */
function holderStop(holder: AccountDocument | undefined): KeyStop | undefined {
  if (holder?.kind === 'user') return holder.lock ? 'holder_locked' : holder.deletedAt ? 'holder_deleted' : undefined;
  return organizationStop(holder, holder?.id ?? '');
}

/**
 * What stops a key of `ownerId` held by `holder`, from the holder's and the owner's documents: the holder's own
 * stops, and for a key an organization owns that a member holds, the organization's too (`organizationStop`). A
 * key its holder owns (a person's own, or an organization's own trusted publishing key) needs the one document.
 */
export function keyStop(holder: AccountDocument | undefined, owner: AccountDocument | undefined, ownerId: string): KeyStop | undefined {
  const stop = holderStop(holder);
  if (stop || ownerId === holder?.id) return stop;
  return organizationStop(owner, holder?.id ?? '');
}

const REVOKED_BECAUSE: Record<KeyStop, RevocationReason> = {
  holder_locked: 'account_locked',
  holder_deleted: 'holder_deleted',
  owner_locked: 'account_locked',
  owner_frozen: 'organization_frozen',
  owner_deleted: 'owner_deleted',
  left_organization: 'left_organization',
};

/**
 * A new key stays only if nothing stops it once it exists: a lock, a freeze, an organization deleted, or a member removed
 * while the key was being made must not leave it working (the lock and the revocations read the lists of keys
 * before this key was there to find). The holder is read, and the owner where it is another account: one read
 * for a key its holder owns, a person or an organization.
 */
async function assertStillIssuable(key: ApiKeyDocument, refusals: KeyRefusals): Promise<void> {
  const holder = await readAccount(key.creatorAccountId);
  const owner = key.ownerAccountId === key.creatorAccountId ? holder : await readAccount(key.ownerAccountId);
  const stop = keyStop(holder, owner, key.ownerAccountId);
  if (!stop) return;
  await revokeKey(key.id, REVOKED_BECAUSE[stop]);
  throw refusalFor(stop, refusals, key.ownerName);
}

/**
 * Every live key owned by the account or organization stops working, whoever holds it: for an owner that
 * ends (an organization deleted, an account deleted). An off-path query across partitions, so the push
 * check itself never reads the owner.
 */
export async function revokeKeysOwnedBy(ownerId: string, log: Log): Promise<void> {
  for (const key of await liveKeysOwnedBy(ownerId)) {
    // Its holder is told, unless it is the owner itself, whose own deletion this is.
    const notice =
      key.creatorAccountId === ownerId
        ? nothingQueued
        : await noticeToAll([key.creatorAccountId], 'security', apiKeyRevokedNotice(noticed(key), 'owner_deleted', { at: nowIso() }), { container: 'apiKeys', id: key.id }, {
            onceKey: `api-key-revoked:${key.id}:owner_deleted`,
          });
    await announced(notice, () => revokeKey(key.id, 'owner_deleted'), log, (revoked) => revoked);
  }
}

/** The live keys an account or organization owns, whoever holds them: a query across partitions, never on a request's hot path. */
async function liveKeysOwnedBy(ownerId: string): Promise<ApiKeyDocument[]> {
  const keys = container('apiKeys').items.query<ApiKeyDocument>(
    { query: 'SELECT * FROM c WHERE c.ownerAccountId = @owner', parameters: [{ name: '@owner', value: ownerId }] },
    { maxItemCount: 100 },
  );
  const live: ApiKeyDocument[] = [];
  while (keys.hasMoreResults()) {
    for (const key of (await keys.fetchNext()).resources) if (key.revokedAt === null) live.push(key);
  }
  return live;
}

/**
 * Brings every key the account holds, and every key it owns (an organization's, whichever member made them),
 * in line with one suspension of the account (its lock, or its freeze): suspended while it holds, restored
 * once it does not. The state is written on each key as that suspension's mark, so a key suspended twice over
 * (its holder's lock and its owner's, its owner's lock and freeze) works again only once neither holds; a
 * revoked key is left alone. Should the suspension be set or lifted again meanwhile, it goes round once more,
 * so keys end as the account is. Runs again without harm: a lock or freeze cut short is finished by asking
 * again.
 */
export async function matchKeysToSuspension(accountId: string, suspension: Suspension): Promise<void> {
  const { holds, mark: markOf } = SUSPENSIONS[suspension];
  const mark = markOf(accountId);
  for (let round = 1; ; round += 1) {
    const account = await readAccount(accountId);
    if (!account) return;
    const suspended = holds(account);
    const apply = (key: ApiKeyDocument): ApiKeyDocument | undefined => {
      const concerned = key.creatorAccountId === accountId || key.ownerAccountId === accountId;
      const marks = key.suspendedBy ?? [];
      if (!concerned || key.revokedAt !== null || marks.includes(mark) === suspended) return undefined;
      const others = marks.filter((other) => other !== mark);
      return { ...key, suspendedBy: suspended ? [...others, mark] : others };
    };
    const keyIds = [...new Set([...(await heldKeyIds(account)), ...(await liveKeysOwnedBy(accountId)).map((key) => key.id)])];
    for (let i = 0; i < keyIds.length; i += 10) {
      await Promise.all(keyIds.slice(i, i + 10).map((keyId) => updateDocument<ApiKeyDocument>('apiKeys', keyId, apply)));
    }
    const now = await readAccount(accountId);
    if (!now || holds(now) === suspended) return;
    if (round >= 5) {
      throw new Problem('concurrent_change', `The ${suspension} was set and lifted again while the API keys were being changed. Ask again.`);
    }
  }
}

/**
 * The live keys a trusted publishing policy made stop working: when the policy is removed, what its workflows
 * were given goes with it. Its holder's list finds them by the policy (those not yet expired).
 */
export async function revokeTrustedPublishingKeys(holderId: string, policyId: string): Promise<void> {
  const holder = await readAccount(holderId);
  if (!holder) return;
  for (const key of await liveKeysOf(holder, { policyId })) {
    if (key.trustedPublishing?.policyId === policyId) await revokeKey(key.id, 'policy_removed');
  }
}

/**
 * Every key the account holds stops working, and its list is cleared, expired trusted publishing keys too (account
 * deletion). An item whose key is not there is left: it may be that of a key being made, written before the key.
 */
export async function revokeAllKeysOf(accountId: string): Promise<void> {
  const account = await readAccount(accountId);
  if (!account) return;
  await moveKeyListOff(account);
  for (const keyId of await everyHeldKeyId(accountId)) {
    const key = await readDocument<ApiKeyDocument>('apiKeys', keyId);
    if (!key) continue;
    if (key.revokedAt === null && key.creatorAccountId === accountId) await revokeKey(keyId);
    await releaseHeldKey(keyId, accountId);
  }
}

/** The live keys the member holds for the organization, those trusted publishing made too. */
const keysHeldFor = (member: AccountDocument, organizationId: string) => liveKeysOf(member, { ownerId: organizationId });

/** Keys a member created for an organization stop working when the member leaves it; the member is told. */
export async function revokeKeysForOrganization(member: AccountDocument, organizationId: string, log: Log): Promise<void> {
  for (const key of await keysHeldFor(member, organizationId)) {
    const content = apiKeyRevokedNotice(noticed(key), 'left_organization', { at: nowIso() });
    const notice = await keyNotice(member, key, content, `api-key-revoked:${key.id}:left_organization`);
    await announced(notice, () => revokeKey(key.id, 'left_organization'), log, (revoked) => revoked);
  }
}

/**
 * An admin of the organization stops every key the member holds for it at once, those trusted publishing made
 * too: for a member whose account or keys may be in someone else's hands. One notice tells the member and every
 * admin (the keys' own notices are not sent), queued before and withdrawn if nothing was left to revoke.
 * Answers the keys this call revoked.
 */
export async function revokeKeysOfMember(
  member: AccountDocument,
  organization: Pick<AccountDocument, 'id' | 'username'>,
  admin: string,
  log: Log,
): Promise<ApiKeyDocument[]> {
  const now = clock.now().getTime();
  const keys = (await keysHeldFor(member, organization.id)).filter((key) => Date.parse(key.expiresAt) > now);
  if (keys.length === 0) return [];
  const content = memberKeysRevokedNotice(organization.username, member.username, admin, keys.map(noticed), { at: nowIso() });
  const notice = await noticeToAll([member.id, organization.id], 'security', content, { container: 'accounts', id: organization.id });
  const revokeEach = async () => {
    const revoked: ApiKeyDocument[] = [];
    for (const key of keys) if (await revokeKey(key.id, 'organization_admin')) revoked.push(key);
    return revoked;
  };
  return announced(notice, revokeEach, log, (revoked) => revoked.length > 0);
}

/**
 * A transformed account's keys pass to its admin: they keep their id, secret and scopes, and their owner is
 * the same document, now the organization. Each is listed under the admin before it names the admin, and leaves
 * the organization's list after, so no sweep of either misses it. Keys the organization holds as itself (trusted
 * publishing's, made after it became one) stay. Idempotent, for an accept that runs again.
 */
export async function handOverApiKeys(organizationId: string, admin: Pick<AccountDocument, 'id' | 'username'>): Promise<void> {
  const organization = await readAccount(organizationId);
  if (!organization) return;
  for (const keyId of await heldKeyIds(organization)) {
    const key = await readDocument<ApiKeyDocument>('apiKeys', keyId);
    // A key not there (yet) may be one being made: its item stays.
    if (!key || (key.creatorAccountId === organizationId && key.holderKind === 'organization')) continue;
    if (key.creatorAccountId === organizationId && key.revokedAt === null) {
      await holdKey(key, admin.id);
      await updateDocument<ApiKeyDocument>('apiKeys', keyId, (current) =>
        current.creatorAccountId === organizationId ? { ...current, creatorAccountId: admin.id, creatorName: admin.username } : undefined,
      );
    }
    await releaseHeldKey(keyId, organizationId);
  }
}

const invalidKey = () =>
  new Problem('invalid_api_key', 'The API key is not valid: it may be unknown, revoked or expired, or its owner no longer exists. Create a new one.');

/**
 * Why a key with the right secret does not work, if it does not: everything that can stop a key is on the
 * key itself, so this needs no other read.
 */
function refusalOf(key: ApiKeyDocument): 'revoked' | 'expired' | 'suspended' | undefined {
  if (key.revokedAt !== null) return 'revoked';
  if (Date.parse(key.expiresAt) <= clock.now().getTime()) return 'expired';
  if (isSuspended(key)) return 'suspended';
  return undefined;
}

/** The key a secret belongs to, whatever its state: one point read, then a constant-time comparison of hashes. */
async function keyWithSecret(secret: string): Promise<ApiKeyDocument | undefined> {
  const match = KEY_PATTERN.exec(secret);
  if (!match) return undefined;
  const key = await readDocument<ApiKeyDocument>('apiKeys', match[1]);
  const given = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(key?.secretHash ?? '0'.repeat(64), 'hex');
  return timingSafeEqual(given, stored) ? key : undefined;
}

/** The key behind a secret, if it works. Only its holder, who has the secret, learns that it is suspended. */
export async function authenticateApiKey(secret: string | null): Promise<ApiKeyDocument> {
  const key = await keyWithSecret(secret ?? '');
  const refusal = key ? refusalOf(key) : 'unknown';
  if (key && refusal === 'suspended') throw new Problem('invalid_api_key', `The API key is suspended: ${whySuspended(key)}`);
  if (!key || refusal) throw invalidKey();
  return key;
}

/**
 * Revokes a key whose secret was found where it should not be (support is given the secret, which is only
 * hashed and compared, never stored or logged). A live key, or one a lock or freeze suspends, is revoked as leaked; a
 * key already revoked or expired stays as it is. Answers the key and whether this call revoked it;
 * undefined when no key has this secret.
 */
export async function revokeLeakedKey(secret: string): Promise<{ key: ApiKeyDocument; revokedNow: boolean } | undefined> {
  const found = await keyWithSecret(secret);
  if (!found) return undefined;
  let revokedNow = false;
  const key = await updateDocumentFrom<ApiKeyDocument>('apiKeys', found, (current) => {
    // Decided on each document written: of two revocations at once, one revokes and the other finds it done.
    const refusal = refusalOf(current);
    revokedNow = refusal === undefined || refusal === 'suspended';
    return revokedNow ? { ...current, revokedAt: nowIso(), revokedBecause: 'leaked' } : undefined;
  });
  if (revokedNow) await forgetRevoked(key ?? found);
  return { key: key ?? found, revokedNow };
}

export function assertKeyAllows(key: ApiKeyDocument, packageId: string, anyOf: ApiKeyScope[]): void {
  if (!key.scopes.some((scope) => anyOf.includes(scope))) {
    throw new Problem('api_key_scope', `This API key's scopes do not allow this; it needs one of: ${anyOf.join(', ')}.`);
  }
  if (!key.packageGlobs.some((glob) => globMatches(glob, packageId))) {
    throw new Problem('api_key_scope', `This API key's package patterns do not cover '${packageId}'.`);
  }
}
