import type { ApiResponse } from './support/service';
import { answersNuGetErrors, sentenceOf, sessionFor, useSweep } from './support/sweep';

/**
 * Hostile values in every field of every documented request body and in every path parameter: oversized
 * strings, huge arrays, characters the store forbids in ids, control characters, and header injection in
 * email addresses. Each answer is a 4xx problem naming the field, and nothing is written.
 */
const sweep = useSweep();

interface Field {
  route: string;
  method: string;
  name: string;
  type: string;
  security: Array<Record<string, string[]>>;
  /** The other fields the body needs, each with a value its schema accepts. */
  siblings: Record<string, unknown>;
  /** Its errors answer NuGet.org's token API shape, `{ error }`, not problems. */
  nuget: boolean;
}

/** The example the document gives a path parameter: a value its schema accepts. */
function exampleOf(parameters: any[] | undefined, name: string): string {
  return parameters?.find((p) => p.in === 'path' && p.name === name)?.schema?.examples?.[0] ?? 'sample';
}

/** A route with its path parameters filled in from their documented examples, `hostile` in place of one. */
function fillRoute(path: string, parameters: any[] | undefined, hostile?: { name: string; value: string }): string {
  return path.replace(/\{(\w+)\}/g, (_all, name: string) => encodeURIComponent(name === hostile?.name ? hostile.value : exampleOf(parameters, name)));
}

/** A value a documented property's schema accepts, so a body is refused for the one field under test. */
function acceptableValue(property: any): unknown {
  if (property.examples?.length) return property.examples[0];
  if (property.enum?.length) return property.enum[0];
  switch (property.type) {
    case 'integer':
    case 'number':
      return property.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return [acceptableValue(property.items ?? {})];
    default:
      return property.format === 'email' ? 'sweep@example.com' : 'Contoso';
  }
}

/** Every top-level field of every documented JSON body, with the route that takes it. */
function documentedFields(): Field[] {
  const fields: Field[] = [];
  for (const [path, operations] of Object.entries<Record<string, any>>(sweep.openApi.paths)) {
    for (const [method, operation] of Object.entries<any>(operations)) {
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      for (const shape of schema ? [schema, ...(schema.anyOf ?? [])] : []) {
        const properties = Object.entries<any>(shape.properties ?? {});
        for (const [name, property] of properties) {
          const siblings = Object.fromEntries(
            properties.filter(([other]) => other !== name && shape.required?.includes(other)).map(([other, p]) => [other, acceptableValue(p)]),
          );
          fields.push({
            route: fillRoute(path, operation.parameters),
            method: method.toUpperCase(),
            name,
            type: property.type,
            security: operation.security,
            siblings,
            nuget: answersNuGetErrors(operation),
          });
        }
      }
    }
  }
  return fields;
}

/** What the route documents it needs: a session, an API key, or a CI provider's OIDC token (any Bearer token reaches the body). */
function credentials(field: Pick<Field, 'security'>) {
  const scheme = field.security?.[0] ?? {};
  return {
    token: 'session' in scheme || 'oidcToken' in scheme ? sessionFor(sweep, field.security) : undefined,
    headers: 'apiKey' in scheme ? { 'X-NuGet-ApiKey': sweep.apiKey } : undefined,
  };
}

async function send(field: Field, value: unknown): Promise<ApiResponse> {
  // Alone in the body, as a client that sends one field would: the answer names this field or a missing one.
  return sweep.service.call(field.method, `/api${field.route}`, { body: { [field.name]: value }, ...credentials(field) });
}

function complaint(field: Field, response: ApiResponse): string | undefined {
  const label = `${field.method} ${field.route} ${field.name}`;
  if (response.status < 400 || response.status >= 500) return `${label}: answered ${response.status}`;
  // The token API answers NuGet.org's shape, { error }, with 400 for every refusal of the request's body.
  const shaped = field.nuget
    ? response.status === 400 && /^application\/json/.test(response.headers.get('content-type') ?? '') && typeof response.body?.error === 'string'
    : /^application\/problem\+json/.test(response.headers.get('content-type') ?? '');
  if (!shaped) return `${label}: not a problem`;
  if (/\bat \S+ \(|node_modules|\.ts:\d+|zod|cosmos/i.test(response.text)) return `${label}: leaks internals`;
  // A field the body did not get right is named; a 400 for another missing field names that one.
  if (response.status === 400 && !/'[\w.]+'/.test(sentenceOf(response))) return `${label}: detail names no field (${sentenceOf(response)})`;
  return undefined;
}

const writes = () => sweep.service.cosmos.documentRequests().filter((line) => !line.startsWith('GET '));

describe('hostile values in every documented field', () => {
  it('answers oversized strings and huge arrays with a problem naming the field, and writes nothing', async () => {
    const complaints: string[] = [];
    sweep.service.cosmos.reset();
    for (const field of documentedFields()) {
      const value = field.type === 'array' ? Array.from({ length: 20_000 }, () => 'x') : 'x'.repeat(20_000);
      const response = await send(field, value);
      const problem = complaint(field, response);
      if (problem) complaints.push(problem);
      else if (response.status === 400 && !sentenceOf(response).includes(`'${field.name}`) && !/is required/.test(sentenceOf(response))) {
        complaints.push(`${field.method} ${field.route} ${field.name}: names another field (${sentenceOf(response)})`);
      }
    }
    expect(complaints).toEqual([]);
    expect(writes()).toEqual([]);
  });

  const hostileAddresses = [
    'victim@example.com\r\nBcc: everyone@example.com',
    'victim@example.com\nSubject: hijacked',
    'victim\u0000@example.com',
    'Evil Person <victim@example.com>',
    '"quoted"@example.com',
    'victim@example.com, second@example.com',
    'victim@example.com;second@example.com',
    ' victim@example.com',
    '\u202evictim@example.com',
  ];

  /**
   * What Cosmos DB refuses in an id (`/`, `\\`, `?`, `#`), control characters, a direction override, a space:
   * none belongs in a name, id, version, prefix, glob or token.
   */
  const unstorable = ['/', '\\', '#', '?', '\u0000', '\n', '\u001f', '\u007f', '\u0085', '\u202e', ' ', '%'];
  /** Body fields that name something: an account, an organization, a package, a version, a prefix, a token. */
  const NAME_LIKE = ['username', 'name', 'owner', 'owners', 'adminUsername', 'id', 'version', 'prefix', 'packageGlobs', 'token'];
  /** The contract's own codes for a name that breaks the naming rule, or a username sent at all. */
  const NAMING_CODES = ['invalid_username', 'username_immutable'];

  it.each(unstorable)('refuses %j inside every name-like body field, naming the field, and writes nothing', async (character) => {
    const complaints: string[] = [];
    const fields = documentedFields().filter((f) => NAME_LIKE.includes(f.name));
    expect(fields.map((f) => f.name)).toEqual(expect.arrayContaining(NAME_LIKE));
    sweep.service.cosmos.reset();
    for (const field of fields) {
      const hostile = `Contoso${character}Lib`;
      const value = field.type === 'array' ? [hostile] : hostile;
      const response = await sweep.service.call(field.method, `/api${field.route}`, { body: { ...field.siblings, [field.name]: value }, ...credentials(field) });
      // The contract gives a name that breaks the rule its own code and sentence, which names no field.
      const problem = NAMING_CODES.includes(response.body?.code) && response.status === 400 ? undefined : complaint(field, response);
      if (problem) complaints.push(problem);
      else if (!sentenceOf(response).includes(`'${field.name}`) && !NAMING_CODES.includes(response.body.code)) {
        complaints.push(`${field.method} ${field.route} ${field.name}: ${response.status} ${response.body.code} ${sentenceOf(response)}`);
      }
    }
    expect(complaints).toEqual([]);
    expect(writes()).toEqual([]);
  });

  interface Parameter {
    path: string;
    method: string;
    name: string;
    parameters: any[];
    security: Array<Record<string, string[]>>;
  }

  /** Every path parameter of every documented route, authenticated or not. */
  function documentedParameters(): Parameter[] {
    return Object.entries<Record<string, any>>(sweep.openApi.paths).flatMap(([path, operations]) =>
      Object.entries<any>(operations).flatMap(([method, operation]) =>
        (operation.parameters ?? [])
          .filter((p: any) => p.in === 'path')
          .map((p: any) => ({ path, method: method.toUpperCase(), name: p.name, parameters: operation.parameters, security: operation.security })),
      ),
    );
  }

  const hostileParameters = [...unstorable.map((c) => `Contoso${c}Lib`), 'x'.repeat(300), '.hidden', 'Trailing.', '\u00e4'];

  /**
   * A trailing period ends no name or id, but it ends every reserved prefix (`Contoso.`): where a parameter's
   * documented pattern asks for that period, 'Trailing.' is a name like any other.
   */
  const asksForTrailingPeriod = (parameter: Parameter): boolean =>
    (parameter.parameters.find((p: any) => p.name === parameter.name)?.schema?.pattern ?? '').endsWith('\\.$');

  it.each(hostileParameters)('refuses %j in every path parameter, naming the parameter, and writes nothing', async (value) => {
    const complaints: string[] = [];
    const parameters = documentedParameters();
    expect(parameters.map((p) => `${p.method} ${p.path} ${p.name}`)).toEqual(
      expect.arrayContaining(['GET /packages/{id} id', 'GET /organizations/{name} name', 'DELETE /organizations/{name}/members/{username} username']),
    );
    sweep.service.cosmos.reset();
    for (const parameter of parameters) {
      if (value === 'Trailing.' && asksForTrailingPeriod(parameter)) continue;
      const route = fillRoute(parameter.path, parameter.parameters, { name: parameter.name, value });
      const response = await sweep.service.call(parameter.method, `/api${route}`, credentials(parameter));
      const label = `${parameter.method} ${parameter.path} ${parameter.name}=${JSON.stringify(value)}`;
      if (response.status !== 400) complaints.push(`${label}: answered ${response.status} ${response.text.slice(0, 200)}`);
      // The platform's front end (Kestrel) refuses an encoded NUL in a path before any function runs.
      else if (value.includes('\u0000')) continue;
      else if (!/^application\/problem\+json/.test(response.headers.get('content-type') ?? '')) complaints.push(`${label}: not a problem`);
      else if (!response.body.detail.includes(`path parameter '${parameter.name}'`)) complaints.push(`${label}: ${response.body.detail}`);
    }
    expect(complaints).toEqual([]);
    expect(writes()).toEqual([]);
  });

  it.each(hostileAddresses)('refuses the email address %j wherever one is taken, naming the field', async (address) => {
    const complaints: string[] = [];
    sweep.service.cosmos.reset();
    for (const field of documentedFields().filter((f) => /emailAddress/.test(f.name))) {
      const response = await send(field, address);
      const problem = complaint(field, response);
      if (problem) complaints.push(problem);
      else if (response.status !== 400 || !response.body.detail.includes(`'${field.name}'`) || response.body.code !== 'invalid_request') {
        complaints.push(`${field.method} ${field.route}: ${response.status} ${response.body.code} ${response.body.detail}`);
      }
    }
    expect(complaints).toEqual([]);
    expect(writes()).toEqual([]);
    expect(sweep.service.mailbox.delivered.some((email) => email.to.some((to) => /second@|everyone@/.test(to)))).toBe(false);
  });
});
