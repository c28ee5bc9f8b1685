import { z } from 'zod';
import { recordAudit } from '../shared/audit';
import { Problem } from '../shared/problems';
import { toAccountView, updateAccount, type AccountDocument, type AccountView } from './account';

export const updateMeBody = z.object({ username: z.string().max(256).optional() }).strict();

/** A username is permanent: it names packages and organizations' members, and is never reused. */
export function updateMe(body: z.infer<typeof updateMeBody>, account: AccountDocument): AccountView {
  if (body.username !== undefined) {
    throw new Problem('username_immutable', 'A username cannot be changed. Create a new account to use another name.');
  }
  return toAccountView(account);
}

/** Raises the session version, which every older token was issued under. */
export async function signOutEverywhere(account: AccountDocument, clientAddress: string): Promise<void> {
  await updateAccount(account.id, (current) => ({ ...current, sessionVersion: current.sessionVersion + 1 }));
  await recordAudit(account.id, 'signed_out_everywhere', clientAddress);
}
