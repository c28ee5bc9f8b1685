import { randomUUID } from 'node:crypto';
import { clock } from '../../lib/shared/clock';
import { PERSONAL_ACCOUNT_TENANT } from '../standins/identity';
import type { TestService } from './service';
import { emailsTo, tokenIn, waitFor } from './waitFor';

export interface Person {
  email: string;
  oid: string;
  tid: string;
  name: string;
}

let counter = 0;

/**
 * A Microsoft account no other test uses: a personal one unless `tid` names a work tenant. A personal account's
 * oid has the form 00000000-0000-0000-xxxx-xxxxxxxxxxxx, as real ones do.
 */
export function newPerson(overrides: Partial<Person> = {}): Person {
  counter += 1;
  const tid = overrides.tid ?? PERSONAL_ACCOUNT_TENANT;
  const random = randomUUID();
  return {
    email: `person${counter}-${random.slice(0, 8)}@example.com`,
    oid: tid === PERSONAL_ACCOUNT_TENANT ? `00000000-0000-0000-${random.slice(19)}` : random,
    tid,
    name: `Person ${counter}`,
    ...overrides,
  };
}

/** A fresh token by the service's clock, so tests that move the clock still sign in. */
export function idTokenFor(service: TestService, person: Person): string {
  return service.identity.mint({ email: person.email, oid: person.oid, tid: person.tid, name: person.name }, { issuedAt: clock.now() });
}

export function uniqueName(prefix = 'user'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Registers through the API, as the frontend does after a `registration_required` sign-in. */
export async function register(service: TestService, person: Person = newPerson(), username = uniqueName()) {
  const response = await service.call('POST', '/api/accounts', { body: { idToken: idTokenFor(service, person), username } });
  if (response.status !== 201) throw new Error(`registration failed: ${response.status} ${response.text}`);
  return { person, username, account: response.body.account, sessionToken: response.body.sessionToken as string };
}

/** Signs a registered person in again with Microsoft, by the service's clock (after a test moved it past the session's hour). */
export async function signIn(service: TestService, person: Person): Promise<string> {
  const response = await service.call('POST', '/api/auth/microsoft', { body: { idToken: idTokenFor(service, person) } });
  if (response.status !== 200 || response.body.status !== 'signed_in') throw new Error(`signing in failed: ${response.status} ${response.text}`);
  return response.body.sessionToken;
}

/**
 * Changes the account's email address as its owner would: asks for the change with its session, then
 * follows the confirmation link sent to the new address. Fails the test unless both steps succeed.
 */
export async function changeEmailAddress(service: TestService, member: { sessionToken: string }, newAddress: string): Promise<void> {
  const requested = await service.call('POST', '/api/me/email', { token: member.sessionToken, body: { emailAddress: newAddress } });
  if (requested.status !== 202) throw new Error(`asking to change the address to ${newAddress} failed: ${requested.status} ${requested.text}`);
  const email = await waitFor(() => emailsTo(service, newAddress).find((e) => e.subject === 'Confirm your new email address'), {
    what: `the confirmation email to ${newAddress}`,
  });
  const confirmed = await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(email.links[0]) } });
  if (confirmed.status !== 200) throw new Error(`confirming ${newAddress} failed: ${confirmed.status} ${confirmed.text}`);
}

/**
 * A recovery session of the account, as someone who lost their Microsoft account gets one: a password set
 * through the emailed reset link, then a password sign-in. The reset ends the account's other sessions.
 */
export async function recoverySession(service: TestService, member: { person: Person; username: string }): Promise<string> {
  const seen = emailsTo(service, member.person.email).length;
  const asked = await service.call('POST', '/api/auth/forgot-password', { body: { emailAddress: member.person.email } });
  if (asked.status !== 202) throw new Error(`asking for a reset link failed: ${asked.status} ${asked.text}`);
  const email = await waitFor(() => emailsTo(service, member.person.email).slice(seen).find((e) => e.subject === 'Reset your password'), {
    what: `the reset email to ${member.person.email}`,
  });
  const password = `Recovery ${randomUUID()}`;
  const reset = await service.call('POST', '/api/auth/reset-password', { body: { token: tokenIn(email.links[0]), newPassword: password } });
  if (reset.status !== 200) throw new Error(`resetting the password failed: ${reset.status} ${reset.text}`);
  const signedIn = await service.call('POST', '/api/auth/password', { body: { username: member.username, password } });
  if (signedIn.status !== 200) throw new Error(`the password sign-in failed: ${signedIn.status} ${signedIn.text}`);
  return signedIn.body.sessionToken;
}
