import { randomUUID } from 'node:crypto';
import { clock } from '../../lib/shared/clock';
import { PERSONAL_ACCOUNT_TENANT } from '../standins/identity';
import type { TestService } from './service';

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
