/**
 * What deleting an account erases of the account itself; a tombstone with the username (reserved forever)
 * stays. Each step runs again without harm.
 */
import { nowIso } from '../shared/clock';
import { readAccount, updateAccount } from './account';
import { releaseClaim } from './claims';
import { forgetConfirmedAddress } from './emailDomains/addressIndex';

/**
 * The Microsoft account and the address become free to use again (and the address leaves the index of confirmed
 * addresses); every session ends. The name stays claimed.
 */
export async function releaseCredentials(accountId: string): Promise<void> {
  const account = await readAccount(accountId);
  if (!account) return;
  const { microsoftAccount, emailAddress } = account;
  await updateAccount(accountId, (current) => ({
    ...current,
    deletedAt: current.deletedAt ?? nowIso(),
    microsoftAccount: null,
    passwordHash: null,
    sessionVersion: current.sessionVersion + 1,
  }));
  if (microsoftAccount) await releaseClaim({ kind: 'microsoft', tid: microsoftAccount.tid, oid: microsoftAccount.oid }, accountId);
  if (emailAddress) {
    await releaseClaim({ kind: 'email', address: emailAddress }, accountId);
    await forgetConfirmedAddress(accountId, emailAddress);
  }
}

/** Empties the personal fields and the list of memberships (and any list of keys stored before; its keys are revoked by now). */
export async function removePersonalFields(accountId: string): Promise<void> {
  await updateAccount(accountId, ({ apiKeyIds: _keys, trustedPublishingKeys: _trustedPublishingKeys, ...current }) => ({
    ...current,
    emailAddress: '',
    emailConfirmed: false,
    emailDomainLapsed: null,
    pendingEmailAddress: null,
    organizations: [],
  }));
}
