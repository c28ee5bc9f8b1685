import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { clock } from '../lib/shared/clock';
import { useTestService, type ApiResponse } from './support/service';

const service = useTestService();

function expectUnauthorized(response: ApiResponse): void {
  expect(response.status).toBe(401);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.headers.get('www-authenticate')).toBe('Bearer');
  expect(response.body).toMatchObject({ code: 'unauthorized', status: 401, detail: expect.stringMatching(/[Ss]ign in/) });
}

const me = (token?: string) => service.call('GET', '/api/me', { token });

/**
 * A token shaped like the service's own sessions. With the service's key it is indistinguishable from one the
 * service issued, which shows that the forgeries below fail for the one thing they change.
 */
function sessionLikeToken(
  accountId: string,
  { key = process.env.SESSION_SIGNING_KEY!, header = {}, claims = {} }: { key?: string; header?: object; claims?: object } = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign(
    { sub: accountId, sv: 1, scp: 'full', iss: 'urn:gallery-accounts', aud: 'urn:gallery-accounts:api', iat: now, exp: now + 600, ...claims },
    key,
    { algorithm: 'HS256', header: { alg: 'HS256', typ: 'session+jwt', ...header } },
  );
}

function unsignedToken(accountId: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: accountId, sv: 1, scp: 'full', iss: 'urn:gallery-accounts', aud: 'urn:gallery-accounts:api', iat: now, exp: now + 600 };
  return `${part({ alg: 'none', typ: 'session+jwt' })}.${part(claims)}.`;
}

describe('a request to GET /api/me answers 401 unauthorized', () => {
  it('without a token', async () => {
    expectUnauthorized(await me());
  });

  it.each([
    ['a garbage token', 'Bearer not-a-token'],
    ['three dots', 'Bearer ...'],
    ['an empty bearer', 'Bearer '],
    ['another scheme', 'Basic YWRhOnBhc3N3b3Jk'],
    ['the token without a scheme', 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln'],
  ])('with %s', async (_label, authorization) => {
    expectUnauthorized(await service.call('GET', '/api/me', { headers: { Authorization: authorization } }));
  });

  it('with the Microsoft ID token of the account instead of a session token', async () => {
    const { person } = await service.register();
    expectUnauthorized(await me(service.idTokenFor(person)));
  });

  it('with an unsigned (alg: none) token, or one signed with another key', async () => {
    const { account } = await service.register();
    // The control: the same token signed with the service's key is accepted.
    expect((await me(sessionLikeToken(account.id))).status).toBe(200);

    expectUnauthorized(await me(unsignedToken(account.id)));
    expectUnauthorized(await me(sessionLikeToken(account.id, { key: randomBytes(48).toString('base64') })));
  });

  it('with a token signed by the service that is not a session of a live account', async () => {
    const { account } = await service.register();
    expectUnauthorized(await me(sessionLikeToken(account.id, { header: { typ: 'JWT' } })));
    expectUnauthorized(await me(sessionLikeToken(account.id, { claims: { aud: 'urn:something-else' } })));
    expectUnauthorized(await me(sessionLikeToken(account.id, { claims: { iss: 'urn:something-else' } })));
    expectUnauthorized(await me(sessionLikeToken(account.id, { claims: { sv: '1' } })));
    expectUnauthorized(await me(sessionLikeToken(account.id, { claims: { scp: 'admin' } })));
    expectUnauthorized(await me(sessionLikeToken(randomUUID())));
  });

  it('with the session token in the query string instead of the Authorization header', async () => {
    const { sessionToken } = await service.register();
    expectUnauthorized(await service.call('GET', `/api/me?access_token=${encodeURIComponent(sessionToken)}`));
    expectUnauthorized(await service.call('GET', `/api/me?token=${encodeURIComponent(sessionToken)}`));
    expect((await me(sessionToken)).status).toBe(200);
  });

  it('once the session is over an hour old', async () => {
    const { sessionToken } = await service.register();
    const issued = Date.now();
    jest.spyOn(clock, 'now').mockReturnValue(new Date(issued + 59 * 60 * 1000));
    expect((await me(sessionToken)).status).toBe(200);
    jest.spyOn(clock, 'now').mockReturnValue(new Date(issued + 60 * 60 * 1000 + 1000));
    expectUnauthorized(await me(sessionToken));
  });

  it('without reading the database for a token that fails its signature', async () => {
    const { account } = await service.register();
    service.cosmos.reset();
    await me(sessionLikeToken(account.id, { key: randomBytes(48).toString('base64') }));
    await me('garbage');
    expect(service.cosmos.documentRequests()).toEqual([]);
  });
});

describe('signing out everywhere', () => {
  it('ends every session issued so far, while a fresh Microsoft sign-in works', async () => {
    const { person, sessionToken: first } = await service.register();
    const signIn = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(person) } });
    expect(signIn.body.status).toBe('signed_in');
    const second: string = signIn.body.sessionToken;
    expect((await me(first)).status).toBe(200);
    expect((await me(second)).status).toBe(200);

    const signOut = await service.call('POST', '/api/auth/sign-out-everywhere', { token: first });
    expect(signOut.status).toBe(204);
    expect(signOut.text).toBe('');

    expectUnauthorized(await me(first));
    expectUnauthorized(await me(second));
    expectUnauthorized(await service.call('POST', '/api/auth/sign-out-everywhere', { token: second }));

    const again = await service.call('POST', '/api/auth/microsoft', { body: { idToken: service.idTokenFor(person) } });
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('signed_in');
    const fresh = await me(again.body.sessionToken);
    expect(fresh.status).toBe(200);
    expect(fresh.body.username).toBe(again.body.account.username);
  });

  it('needs a session', async () => {
    expectUnauthorized(await service.call('POST', '/api/auth/sign-out-everywhere'));
  });
});

describe('PATCH /api/me', () => {
  it('refuses any username, in any casing, even the same one', async () => {
    const { username, sessionToken } = await service.register();
    for (const attempt of [username, username.toUpperCase(), username.toLowerCase(), `${username}-2`, '']) {
      const response = await service.call('PATCH', '/api/me', { body: { username: attempt }, token: sessionToken });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({ code: 'username_immutable', detail: expect.any(String) });
    }
    expect((await me(sessionToken)).body.username).toBe(username);
  });

  it('with {} answers 200 and the account, unchanged', async () => {
    const { sessionToken } = await service.register();
    const before = await me(sessionToken);
    const response = await service.call('PATCH', '/api/me', { body: {}, token: sessionToken });
    expect(response.status).toBe(200);
    expect(response.body).toEqual(before.body);
    expect((await me(sessionToken)).body).toEqual(before.body);
  });

  it('needs a session', async () => {
    expectUnauthorized(await service.call('PATCH', '/api/me', { body: {} }));
  });

  it('tells a caller without a session nothing about the body it sent', async () => {
    expectUnauthorized(await service.call('PATCH', '/api/me', { rawBody: '{"unknown": ', headers: { 'Content-Type': 'application/json' } }));
  });
});

describe('GET /api/me', () => {
  it('answers the signed-in account', async () => {
    const { account, sessionToken } = await service.register();
    const response = await me(sessionToken);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(account);
  });

  it('costs exactly one Cosmos DB document request once warm', async () => {
    const { sessionToken } = await service.register();
    expect((await me(sessionToken)).status).toBe(200);
    service.cosmos.reset();
    expect((await me(sessionToken)).status).toBe(200);
    expect(service.cosmos.documentRequests()).toHaveLength(1);
  });
});

describe('session tokens', () => {
  it('are byte for byte what jsonwebtoken signs with SESSION_SIGNING_KEY as its secret, so tokens issued before keep working', async () => {
    const { sessionToken } = await service.register();
    const { header, payload } = jwt.decode(sessionToken, { complete: true }) as jwt.Jwt;
    expect(header).toEqual({ alg: 'HS256', typ: 'session+jwt' });
    const signedWithTheSetting = jwt.sign(payload as object, process.env.SESSION_SIGNING_KEY!, { algorithm: 'HS256', header });
    expect(sessionToken).toBe(signedWithTheSetting);
    expect(jwt.verify(sessionToken, process.env.SESSION_SIGNING_KEY!, { algorithms: ['HS256'] })).toEqual(payload);
    // And one signed that way is a session the service takes.
    expect((await me(sessionLikeToken(payload.sub as string, { claims: { sv: (payload as jwt.JwtPayload).sv } }))).status).toBe(200);
  });
});
