import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { sessionOperations, type paths } from './schema.js';
import { microsoftSignIn, type MicrosoftSignIn } from './signIn.js';
import { UnexpectedResponseError } from './unexpectedResponse.js';

export interface GalleryClientOptions {
  /** Where the API is: the URL its paths follow, `/api` included (`https://gallery.example/api`). */
  baseUrl: string;
  /**
   * The session token of whoever is signed in, read on every call: sent as `Authorization: Bearer` to the routes that
   * take a session (and to no other).
   */
  sessionToken: () => string | null | undefined;
  /** The fetch to call with (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * Every route of the API, typed from its OpenAPI document (`gallery.GET('/me')`, `gallery.POST('/me/api-keys', { body })`,
 * answering `{ data }` or `{ error }`, the route's problem), and the Microsoft sign-in on top.
 */
export interface GalleryClient extends Client<paths>, MicrosoftSignIn {}

function sendingSession(sessionToken: GalleryClientOptions['sessionToken']): Middleware {
  return {
    onRequest({ request, schemaPath }) {
      const methods: readonly string[] | undefined = sessionOperations[schemaPath as keyof paths];
      const token = sessionToken();
      if (token && methods?.includes(request.method.toLowerCase()) && !request.headers.has('Authorization')) {
        request.headers.set('Authorization', `Bearer ${token}`);
      }
    },
  };
}

/** The service answers every failure in JSON (a problem, or the shape a route documents): anything else is thrown. */
const documentedAnswersOnly: Middleware = {
  onResponse({ response }) {
    if (!response.ok && !/^application\/(problem\+)?json\b/i.test(response.headers.get('Content-Type') ?? '')) {
      throw new UnexpectedResponseError(response);
    }
  },
};

export function createGalleryClient(options: GalleryClientOptions): GalleryClient {
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch });
  client.use(sendingSession(options.sessionToken), documentedAnswersOnly);
  return Object.assign(client, microsoftSignIn(client));
}
