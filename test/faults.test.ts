import { useTestService } from './support/service';
import { newPerson, uniqueName } from './support/people';

const service = useTestService();

afterEach(() => {
  service.cosmos.clearFaults();
});

describe('Cosmos DB throttling or unavailable for a while', () => {
  it.each([429, 503])('answers %i as a 503 problem with Retry-After after bounded retries, then recovers', async (status) => {
    const { sessionToken } = await service.register();
    service.cosmos.failNext(/./, status, 1000);
    service.cosmos.reset();
    const started = performance.now();
    const response = await service.call('GET', '/api/me', { token: sessionToken });
    const seconds = (performance.now() - started) / 1000;

    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ code: 'service_unavailable', status: 503 });
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(response.text).not.toMatch(/InjectedFault|injected|429|Request rate/);
    // The SDK retries, but within bounds: a handful of attempts, well under the client's patience.
    expect(service.cosmos.documentRequests().length).toBeLessThanOrEqual(10);
    expect(seconds).toBeLessThan(15);

    service.cosmos.clearFaults();
    expect((await service.call('GET', '/api/me', { token: sessionToken })).status).toBe(200);
  });

  it('leaves nothing behind from a registration refused during an outage', async () => {
    const person = newPerson();
    const username = uniqueName();
    service.cosmos.failNext(/./, 429, 1000);
    const refused = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(person), username } });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('service_unavailable');
    service.cosmos.clearFaults();

    // The same person registers the same name at once: no claim of the failed attempt stands in the way.
    const retried = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(person), username } });
    expect(retried.status).toBe(201);
  });

  it('lets the same person retry at once when the outage began halfway through their registration', async () => {
    const person = newPerson();
    const username = uniqueName();
    // Claims taken, then the account write and every clean-up fail: the claims stay behind.
    service.cosmos.failNext(/^(POST .*\/colls\/accounts\/docs|GET .*\/colls\/(accounts|claims)\/docs\/.*|DELETE .*)$/, 503, 50);
    const refused = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(person), username } });
    expect(refused.status).toBe(503);
    service.cosmos.clearFaults();

    const stranger = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(newPerson()), username } });
    expect(stranger.body.code).toBe('username_unavailable');
    const retried = await service.call('POST', '/api/accounts', { body: { idToken: service.idTokenFor(person), username } });
    expect(retried.status).toBe(201);
  });
});
