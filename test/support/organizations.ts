import { container } from '../../lib/shared/storage/cosmos';
import type { DeliveredEmail } from '../../local/standins/acsEmail';
import { newPerson, register, uniqueName, type Person } from './people';
import type { ApiResponse, TestService } from './service';
import { emailsTo, tokenIn, waitFor } from './waitFor';

/** A registered account as the tests hold it: who signs in, under which name, with which session. */
export interface Member {
  person: Person;
  username: string;
  sessionToken: string;
}

export type Role = 'admin' | 'collaborator';

/**
 * The emails to `address` that arrive after `seen` of them had (see `emailCount`), the newest first, once
 * one whose subject matches is there. For repeated invitations and requests, whose older emails are still
 * in the mailbox.
 */
export async function nextEmailTo(
  service: TestService,
  address: string,
  subject: string | RegExp,
  seen: number,
): Promise<DeliveredEmail> {
  const matches = (email: DeliveredEmail) => (typeof subject === 'string' ? email.subject === subject : subject.test(email.subject));
  return waitFor(() => emailsTo(service, address).slice(seen).reverse().find(matches), { what: `a new email to ${address}` });
}

/** How many emails `address` has had so far: the `seen` of `nextEmailTo`. */
export const emailCount = (service: TestService, address: string): number => emailsTo(service, address).length;

/** Follows the confirmation link emailed to `address` under `subject`, as whoever reads that mailbox would. */
async function followConfirmationLink(service: TestService, address: string, subject: string): Promise<void> {
  const email = await waitFor(() => emailsTo(service, address).find((e) => e.subject === subject), {
    what: `the confirmation email to ${address}`,
  }).catch(async (error: Error) => {
    // It is sent before the request that queued it answers, so a wait in vain means its send failed: say what the outbox recorded.
    throw new Error(`${error.message}; the outbox holds ${JSON.stringify(await outboxEntriesTo(address))}`);
  });
  const confirmed = await service.call('POST', '/api/auth/confirm-email', { body: { token: tokenIn(email.links[0]) } });
  if (confirmed.status !== 200) throw new Error(`confirming ${address} failed: ${confirmed.status} ${confirmed.text}`);
}

/** What the outbox holds for `address`: each entry's subject, status, attempts and last error. */
async function outboxEntriesTo(address: string): Promise<unknown[]> {
  const { resources } = await container('outbox')
    .items.query({ query: 'SELECT c.subject, c.status, c.attempts, c.lastError FROM c WHERE c["to"] = @to', parameters: [{ name: '@to', value: address }] })
    .fetchAll();
  return resources;
}

/** Confirms an account's registration email, as its owner following the link would. */
export const confirmRegistrationEmail = (service: TestService, member: Pick<Member, 'person'>): Promise<void> =>
  followConfirmationLink(service, member.person.email, 'Confirm your email address');

/** A registered individual account whose email is confirmed: what creating or joining an organization takes. */
export async function confirmedUser(service: TestService, person: Person = newPerson(), username = uniqueName()): Promise<Member> {
  const registered = await register(service, person, username);
  await confirmRegistrationEmail(service, registered);
  return { person: registered.person, username: registered.username, sessionToken: registered.sessionToken };
}

/** A registered account that never confirmed its email. */
export async function unconfirmedUser(service: TestService, person: Person = newPerson(), username = uniqueName()): Promise<Member> {
  const registered = await register(service, person, username);
  return { person: registered.person, username: registered.username, sessionToken: registered.sessionToken };
}

export interface CreatedOrganization {
  name: string;
  emailAddress: string;
  /** The 201 body: the organization as its admin sees it. */
  view: ApiResponse['body'];
}

/** Creates an organization with `admin` as its admin (an address of its own; the confirmation link is not used). */
export async function createOrganization(
  service: TestService,
  admin: Pick<Member, 'sessionToken'>,
  name = uniqueName('org'),
  emailAddress = newPerson().email,
): Promise<CreatedOrganization> {
  const response = await service.call('POST', '/api/organizations', { token: admin.sessionToken, body: { name, emailAddress } });
  if (response.status !== 201) throw new Error(`creating ${name} failed: ${response.status} ${response.text}`);
  return { name, emailAddress, view: response.body };
}

/** Confirms an organization's address, as its admins following the link emailed to it would. */
export const confirmOrganizationEmail = (service: TestService, organization: Pick<CreatedOrganization, 'name' | 'emailAddress'>): Promise<void> =>
  followConfirmationLink(service, organization.emailAddress, `Confirm the email address of ${organization.name}`);

/** An organization created as `createOrganization` does, whose address is confirmed: what an invitation to own a package takes. */
export async function confirmedOrganization(
  service: TestService,
  admin: Pick<Member, 'sessionToken'>,
  name?: string,
  emailAddress?: string,
): Promise<CreatedOrganization> {
  const organization = await createOrganization(service, admin, name, emailAddress);
  await confirmOrganizationEmail(service, organization);
  return organization;
}

export const invitationSubject = (organization: string) => `Join the organization ${organization}`;

/** Invites `invitee` (202 expected) and returns the token of the invitation email it gets. */
export async function invite(
  service: TestService,
  organization: string,
  admin: Pick<Member, 'sessionToken'>,
  invitee: Pick<Member, 'person' | 'username'>,
  role: Role = 'collaborator',
): Promise<string> {
  const seen = emailCount(service, invitee.person.email);
  const response = await service.call('POST', `/api/organizations/${organization}/members`, {
    token: admin.sessionToken,
    body: { username: invitee.username, role },
  });
  if (response.status !== 202) throw new Error(`inviting ${invitee.username} to ${organization} failed: ${response.status} ${response.text}`);
  const email = await nextEmailTo(service, invitee.person.email, invitationSubject(organization), seen);
  return tokenIn(email.links[0]);
}

/** `POST /api/organizations/{name}/members/accept` by `member` with `token`. */
export const acceptInvitation = (service: TestService, organization: string, member: Pick<Member, 'sessionToken'>, token: string) =>
  service.call('POST', `/api/organizations/${organization}/members/accept`, { token: member.sessionToken, body: { token } });

/** Invites `member` and accepts as them: afterwards they are a member with `role`. */
export async function inviteAndAccept(
  service: TestService,
  organization: string,
  admin: Pick<Member, 'sessionToken'>,
  member: Member,
  role: Role = 'collaborator',
): Promise<void> {
  const token = await invite(service, organization, admin, member, role);
  const accepted = await acceptInvitation(service, organization, member, token);
  if (accepted.status !== 200) throw new Error(`${member.username} could not join ${organization}: ${accepted.status} ${accepted.text}`);
}

/** An admin removes `member` (or a member leaves, when `by` is the member). */
export async function removeMember(
  service: TestService,
  organization: string,
  by: Pick<Member, 'sessionToken'>,
  member: Pick<Member, 'username'>,
): Promise<void> {
  const response = await service.call('DELETE', `/api/organizations/${organization}/members/${member.username}`, { token: by.sessionToken });
  if (response.status !== 204) throw new Error(`removing ${member.username} from ${organization} failed: ${response.status} ${response.text}`);
}

/** `GET /api/me` for `member`: the organizations it lists, with roles. */
export async function organizationsOf(service: TestService, member: Pick<Member, 'sessionToken'>): Promise<Array<{ name: string; role: Role }>> {
  const me = await service.call('GET', '/api/me', { token: member.sessionToken });
  if (me.status !== 200) throw new Error(`GET /api/me failed: ${me.status} ${me.text}`);
  return me.body.organizations;
}

/** One page of an organization's audit trail, `GET /api/organizations/{name}/audit`, as `by` sees it. */
export const organizationAudit = (service: TestService, organization: string, by: Pick<Member, 'sessionToken'>, query = '') =>
  service.call('GET', `/api/organizations/${organization}/audit${query}`, { token: by.sessionToken });
