import type { Member } from './organizations';
import type { ApiResponse, CallOptions, TestService } from './service';
import { tokenIn, waitFor } from './waitFor';

/** Whoever acts: a session token's holder (a site admin, for the routes to work). */
type Caller = Pick<Member, 'sessionToken'>;

/** `{ reason }`, `{}`, or `undefined` for no body at all. */
type ReasonBody = { reason?: string } | undefined;

const accountPath = (username: string, action = '') => `/api/site-admin/accounts/${encodeURIComponent(username)}${action}`;

const withBody = (by: Caller, body: unknown): CallOptions => (body === undefined ? { token: by.sessionToken } : { token: by.sessionToken, body });

/** `GET /api/site-admin/accounts/{username}` by `by`: the account as support sees it. */
export const lookUpAccount = (service: TestService, by: Caller, username: string): Promise<ApiResponse> =>
  service.call('GET', accountPath(username), { token: by.sessionToken });

/** `POST /api/site-admin/accounts/{username}/lock` by `by`, with `reason`. */
export const lockAccount = (service: TestService, by: Caller, username: string, reason = 'Abuse reported to support'): Promise<ApiResponse> =>
  service.call('POST', accountPath(username, '/lock'), { token: by.sessionToken, body: { reason } });

/** `POST /api/site-admin/accounts/{username}/unlock` by `by`; without a body unless one is given. */
export const unlockAccount = (service: TestService, by: Caller, username: string, body?: ReasonBody): Promise<ApiResponse> =>
  service.call('POST', accountPath(username, '/unlock'), withBody(by, body));

/** `POST /api/site-admin/accounts/{username}/delete` by `by`; without a body unless one is given. */
export const deleteAsSupport = (service: TestService, by: Caller, username: string, body?: ReasonBody): Promise<ApiResponse> =>
  service.call('POST', accountPath(username, '/delete'), withBody(by, body));

/** `POST /api/site-admin/usernames/{username}/release` by `by`; without a body unless one is given. */
export const releaseUsername = (service: TestService, by: Caller, username: string, body?: ReasonBody): Promise<ApiResponse> =>
  service.call('POST', `/api/site-admin/usernames/${encodeURIComponent(username)}/release`, withBody(by, body));

/** `POST /api/site-admin/api-keys/revoke` by `by` with the leaked secret `key`. */
export const revokeLeakedKey = (service: TestService, by: Caller, key: string, reason?: string): Promise<ApiResponse> =>
  service.call('POST', '/api/site-admin/api-keys/revoke', { token: by.sessionToken, body: reason === undefined ? { key } : { key, reason } });

/** The newest page of `member`'s own security log (`GET /api/me/audit`), as the frontend shows it. */
export async function securityLog(service: TestService, member: Caller): Promise<Array<{ action: string; details?: Record<string, string> }>> {
  const response = await service.call('GET', '/api/me/audit?pageSize=100', { token: member.sessionToken });
  if (response.status !== 200) throw new Error(`reading the security log failed: ${response.status} ${response.text}`);
  return response.body.events;
}

/**
 * Gives `member` a password as the recovery flow does (forgot password, then the emailed link), so it can
 * sign in with it; fails the test unless both steps succeed.
 */
export async function setPasswordByEmail(service: TestService, member: Pick<Member, 'person'>, password: string): Promise<void> {
  const before = service.mailbox.delivered.length;
  const asked = await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress: member.person.email } });
  if (asked.status !== 202) throw new Error(`forgot-password failed: ${asked.status} ${asked.text}`);
  const email = await waitFor(
    () => service.mailbox.delivered.slice(before).find((e) => e.to.includes(member.person.email) && e.subject === 'Reset your password'),
    { what: `the reset email to ${member.person.email}` },
  );
  const reset = await service.call('POST', '/api/auth/reset-password', { body: { token: tokenIn(email.links[0]), newPassword: password } });
  if (reset.status !== 200) throw new Error(`resetting the password failed: ${reset.status} ${reset.text}`);
}
