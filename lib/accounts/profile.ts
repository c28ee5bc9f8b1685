import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { Problem } from '../shared/problems';
import { notificationsOf, toAccountView, updateAccount, type AccountDocument, type AccountView, type NotificationSettings } from './account';

const NOTIFICATION_SETTINGS = ['emailAllowed', 'notifyPackagePushed'] as const satisfies ReadonlyArray<keyof NotificationSettings>;

export const updateMeBody = z
  .object({
    username: z.string().max(256).optional(),
    notifications: z
      .object({
        emailAllowed: z.boolean().optional().describe('false stops every email not about the account\'s own security or a request it must answer'),
        notifyPackagePushed: z.boolean().optional().describe('false stops the email sent for each version pushed of a package the account owns'),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * Changes the account's settings: which emails it gets. A username is permanent (it names packages and
 * organizations' members, and is never reused), so naming one is refused before anything changes.
 */
export async function updateMe(body: z.infer<typeof updateMeBody>, account: AccountDocument, clientAddress: string): Promise<AccountView> {
  if (body.username !== undefined) {
    throw new Problem('username_immutable', 'A username cannot be changed. Create a new account to use another name.');
  }
  const wanted: Partial<NotificationSettings> = body.notifications ?? {};
  const changed = (current: AccountDocument) =>
    NOTIFICATION_SETTINGS.filter((name) => wanted[name] !== undefined && wanted[name] !== notificationsOf(current)[name]);
  if (changed(account).length === 0) return toAccountView(account);
  let settled: Array<keyof NotificationSettings> = [];
  const updated = await updateAccount(account.id, (current) => {
    settled = changed(current);
    return settled.length > 0 ? { ...current, notifications: { ...notificationsOf(current), ...wanted } } : undefined;
  });
  if (!updated) throw new Problem('unauthorized', 'Your session has ended. Sign in again.');
  if (settled.length > 0) {
    const now = notificationsOf(updated);
    await recordAudit(account.id, 'notification_settings_changed', clientAddress, Object.fromEntries(settled.map((name) => [name, String(now[name])])));
  }
  return toAccountView(updated);
}

/** Raises the session version, which every older token was issued under. */
export async function signOutEverywhere(account: AccountDocument, clientAddress: string): Promise<void> {
  await updateAccount(account.id, (current) => ({ ...current, sessionVersion: current.sessionVersion + 1 }));
  await recordAudit(account.id, 'signed_out_everywhere', clientAddress);
}
