import type { ApiResponse } from './support/service';
import { useSweep } from './support/sweep';

/**
 * Hostile values in every field of every documented request body: oversized strings, huge arrays, control
 * characters and header injection in email addresses. Each answer is a 4xx problem naming the field, and
 * nothing is written.
 */
const sweep = useSweep();

interface Field {
  route: string;
  method: string;
  name: string;
  type: string;
  security: Array<Record<string, unknown>>;
}

/** Every top-level field of every documented JSON body, with the route that takes it. */
function documentedFields(): Field[] {
  const fields: Field[] = [];
  for (const [path, operations] of Object.entries<Record<string, any>>(sweep.openApi.paths)) {
    for (const [method, operation] of Object.entries<any>(operations)) {
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      for (const shape of schema ? [schema, ...(schema.anyOf ?? [])] : []) {
        for (const [name, property] of Object.entries<any>(shape.properties ?? {})) {
          fields.push({ route: path.replace(/\{\w+\}/g, 'sample'), method: method.toUpperCase(), name, type: property.type, security: operation.security });
        }
      }
    }
  }
  return fields;
}

function credentials(field: Field) {
  const scheme = field.security?.[0] ?? {};
  return {
    token: 'session' in scheme ? sweep.sessionToken : undefined,
    headers: 'apiKey' in scheme ? { 'X-NuGet-ApiKey': sweep.apiKey } : undefined,
  };
}

async function send(field: Field, value: unknown): Promise<ApiResponse> {
  return sweep.service.call(field.method, `/api${field.route}`, { body: { [field.name]: value }, ...credentials(field) });
}

function complaint(field: Field, response: ApiResponse): string | undefined {
  const label = `${field.method} ${field.route} ${field.name}`;
  if (response.status < 400 || response.status >= 500) return `${label}: answered ${response.status}`;
  if (!/^application\/problem\+json/.test(response.headers.get('content-type') ?? '')) return `${label}: not a problem`;
  if (/\bat \S+ \(|node_modules|\.ts:\d+|zod|cosmos/i.test(response.text)) return `${label}: leaks internals`;
  // A field the body did not get right is named; a 400 for another missing field names that one.
  if (response.status === 400 && !/'[\w.]+'/.test(response.body.detail)) return `${label}: detail names no field (${response.body.detail})`;
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
      else if (response.status === 400 && !response.body.detail.includes(`'${field.name}`) && !/is required/.test(response.body.detail)) {
        complaints.push(`${field.method} ${field.route} ${field.name}: names another field (${response.body.detail})`);
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
