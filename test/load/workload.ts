/** The operations `npm run soak` puts load on, the way the frontend and the pipeline call them. */
import type { TestService } from '../support/service';
import { idTokenFor, newPerson, register, uniqueName } from '../support/people';
import { createKey, pushOk } from '../support/packages';

function expectStatus(status: number, wanted: number, what: string): void {
  if (status !== wanted) throw new Error(`${what} answered ${status}, not ${wanted}`);
}

export { OPERATIONS as OPERATION_NAMES } from './requests';

export async function operations(service: TestService) {
  const user = await register(service);
  const signInToken = idTokenFor(service, user.person);
  const key = await createKey(service, user, { scopes: ['package:push', 'package:pushversion'] });
  const packages = Array.from({ length: 64 }, () => uniqueName('Bench.Pkg'));
  for (const id of packages) await pushOk(service, key, id);
  let version = 0;
  const registrationToken = () => idTokenFor(service, newPerson());
  return {
    'GET /api/me': async () => expectStatus((await service.call('GET', '/api/me', { token: user.sessionToken })).status, 200, 'GET /api/me'),
    'Microsoft sign-in': async () =>
      expectStatus((await service.call('POST', '/api/auth/microsoft', { body: { idToken: signInToken } })).status, 200, 'sign-in'),
    'push check (new version)': async (i: number) => {
      version += 1;
      const response = await service.call('PUT', '/api/packages', {
        headers: { 'X-NuGet-ApiKey': key.key },
        body: { id: packages[i % packages.length], version: `1.0.${version}` },
      });
      expectStatus(response.status, 200, 'push');
    },
    registration: async () => {
      const response = await service.call('POST', '/api/accounts', { body: { idToken: registrationToken(), username: uniqueName('bench') } });
      expectStatus(response.status, 201, 'registration');
    },
  };
}

