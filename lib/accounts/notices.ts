/**
 * Who is told of a change, and whether their preferences let the notice through. Every notice is queued in the
 * outbox before its change is written and sent once the change is made, so none is lost and none sent twice:
 *
 * - to the account that acts, or to one address known at the time (`noticeTo`): an email, sent by the request
 *   once its change is made, like every other email of a flow;
 * - to accounts and organizations by id (`noticeToAll`; an organization stands for its admins, each by their
 *   own preferences): one outbox entry, whoever it goes to, which the outbox timer expands into one email per
 *   recipient. The request writes that one entry and no more, so telling many people never slows it.
 *
 * Every notice goes only to an address its account confirmed (`hasTrustedAddress`), decided here for both kinds:
 * notices carry key names, package ids and client addresses, which an address nobody confirmed must not get.
 * Requests the account must answer (invitations, transform requests) are not notices and are sent by their flows,
 * which refuse one aimed at an address that is not trusted either (`assertTrustedRecipient`).
 *
 * Preferences (`notifications` on the account): a `security` notice (the account's own security, or a request
 * it must answer) always goes; every other notice needs `emailAllowed`; the push notice needs
 * `notifyPackagePushed` only, as on NuGet.org: it is the alarm for a push made with a stolen key.
 */
import type { NoticeContent, NoticeGate } from '../shared/email/messages';
import { noticeEmail } from '../shared/email/messages';
import {
  abandonEmail,
  deliverSoon,
  heldByThisProcess,
  queueEmail,
  queueNotice,
  type EmailCause,
  type NoticeRecipient,
  type ResolveAudience,
} from '../shared/email/outbox';
import type { Log } from '../shared/log';
import { hasTrustedAddress, notificationsOf, readAccount, type AccountDocument } from './account';

/** Whether the account's preferences let a notice of this kind through. */
export function allows(account: Pick<AccountDocument, 'notifications'>, gate: NoticeGate): boolean {
  if (gate === 'security') return true;
  return notificationsOf(account)[gate];
}

/**
 * A notice queued before its change: `settle(true)` once the change is made sends it (or leaves it to the
 * outbox timer), `settle(false)` withdraws it when the change was refused or changed nothing.
 */
export interface Notice {
  settle(made: boolean, log: Log): Promise<void>;
}

/** What a change that tells nobody (or that nobody wants told) settles. */
export const nothingQueued: Notice = { settle: async () => undefined };

/**
 * Makes `change` with `notice` queued before it: the notice goes once the change is made (`made`, by default
 * whenever the change returns), and is withdrawn when the change throws or `made` says nothing changed.
 */
export async function announced<T>(notice: Notice, change: () => Promise<T>, log: Log, made: (result: T) => boolean = () => true): Promise<T> {
  let result: T;
  try {
    result = await change();
  } catch (error) {
    await notice.settle(false, log);
    throw error;
  }
  await notice.settle(made(result), log);
  return result;
}

/**
 * Whether the account's address may get a notice: one the account confirmed (`hasTrustedAddress`), so an
 * address nobody confirmed gets only its confirmation link. The notice to the address an account had, once it
 * changed to another (`formerAddress`), is the contract's one exception: that address is no longer the account's,
 * and it is told if the account had confirmed it.
 */
const noticeMayGo = (account: AccountDocument, formerAddress: boolean) => (formerAddress ? account.emailConfirmed : hasTrustedAddress(account));

/**
 * A notice to one account (a person: its preferences are read from the document given), at its own address,
 * or, with `formerAddress`, at the address of `account` as given, which the change being made replaces. Nothing
 * is queued when its address may not get it or its preferences stop it. `onceKey` queues it once, for work that
 * may run again.
 */
export async function noticeTo(
  account: AccountDocument,
  gate: NoticeGate,
  content: NoticeContent,
  cause: EmailCause,
  options: { formerAddress?: boolean; onceKey?: string } = {},
): Promise<Notice> {
  const { emailAddress } = account;
  if (!noticeMayGo(account, options.formerAddress ?? false) || !allows(account, gate)) return nothingQueued;
  const email = await queueEmail(noticeEmail({ username: account.username, emailAddress }, content, gate), cause, options.onceKey);
  return {
    settle: async (made, log) => {
      if (made) await deliverSoon(email, log);
      else if (heldByThisProcess(email)) await abandonEmail(email, log);
    },
  };
}

/**
 * A notice to accounts and organizations by id (an organization: its admins), each by their own preferences,
 * worked out when it is delivered, but for the accounts `except` names (told by a notice of their own). One
 * outbox entry; the outbox timer delivers it, once its change is surely made (`afterChange`: it is already, as
 * in a timer's step). Queued once per `onceKey`.
 */
export async function noticeToAll(
  accountIds: readonly string[],
  gate: NoticeGate,
  content: NoticeContent,
  cause: EmailCause,
  options: { onceKey?: string; afterChange?: boolean; except?: readonly string[] } = {},
): Promise<Notice> {
  const audience = { accountIds: [...new Set(accountIds)], gate, ...(options.except?.length ? { exceptAccountIds: [...options.except] } : {}) };
  if (audience.accountIds.length === 0) return nothingQueued;
  const entry = await queueNotice(content, audience, cause, options);
  return {
    settle: async (made, log) => {
      if (!made && heldByThisProcess(entry)) await abandonEmail(entry, log);
    },
  };
}

/**
 * A notice to many that must not wait for the timer (an alarm), told by the request itself once its change is
 * made: queued as `noticeToAll` queues one (once per `onceKey`), then expanded and sent at once. Should anything
 * fail on the way, the timer delivers it as it delivers every notice.
 */
export async function tellAllNow(
  accountIds: readonly string[],
  gate: NoticeGate,
  content: NoticeContent,
  cause: EmailCause,
  onceKey: string,
  log: Log,
): Promise<void> {
  const audience = { accountIds: [...new Set(accountIds)], gate };
  if (audience.accountIds.length === 0) return;
  await deliverSoon(await queueNotice(content, audience, cause, { onceKey }), log, noticeRecipients);
}

/**
 * Notices queued one after the other for one change, settled together. Should queueing one fail, those queued
 * before it are withdrawn, as the change will not be made.
 */
export async function noticesTogether(queue: ReadonlyArray<() => Promise<Notice>>, log: Log): Promise<Notice> {
  const queued: Notice[] = [];
  const together: Notice = {
    settle: async (made, settleLog) => {
      for (const notice of queued) await notice.settle(made, settleLog);
    },
  };
  try {
    for (const next of queue) queued.push(await next());
  } catch (error) {
    await together.settle(false, log);
    throw error;
  }
  return together;
}

/** A person who has not been deleted, at an address that may get notices. */
const reachable = (account: AccountDocument | undefined): account is AccountDocument =>
  account !== undefined && account.kind === 'user' && !account.deletedAt && noticeMayGo(account, false);

/**
 * Who of an audience gets a notice now: each account itself, each live organization its admins as its
 * document lists them now; every person once, but those excepted, and only where its address may get notices (read
 * now: an address confirmed since the notice was queued gets it, one no longer trusted does not) and its own preferences let the
 * notice through.
 * Point reads: the accounts named, then the admins of the organizations among them.
 */
export const noticeRecipients: ResolveAudience = async ({ accountIds, gate, exceptAccountIds = [] }) => {
  const named = await Promise.all([...new Set(accountIds)].map((id) => readAccount(id)));
  const admins = named.flatMap((account) =>
    account?.kind === 'organization' && !account.deletedAt ? (account.members ?? []).filter((m) => m.role === 'admin').map((m) => m.accountId) : [],
  );
  const alreadyRead = new Set(named.flatMap((account) => (account ? [account.id] : [])));
  const more = await Promise.all([...new Set(admins)].filter((id) => !alreadyRead.has(id)).map((id) => readAccount(id)));
  const recipients = new Map<string, NoticeRecipient>();
  for (const account of [...named, ...more]) {
    if (reachable(account) && allows(account, gate)) {
      recipients.set(account.id, { accountId: account.id, username: account.username, emailAddress: account.emailAddress });
    }
  }
  for (const accountId of exceptAccountIds) recipients.delete(accountId);
  return [...recipients.values()];
};
