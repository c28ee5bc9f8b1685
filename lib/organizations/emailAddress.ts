import { resendConfirmation } from '../accounts/emailAddress';
import type { AccountDocument } from '../accounts/account';
import type { Log } from '../shared/log';
import { organizationForAdmin } from './organization';

/**
 * An admin sends the link that confirms the organization's address again: the only way an organization whose
 * address was never confirmed, or whose domain lapsed, confirms it (its link went to the address, not to an
 * admin). Limited per admin and per address, as an account's own resend is; recorded in the organization's log
 * with the admin's name.
 */
export async function resendOrganizationConfirmation(name: string, caller: AccountDocument, clientAddress: string, log: Log): Promise<void> {
  const organization = await organizationForAdmin(name, caller);
  await resendConfirmation(organization, clientAddress, log, caller);
}
