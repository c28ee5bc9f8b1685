import { randomUUID } from 'node:crypto';
import { FRONTEND_ORIGIN, useTestService } from './support/service';
import { newPerson, uniqueName } from './support/people';
import { tokenIn, waitFor } from './support/waitFor';

const service = useTestService();

const freshAddress = (label = 'new') => `${label}-${randomUUID().slice(0, 8)}@example.org`;

const me = async (token: string) => {
  const response = await service.call('GET', '/api/me', { token });
  expect(response.status).toBe(200);
  return response.body;
};

const changeEmail = (token: string | undefined, emailAddress: string) =>
  service.call('POST', '/api/me/email', { token, body: { emailAddress } });

const confirm = (token: string) => service.call('POST', '/api/auth/confirm-email', { body: { token } });

/** The token of the confirmation link sent to `address`. */
async function confirmationToken(address: string): Promise<string> {
  const email = await service.waitForEmailTo(address, 'Confirm your new email address');
  const link = email.links.find((l) => l.includes('/account/confirm-email?token='));
  expect(link).toMatch(new RegExp(`^${FRONTEND_ORIGIN}/account/confirm-email\\?token=[A-Za-z0-9_-]{43}$`));
  return tokenIn(link!);
}

/** Registers with an address nobody else uses, as someone else would. */
const registerWith = (emailAddress: string) =>
  service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(newPerson()), username: uniqueName(), emailAddress } });

describe('changing the email address', () => {
  it('waits for the new address to confirm, tells the old one, then switches', async () => {
    // A confirmed address: only such an address is told (see notices.test.ts for one nobody confirmed).
    const { person, sessionToken } = await service.confirmedUser();
    const newAddress = freshAddress();

    const requested = await changeEmail(sessionToken, newAddress);
    expect(requested.status).toBe(202);
    expect(requested.body).toEqual({ pendingEmailAddress: newAddress });

    // Until it is confirmed the account keeps its address.
    expect(await me(sessionToken)).toMatchObject({ emailAddress: person.email, pendingEmailAddress: newAddress });

    const token = await confirmationToken(newAddress);
    const notice = await service.waitForEmailTo(person.email, 'Your email address is being changed');
    expect(notice.plainText).toContain(newAddress);
    expect(notice.links).toEqual([]);

    const confirmed = await confirm(token);
    expect(confirmed.status).toBe(200);
    expect(await me(sessionToken)).toMatchObject({ emailAddress: newAddress, emailConfirmed: true, pendingEmailAddress: null });
  });

  it('frees the old address for someone else and holds the new one against everyone else', async () => {
    const { person, sessionToken } = await service.register();
    const newAddress = freshAddress();
    expect((await changeEmail(sessionToken, newAddress)).status).toBe(202);
    expect((await confirm(await confirmationToken(newAddress))).status).toBe(200);

    const taken = await registerWith(newAddress.toUpperCase());
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({
      code: 'email_in_use',
      detail: `The email address '${newAddress.toUpperCase()}' is already in use by a different account.`,
    });
    const other = await service.register();
    const takenByChange = await changeEmail(other.sessionToken, newAddress);
    expect(takenByChange.status).toBe(409);
    expect(takenByChange.body.code).toBe('email_in_use');

    const old = await registerWith(person.email);
    expect(old.status).toBe(201);
    expect(old.body.account.emailAddress).toBe(person.email);
  });

  it.each([
    ['the current address', (address: string) => address],
    ['the current address in other casing', (address: string) => address.toUpperCase()],
  ])('refuses %s, naming emailAddress', async (_label, sameAs) => {
    const { person, sessionToken } = await service.register();
    const response = await changeEmail(sessionToken, sameAs(person.email));
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ code: 'invalid_request', status: 400, detail: expect.stringContaining("'emailAddress'") });
    expect((await me(sessionToken)).pendingEmailAddress).toBeNull();
  });

  it("refuses another account's address with the contract's message, whatever its casing", async () => {
    const { person: holder } = await service.register();
    const { sessionToken } = await service.register();
    const before = service.mailbox.delivered.length;

    const response = await changeEmail(sessionToken, holder.email.toUpperCase());
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({
      code: 'email_in_use',
      detail: `The email address '${holder.email.toUpperCase()}' is already in use by a different account.`,
    });
    expect((await me(sessionToken)).pendingEmailAddress).toBeNull();
    expect(service.mailbox.delivered.length).toBe(before);
  });

  /** Two accounts both ask to move to one new address; both get a link. */
  async function twoAccountsAskingForOneAddress() {
    const first = await service.register();
    const second = await service.register();
    const contested = freshAddress('contested');
    expect((await changeEmail(first.sessionToken, contested)).status).toBe(202);
    expect((await changeEmail(second.sessionToken, contested)).status).toBe(202);
    const emails = await waitFor(() => service.emailsTo(contested).length >= 2 && service.emailsTo(contested));
    return { first, second, contested, emails };
  }

  it('checks again at confirmation: of two accounts asking for one address, the first to confirm gets it', async () => {
    const { first, second, contested, emails } = await twoAccountsAskingForOneAddress();
    expect(emails).toHaveLength(2);
    // Each answer waited for its email, so the first link is the first account's.
    const [firstToken, secondToken] = emails.map((email) => tokenIn(email.links[0]));

    expect((await confirm(firstToken)).status).toBe(200);
    const late = await confirm(secondToken);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({
      code: 'email_in_use',
      detail: `The email address '${contested}' is already in use by a different account.`,
    });

    expect(await me(first.sessionToken)).toMatchObject({ emailAddress: contested, emailConfirmed: true, pendingEmailAddress: null });
    expect((await me(second.sessionToken)).emailAddress).toBe(second.person.email);
  });

  it('gives a contested address to exactly one of two simultaneous confirmations', async () => {
    const { first, second, contested, emails } = await twoAccountsAskingForOneAddress();

    const answers = await Promise.all(emails.map((email) => confirm(tokenIn(email.links[0]))));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(answers.find((a) => a.status === 409)?.body.code).toBe('email_in_use');
    const addresses = [(await me(first.sessionToken)).emailAddress, (await me(second.sessionToken)).emailAddress];
    expect(addresses.filter((a) => a === contested)).toHaveLength(1);
  });

  it('cancels a pending change: 204, nothing pending, and the link no longer works', async () => {
    const { person, sessionToken } = await service.register();
    const newAddress = freshAddress();
    expect((await changeEmail(sessionToken, newAddress)).status).toBe(202);
    const token = await confirmationToken(newAddress);

    const cancelled = await service.call('DELETE', '/api/me/email/pending', { token: sessionToken });
    expect(cancelled.status).toBe(204);
    expect(cancelled.text).toBe('');
    expect(await me(sessionToken)).toMatchObject({ emailAddress: person.email, pendingEmailAddress: null });

    const stale = await confirm(token);
    expect(stale.status).toBe(400);
    expect(stale.body.code).toBe('invalid_token');
    expect(await me(sessionToken)).toMatchObject({ emailAddress: person.email, pendingEmailAddress: null });
    // The address it would have taken stays free.
    expect((await registerWith(newAddress)).status).toBe(201);

    // Cancelling with nothing pending is no error.
    expect((await service.call('DELETE', '/api/me/email/pending', { token: sessionToken })).status).toBe(204);
  });

  it('replaces a pending change with a newer one; the older link no longer works', async () => {
    const { sessionToken } = await service.register();
    const firstChoice = freshAddress('first');
    const secondChoice = freshAddress('second');
    expect((await changeEmail(sessionToken, firstChoice)).status).toBe(202);
    const firstToken = await confirmationToken(firstChoice);
    expect((await changeEmail(sessionToken, secondChoice)).status).toBe(202);
    expect((await me(sessionToken)).pendingEmailAddress).toBe(secondChoice);

    const outdated = await confirm(firstToken);
    expect(outdated.status).toBe(400);
    expect(outdated.body.code).toBe('invalid_token');
    expect((await confirm(await confirmationToken(secondChoice))).status).toBe(200);
    expect((await me(sessionToken)).emailAddress).toBe(secondChoice);
  });

  it('uses a link once', async () => {
    const { sessionToken } = await service.register();
    const newAddress = freshAddress();
    expect((await changeEmail(sessionToken, newAddress)).status).toBe(202);
    const token = await confirmationToken(newAddress);

    expect((await confirm(token)).status).toBe(200);
    const again = await confirm(token);
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('invalid_token');
    expect(await me(sessionToken)).toMatchObject({ emailAddress: newAddress, emailConfirmed: true, pendingEmailAddress: null });
  });

  it('makes the registration link of the old address useless once the address changed', async () => {
    const { person, sessionToken } = await service.register();
    const registrationEmail = await service.waitForEmailTo(person.email, 'Confirm your email address');
    const newAddress = freshAddress();
    expect((await changeEmail(sessionToken, newAddress)).status).toBe(202);
    expect((await confirm(await confirmationToken(newAddress))).status).toBe(200);

    const old = await confirm(tokenIn(registrationEmail.links[0]));
    expect(old.status).toBe(400);
    expect(old.body.code).toBe('invalid_token');
    expect(await me(sessionToken)).toMatchObject({ emailAddress: newAddress, emailConfirmed: true });
  });

  it('refuses a malformed address, naming the field', async () => {
    const { sessionToken } = await service.register();
    for (const emailAddress of ['not-an-address', 'a@b.example>, c@d.example', '']) {
      const response = await changeEmail(sessionToken, emailAddress);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining("'emailAddress'") });
    }
  });

  it('needs a session to ask for or cancel a change', async () => {
    const ask = await changeEmail(undefined, freshAddress());
    expect(ask.status).toBe(401);
    expect(ask.body.code).toBe('unauthorized');
    const cancel = await service.call('DELETE', '/api/me/email/pending');
    expect(cancel.status).toBe(401);
    expect(cancel.body.code).toBe('unauthorized');

    // A revoked session is no better.
    const { sessionToken } = await service.register();
    expect((await service.call('POST', '/api/auth/sign-out-everywhere', { token: sessionToken })).status).toBe(204);
    expect((await changeEmail(sessionToken, freshAddress())).status).toBe(401);
  });
});

describe('links sent to an address the account no longer has', () => {
  it('a confirmation link of an earlier request for the same address stops working once another request came', async () => {
    const { sessionToken } = await service.register();
    const wanted = freshAddress('wanted');
    const other = freshAddress('other');
    expect((await changeEmail(sessionToken, wanted)).status).toBe(202);
    const first = await confirmationToken(wanted);
    expect((await changeEmail(sessionToken, other)).status).toBe(202);
    const seen = service.emailCount(wanted);
    expect((await changeEmail(sessionToken, wanted)).status).toBe(202);
    const latest = tokenIn((await service.nextEmailTo(wanted, 'Confirm your new email address', seen)).links[0]);

    expect((await confirm(first)).body.code).toBe('invalid_token');
    expect((await me(sessionToken)).pendingEmailAddress).toBe(wanted);
    expect((await confirm(latest)).status).toBe(200);
    expect((await me(sessionToken)).emailAddress).toBe(wanted);
  });

  it('an organization invitation sent before the invitee changed address no longer works; a new one does', async () => {
    const admin = await service.confirmedUser();
    const invitee = await service.confirmedUser();
    const { name } = await service.createOrganization(admin);
    const stale = await service.invite(name, admin, invitee);
    await service.changeEmailAddress(invitee, freshAddress());

    expect((await service.acceptInvitation(name, invitee, stale)).body.code).toBe('invalid_token');
    expect(await service.organizationsOf(invitee)).toEqual([]);
    const fresh = await service.invite(name, admin, { ...invitee, person: { ...invitee.person, email: (await me(invitee.sessionToken)).emailAddress } });
    expect((await service.acceptInvitation(name, invitee, fresh)).status).toBe(200);
    expect(await service.organizationsOf(invitee)).toEqual([{ name, role: 'collaborator' }]);
  });

  it('a package owner invitation sent before the invitee changed address no longer works', async () => {
    const owner = await service.confirmedUser();
    const invitee = await service.confirmedUser();
    const id = `Moved${randomUUID().slice(0, 8)}.Lib`;
    expect((await service.push(await service.createKey(owner), id)).status).toBe(201);
    const stale = await service.inviteOwner(id, owner, invitee.username, invitee.person.email);
    const newAddress = freshAddress();
    await service.changeEmailAddress(invitee, newAddress);

    expect((await service.acceptOwnership(id, invitee, stale)).body.code).toBe('invalid_token');
    expect((await service.getPackage(id)).body.owners).toEqual([owner.username]);
    const fresh = await service.inviteOwner(id, owner, invitee.username, newAddress);
    expect((await service.acceptOwnership(id, invitee, fresh)).status).toBe(200);
  });

  it('a transform request sent before the admin changed address no longer works', async () => {
    const account = await service.confirmedUser();
    const admin = await service.confirmedUser();
    const subject = `${account.username} asks you to administer it as an organization`;
    expect((await service.call('POST', '/api/me/transform', { token: account.sessionToken, body: { adminUsername: admin.username } })).status).toBe(202);
    const stale = tokenIn((await service.waitForEmailTo(admin.person.email, subject)).links[0]);
    await service.changeEmailAddress(admin, freshAddress());

    for (const answer of ['accept', 'reject']) {
      const response = await service.call('POST', `/api/organizations/transform/${answer}`, { token: admin.sessionToken, body: { token: stale } });
      expect(`${answer}: ${response.status} ${response.body.code}`).toBe(`${answer}: 400 invalid_token`);
    }
    expect((await me(account.sessionToken)).kind).toBe('user');
  });
});

describe('sending the confirmation link again', () => {
  const resend = (token: string | undefined) => service.call('POST', '/api/me/email/resend-confirmation', { token });
  const outcome = (response: { status: number; body?: { code?: string } }) => `${response.status} ${response.body?.code ?? ''}`.trim();
  /** The newest email to `address` with `subject`, once `seen` emails had arrived there. */
  const nextLink = async (address: string, subject: string, seen: number) => tokenIn((await service.nextEmailTo(address, subject, seen)).links[0]);

  it('to an unconfirmed address: a new link that confirms it, and the earlier link stops working', async () => {
    const { person, sessionToken } = await service.register();
    const earlier = await nextLink(person.email, 'Confirm your email address', 0);
    const seen = service.emailCount(person.email);
    const resent = await resend(sessionToken);
    expect(resent.status).toBe(202);
    const fresh = await nextLink(person.email, 'Confirm your email address', seen);
    expect(fresh).not.toBe(earlier);

    expect(outcome(await confirm(earlier))).toBe('400 invalid_token');
    expect((await me(sessionToken)).emailConfirmed).toBe(false);
    expect(outcome(await confirm(fresh))).toBe('200');
    expect((await me(sessionToken)).emailConfirmed).toBe(true);
    // Nothing left to confirm.
    const nothing = await resend(sessionToken);
    expect(outcome(nothing)).toBe('400 invalid_request');
    expect(nothing.body.detail).toMatch(/confirmed already/);
    const log = (await service.call('GET', '/api/me/audit', { token: sessionToken })).body.events.map((e: { action: string }) => e.action);
    expect(log.slice(0, 2)).toEqual(['email_confirmed', 'email_confirmation_resent']);
  });

  it('for a pending change: to the new address, and the earlier link to it stops working', async () => {
    const { sessionToken, person } = await service.register();
    const newAddress = freshAddress();
    expect((await changeEmail(sessionToken, newAddress)).status).toBe(202);
    const earlier = await confirmationToken(newAddress);
    const seenNew = service.emailCount(newAddress);
    const seenOld = service.emailCount(person.email);
    expect((await resend(sessionToken)).status).toBe(202);
    const fresh = await nextLink(newAddress, 'Confirm your new email address', seenNew);
    // The current address is neither sent a link nor told again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(service.emailCount(person.email)).toBe(seenOld);

    expect(outcome(await confirm(earlier))).toBe('400 invalid_token');
    expect(outcome(await confirm(fresh))).toBe('200');
    expect(await me(sessionToken)).toMatchObject({ emailAddress: newAddress, emailConfirmed: true, pendingEmailAddress: null });
  });

  it('twice at once: each sends a link, and exactly one of them works', async () => {
    const { person, sessionToken } = await service.register();
    const seen = service.emailCount(person.email);
    const answers = await Promise.all([resend(sessionToken), resend(sessionToken)]);
    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    await waitFor(() => service.emailCount(person.email) >= seen + 2, { what: 'two new links' });
    const links = service.emailsTo(person.email).slice(seen).map((e) => tokenIn(e.links[0]));
    const outcomes = [];
    for (const link of links) outcomes.push(outcome(await confirm(link)));
    expect(outcomes.sort()).toEqual(['200', '400 invalid_token']);
  });

  it('needs a full session', async () => {
    expect(outcome(await resend(undefined))).toBe('401 unauthorized');
    const user = await service.register();
    await service.confirmRegistrationEmail(user);
    const recovery = await service.recoverySession(user);
    expect(outcome(await resend(recovery))).toBe('403 microsoft_account_required');
  });
});
