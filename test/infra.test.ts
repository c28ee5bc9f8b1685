/**
 * The infrastructure in infra/ against the code: every setting the code reads is set on the Function App and
 * nothing else is, every container the code uses is declared with its partition key, no secret is written
 * down, local authentication is off, CORS allows the frontend only, every Azure Verified Module is pinned,
 * and the deployed package holds only what runs in Azure.
 *
 * No Bicep compiler exists on these machines, so this reads the Bicep as text. Ops still run
 * `az bicep build` and a what-if before deploying (infra/README.md).
 */
import { execFileSync, execSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, relative } from 'path';
import { DEPLOY_FOLDER } from '../local/deployPackage';
import { parseSettings, SETTING_NAMES } from '../lib/shared/settings';
import { readAzureYaml, yamlValue } from './support/azureYaml';
import { SETTINGS_IN_AZURE } from './support/settings';
import { CONTAINERS } from '../lib/shared/storage/containers';

const ROOT = join(__dirname, '..');
const INFRA = join(ROOT, 'infra');

/** Settings the code reads only in local development: without them it uses DefaultAzureCredential. */
const LOCAL_ONLY = ['COSMOS_KEY', 'COMMUNICATION_SERVICES_CONNECTION_STRING'];
/** Settings whose default in lib/shared/settings.ts is right in Azure, so the Bicep may leave them out. */
const DEFAULT_MAY_BE_OMITTED = ['MICROSOFT_LOGIN_HOST', 'GITHUB_OIDC_ISSUER', 'RDAP_BOOTSTRAP_URL'];
/** Settings the platform and the SDKs read, not lib/shared/settings.ts. */
const PLATFORM_SETTINGS = [
  'AZURE_CLIENT_ID', // DefaultAzureCredential: which user-assigned identity to use
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__blobServiceUri',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];
/** App settings the Flex Consumption plan replaced with site properties (functionAppConfig) and refuses. */
const NOT_ON_FLEX_CONSUMPTION = [
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_NODE_DEFAULT_VERSION',
];

// ---------------------------------------------------------------------------------------------------------
// Reading Bicep as text
// ---------------------------------------------------------------------------------------------------------

function bicepFiles(dir: string = INFRA): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(path);
    return entry.name.endsWith('.bicep') ? [path] : [];
  });
}

const read = (path: string): string => readFileSync(path, 'utf8');

/**
 * The source with comments and (unless `keepStrings`) the insides of string literals, interpolations included,
 * blanked out: same length and same line breaks, so that braces and keys can be found by position and mapped
 * back to the original.
 */
function mask(source: string, { keepStrings = false } = {}): string {
  const out = source.split('');
  const blankAlways = (i: number): void => {
    if (out[i] !== '\n') out[i] = ' ';
  };
  const blank = (i: number): void => {
    if (!keepStrings) blankAlways(i);
  };
  // What encloses the current position: a string, or an interpolation inside a string (with its brace depth).
  const stack: Array<{ kind: 'string' } | { kind: 'interpolation'; depth: number }> = [];
  for (let i = 0; i < source.length; i++) {
    const top = stack[stack.length - 1];
    const c = source[i];
    if (top?.kind === 'string') {
      blank(i);
      if (c === '\\') {
        blank(++i);
      } else if (c === "'") {
        stack.pop();
      } else if (c === '$' && source[i + 1] === '{') {
        blank(++i);
        stack.push({ kind: 'interpolation', depth: 0 });
      }
      continue;
    }
    if (top?.kind === 'interpolation') blank(i);
    if (c === '/' && source[i + 1] === '/') {
      for (; i < source.length && source[i] !== '\n'; i++) blankAlways(i);
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      for (const last = end < 0 ? source.length : end + 1; i <= last && i < source.length; i++) blankAlways(i);
      i--;
      continue;
    }
    if (source.startsWith("'''", i)) {
      const end = source.indexOf("'''", i + 3);
      for (const last = end < 0 ? source.length : end + 2; i <= last && i < source.length; i++) blank(i);
      i--;
      continue;
    }
    if (c === "'") {
      blank(i);
      stack.push({ kind: 'string' });
    } else if (top?.kind === 'interpolation' && c === '{') {
      top.depth++;
    } else if (top?.kind === 'interpolation' && c === '}') {
      if (top.depth === 0) stack.pop();
      else top.depth--;
    }
  }
  return out.join('');
}

/** Index of the bracket closing the one at `open`, in masked text. */
function closing(masked: string, open: number): number {
  const pairs: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
  const expected: string[] = [];
  for (let i = open; i < masked.length; i++) {
    const c = masked[i];
    if (pairs[c]) expected.push(pairs[c]);
    else if (c === '}' || c === ']' || c === ')') {
      if (expected.pop() !== c) throw new Error(`unbalanced '${c}' at ${i}`);
      if (expected.length === 0) return i;
    }
  }
  throw new Error(`no closing bracket for the one at ${open}`);
}

interface Block {
  /** The original text between the brackets. */
  text: string;
  /** The same, masked. */
  masked: string;
}

function blockAt(source: string, open: number): Block {
  const masked = mask(source);
  const end = closing(masked, open);
  return { text: source.slice(open + 1, end), masked: masked.slice(open + 1, end) };
}

/** The object a `var name = { ... }` declares. */
function variableBlock(source: string, name: string): Block {
  const match = new RegExp(`^var ${name}\\s*=\\s*\\{`, 'm').exec(mask(source));
  if (!match) throw new Error(`no var ${name}`);
  return blockAt(source, match.index + match[0].length - 1);
}

/** The body of every `module x '<reference>' = { ... }` whose reference starts with `prefix`. */
function moduleBlocks(source: string, prefix: string): Block[] {
  const blocks: Block[] = [];
  const pattern = /^module\s+\w+\s+'([^']+)'\s*=\s*(?:\[[^\n]*?:\s*)?(?:if\s*\([^\n]*\)\s*)?\{/gm;
  for (const match of source.matchAll(pattern)) {
    if (match[1].startsWith(prefix)) blocks.push(blockAt(source, (match.index ?? 0) + match[0].length - 1));
  }
  return blocks;
}

function moduleBlock(source: string, prefix: string): Block {
  const blocks = moduleBlocks(source, prefix);
  if (blocks.length !== 1) throw new Error(`expected one module ${prefix}, found ${blocks.length}`);
  return blocks[0];
}

/** The keys of an object block at its own level, each with the text of its value's first line. */
function entries(block: Block): Map<string, string> {
  const result = new Map<string, string>();
  let depth = 0;
  let offset = 0;
  for (const line of block.masked.split('\n')) {
    const key = depth === 0 ? /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:/.exec(line) : null;
    if (key) {
      const original = block.text.slice(offset, offset + line.length);
      result.set(key[1], original.slice(original.indexOf(':') + 1).trim());
    }
    for (const c of line) {
      if (c === '{' || c === '[' || c === '(') depth++;
      if (c === '}' || c === ']' || c === ')') depth--;
    }
    offset += line.length + 1;
  }
  return result;
}

/** The object or array held by the first `key:` in a block (nested keys count: name one that is unique). */
function property(block: Block, key: string): Block {
  const match = new RegExp(`(^|\\n)\\s*${key}\\s*:\\s*[{\\[]`).exec(block.masked);
  if (!match) throw new Error(`no ${key}`);
  const open = match.index + match[0].length - 1;
  const end = closing(block.masked, open);
  return { text: block.text.slice(open + 1, end), masked: block.masked.slice(open + 1, end) };
}

/** The `params` object of the one module whose reference starts with `prefix`. */
const params = (source: string, prefix: string): Block => property(moduleBlock(source, prefix), 'params');

const mainBicep = read(join(INFRA, 'main.bicep'));
const apiBicep = read(join(INFRA, 'app', 'api.bicep'));
const allBicep = bicepFiles().map((path) => ({ path: relative(ROOT, path), source: read(path) }));

// ---------------------------------------------------------------------------------------------------------
// (a) Settings
// ---------------------------------------------------------------------------------------------------------

describe('the Function App settings', () => {
  const appSettings = entries(variableBlock(apiBicep, 'appSettings'));
  const set = [...appSettings.keys()];

  it('are read from lib/shared/settings.ts', () => {
    // A guard on the list itself: if the schema's keys could not be read, everything below would pass.
    expect(SETTING_NAMES).toEqual(expect.arrayContaining(['COSMOS_ENDPOINT', 'SESSION_SIGNING_KEY', 'PUBLIC_BASE_URL']));
  });

  it('include every setting the code reads, except the local-only ones and defaults that fit', () => {
    const needed = SETTING_NAMES.filter((name) => !LOCAL_ONLY.includes(name) && !DEFAULT_MAY_BE_OMITTED.includes(name));
    expect(needed.filter((name) => !set.includes(name))).toEqual([]);
  });

  it('are each either read by the code or a listed platform setting', () => {
    const known: string[] = [...SETTING_NAMES, ...PLATFORM_SETTINGS];
    expect(set.filter((name) => !known.includes(name))).toEqual([]);
  });

  it('leave out the local-only keys, so the code reaches Cosmos DB and ACS with its managed identity', () => {
    expect(set.filter((name) => LOCAL_ONLY.includes(name))).toEqual([]);
    expect(set.filter((name) => NOT_ON_FLEX_CONSUMPTION.includes(name))).toEqual([]);
  });

  it('are the only app settings, and replace whatever the app had', () => {
    const configs = property(params(apiBicep, 'br/public:avm/res/web/site:'), 'configs');
    expect(configs.text).toMatch(/name:\s*'appsettings'/);
    expect(configs.text).toMatch(/properties:\s*appSettings\b/);
    expect(configs.text).toMatch(/retainCurrentAppSettings:\s*false/);
    // No second way to set them: the AVM module's storage/App Insights helpers add settings of their own.
    for (const { path, source } of allBicep) {
      expect({ path, matches: source.match(/appSettingsKeyValuePairs|storageAccountResourceId|applicationInsightResourceId/g) }).toEqual({ path, matches: null });
      expect({ path, count: (source.match(/'appsettings'/g) ?? []).length }).toEqual({ path, count: path.endsWith(join('app', 'api.bicep')) ? 1 : 0 });
    }
  });

  it('take SESSION_SIGNING_KEY from Key Vault with the user-assigned identity', () => {
    expect(appSettings.get('SESSION_SIGNING_KEY')).toMatch(/^'@Microsoft\.KeyVault\(SecretUri=\$\{\w+\}\)'$/);
    const site = entries(params(apiBicep, 'br/public:avm/res/web/site:'));
    expect(site.get('keyVaultAccessIdentityResourceId')).toBe('identityResourceId');
    // Decorators read with their strings blanked, so parentheses inside descriptions do not count.
    expect(mask(mainBicep)).toMatch(/@secure\(\)\s*(@\w+\([^)]*\)\s*)*param sessionSigningKey string/);
  });

  it("set the trusted publishing audience, by default the gallery's origin, and leave GitHub's issuer to its default", () => {
    expect(appSettings.get('TRUSTED_PUBLISHING_AUDIENCE')).toBe('trustedPublishingAudience');
    expect(entries(params(mainBicep, 'app/api.bicep')).get('trustedPublishingAudience')).toBe('trustedPublishingAudience');
    expect(mask(mainBicep)).toMatch(/^param trustedPublishingAudience string = publicBaseUrl$/m);
    expect(parseSettings(SETTINGS_IN_AZURE).GITHUB_OIDC_ISSUER).toBe('https://token.actions.githubusercontent.com');
  });

  it('leave the entra provider off unless given the gallery API\'s audiences: the setting is empty by default', () => {
    expect(appSettings.get('TRUSTED_PUBLISHING_ENTRA_AUDIENCE')).toBe('trustedPublishingEntraAudience');
    expect(entries(params(mainBicep, 'app/api.bicep')).get('trustedPublishingEntraAudience')).toBe('trustedPublishingEntraAudience');
    expect(mask(mainBicep, { keepStrings: true })).toMatch(/^param trustedPublishingEntraAudience string = ''$/m);
    expect(parseSettings({ ...SETTINGS_IN_AZURE, TRUSTED_PUBLISHING_ENTRA_AUDIENCE: '' }).TRUSTED_PUBLISHING_ENTRA_AUDIENCE).toBeUndefined();
  });

  it("set the GitLab instance trusted publishing takes tokens from: GitLab.com unless told a self-managed one's URL", () => {
    expect(appSettings.get('GITLAB_OIDC_ISSUER')).toBe('gitlabOidcIssuer');
    expect(entries(params(mainBicep, 'app/api.bicep')).get('gitlabOidcIssuer')).toBe('gitlabOidcIssuer');
    expect(mask(mainBicep, { keepStrings: true })).toMatch(/^param gitlabOidcIssuer string = 'https:\/\/gitlab\.com'$/m);
    expect(parseSettings(SETTINGS_IN_AZURE).GITLAB_OIDC_ISSUER).toBe('https://gitlab.com');
  });

  it("leave the RDAP bootstrap file to its default, IANA's", () => {
    expect(appSettings.has('RDAP_BOOTSTRAP_URL')).toBe(false);
    expect(parseSettings(SETTINGS_IN_AZURE).RDAP_BOOTSTRAP_URL).toBe('https://data.iana.org/rdap/dns.json');
  });

  it('name the user-assigned identity for DefaultAzureCredential, the host storage and telemetry', () => {
    expect(appSettings.get('AZURE_CLIENT_ID')).toBe('identityClientId');
    expect(appSettings.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect(appSettings.get('AzureWebJobsStorage__clientId')).toBe('identityClientId');
    expect(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe("'ClientId=${identityClientId};Authorization=AAD'");
  });
});

// ---------------------------------------------------------------------------------------------------------
// (b) Containers
// ---------------------------------------------------------------------------------------------------------

describe('the Cosmos DB containers', () => {
  const declared = allBicep.flatMap(({ path, source }) =>
    [...source.matchAll(/\{\s*name:\s*'([^']+)'\s*paths:\s*\[\s*'([^']+)'\s*\]/g)].map((match) => ({
      path,
      name: match[1],
      partitionKey: match[2],
    })),
  );

  it('are every container of lib/shared/storage/containers.ts, with the same partition key, and no other', () => {
    const expected = Object.fromEntries(Object.entries(CONTAINERS).map(([name, { partitionKey }]) => [name, partitionKey]));
    expect(Object.fromEntries(declared.map(({ name, partitionKey }) => [name, partitionKey]))).toEqual(expected);
    expect(declared).toHaveLength(Object.keys(CONTAINERS).length); // none declared twice
  });

  it('are declared in one list the parser reads whole', () => {
    // Every `paths:` in the Bicep is either one of the entries above or the list being passed on.
    const paths = allBicep.flatMap(({ source }) => [...mask(source).matchAll(/^\s*paths\s*:/gm)]);
    expect(paths.length).toBe(declared.length + 1);
    expect(new Set(declared.map(({ path }) => path)).size).toBe(1);
  });

  it('live in the database the code is told about, serverless unless provisioned throughput is asked for', () => {
    const database = read(join(INFRA, 'app', 'database.bicep'));
    const account = entries(params(database, 'br/public:avm/res/document-db/database-account:'));
    expect(account.get('capabilitiesToAdd')).toBe("serverless ? ['EnableServerless'] : []");
    expect(mainBicep).toMatch(/param cosmosThroughputMode string = 'serverless'/);
    expect(entries(variableBlock(apiBicep, 'appSettings')).get('COSMOS_DATABASE')).toBe('cosmosDatabaseName');
  });
});

// ---------------------------------------------------------------------------------------------------------
// (c) No secrets, no local authentication
// ---------------------------------------------------------------------------------------------------------

describe('secrets and local authentication', () => {
  // Bicep without its comments (which may name what must not be there), strings kept.
  const texts = [
    ...allBicep.map(({ path, source }) => ({ path, source: mask(source, { keepStrings: true }) })),
    ...['infra/main.parameters.json', 'azure.yaml'].map((path) => ({ path, source: read(join(ROOT, path)) })),
  ];

  it.each([
    ['an account key', /AccountKey\s*=/i],
    ['a connection string with a key', /(accesskey|SharedAccessKey|AccountKey)\s*=/i],
    ['an instrumentation key', /InstrumentationKey\s*=/i],
    ['a key listed at deployment', /\blist(Keys|ConnectionStrings|AccountSas|ServiceSas|Secrets)\s*\(/i],
    // (An Application Insights connectionString is an ingestion address; the keyed ones are named primary…/secondary….)
    ["a module's key or connection-string output", /\.outputs\.\w*(Key|ConnectionString)s?\b/],
    ['a key setting the code reads only locally', /\b(COSMOS_KEY|COMMUNICATION_SERVICES_CONNECTION_STRING)\b/],
  ])('none holds %s', (_what, pattern) => {
    expect(texts.filter(({ source }) => pattern.test(source)).map(({ path }) => path)).toEqual([]);
  });

  it('Cosmos DB accepts Microsoft Entra tokens only (disableLocalAuth)', () => {
    // The AVM module's parameter disableLocalAuthentication sets the account's disableLocalAuth.
    const account = entries(params(read(join(INFRA, 'app', 'database.bicep')), 'br/public:avm/res/document-db/database-account:'));
    expect(account.get('disableLocalAuthentication')).toBe('true');
    expect(account.get('disableKeyBasedMetadataWriteAccess')).toBe('true');
  });

  it('Application Insights accepts Microsoft Entra tokens only', () => {
    expect(entries(params(mainBicep, 'br/public:avm/res/insights/component:')).get('disableLocalAuth')).toBe('true');
  });

  it('storage allows no shared key', () => {
    expect(entries(params(mainBicep, 'br/public:avm/res/storage/storage-account:')).get('allowSharedKeyAccess')).toBe('false');
  });

  it('Key Vault authorizes with RBAC', () => {
    expect(entries(params(mainBicep, 'br/public:avm/res/key-vault/vault:')).get('enableRbacAuthorization')).toBe('true');
  });

  it('deployment storage is reached with the user-assigned identity', () => {
    const site = params(apiBicep, 'br/public:avm/res/web/site:');
    const authentication = entries(property(property(property(property(site, 'functionAppConfig'), 'deployment'), 'storage'), 'authentication'));
    expect(authentication.get('type')).toBe("'UserAssignedIdentity'");
    expect(authentication.get('userAssignedIdentityResourceId')).toBe('identityResourceId');
  });

  it('the identity holds each role the code needs, on its resource', () => {
    const database = read(join(INFRA, 'app', 'database.bicep'));
    expect(database).toMatch(/builtInDataContributorRoleId = '00000000-0000-0000-0000-000000000002'/);
    expect(property(params(database, 'br/public:avm/res/document-db/database-account:'), 'sqlRoleAssignments').text).toMatch(
      /roleDefinitionId:\s*builtInDataContributorRoleId\s*principalId:\s*dataContributorPrincipalId/,
    );
    const roles = (source: string, prefix: string): string =>
      property(params(source, prefix), 'roleAssignments').text.replace(/\s+/g, ' ');
    expect(roles(mainBicep, 'br/public:avm/res/storage/storage-account:')).toMatch(/'Storage Blob Data Owner' principalId: apiIdentity.outputs.principalId/);
    expect(roles(mainBicep, 'br/public:avm/res/key-vault/vault:')).toMatch(/'Key Vault Secrets User' principalId: apiIdentity.outputs.principalId/);
    expect(roles(mainBicep, 'br/public:avm/res/insights/component:')).toMatch(/'Monitoring Metrics Publisher' principalId: apiIdentity.outputs.principalId/);
    const email = read(join(INFRA, 'app', 'email.bicep'));
    expect(roles(email, 'br/public:avm/res/communication/communication-service:')).toMatch(/'Communication and Email Service Owner' principalId: senderPrincipalId/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// (d) CORS, (e) module versions, the Flex Consumption plan
// ---------------------------------------------------------------------------------------------------------

describe('the Function App', () => {
  const site = params(apiBicep, 'br/public:avm/res/web/site:');

  it('allows the frontend origin (the publicBaseUrl parameter) and nothing else', () => {
    const cors = property(property(site, 'siteConfig'), 'cors');
    const origins = property(cors, 'allowedOrigins').text.split(/[\s,]+/).filter(Boolean);
    expect(origins).toEqual(['publicBaseUrl']);
    expect(entries(cors).get('supportCredentials')).toBe('false');
    expect(entries(params(mainBicep, 'app/api.bicep')).get('publicBaseUrl')).toBe('publicBaseUrl');
    expect(entries(variableBlock(apiBicep, 'appSettings')).get('PUBLIC_BASE_URL')).toBe('publicBaseUrl');
    for (const { path, source } of allBicep) expect({ path, wildcard: /allowedOrigins[^\]]*'\*'/.test(source) }).toEqual({ path, wildcard: false });
  });

  it('runs on the Flex Consumption plan, Node.js 20 or newer, as its user-assigned identity', () => {
    expect(entries(params(mainBicep, 'br/public:avm/res/web/serverfarm:')).get('skuName')).toBe("'FC1'");
    const runtime = entries(property(property(site, 'functionAppConfig'), 'runtime'));
    expect(runtime.get('name')).toBe("'node'");
    expect(runtime.get('version')).toBe('nodeVersion');
    const [, allowed, chosen] =
      /@allowed\(\[([^\]]*)\]\)\s*(?:@description\('(?:[^'\\]|\\.)*'\)\s*)?param nodeVersion string = '(\d+)'/.exec(apiBicep) ?? [];
    // The versions package.json supports, each of them tested by .ci/run.
    const { engines } = JSON.parse(read(join(ROOT, 'package.json'))) as { engines: { node: string } };
    expect(allowed.match(/\d+/g)?.map(Number)).toEqual(engines.node.split('||').map((major) => Number(major.trim())));
    expect(Number(chosen)).toBeGreaterThanOrEqual(20);
    const identities = property(site, 'managedIdentities');
    expect(entries(identities).get('systemAssigned')).toBe('false');
    expect(property(identities, 'userAssignedResourceIds').text.trim()).toBe('identityResourceId');
  });

  it('uses only Azure Verified Modules pinned to an exact version', () => {
    const references = allBicep.flatMap(({ source }) => [...source.matchAll(/'(br[:/][^']+)'/g)].map((match) => match[1]));
    expect(references.length).toBeGreaterThan(0);
    expect(references.filter((reference) => !/^br\/public:avm\/(res|ptn|utl)\/[a-z0-9-]+(\/[a-z0-9-]+)+:\d+\.\d+\.\d+$/.test(reference))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// azd: parameters and azure.yaml
// ---------------------------------------------------------------------------------------------------------

describe('the azd wiring', () => {
  it('maps every parameter of main.bicep that has no default, and only parameters that exist', () => {
    const declared = [...mask(mainBicep).matchAll(/^param\s+(\w+)\s+\w+(\s*=)?/gm)];
    const parameters = Object.keys((JSON.parse(read(join(INFRA, 'main.parameters.json'))) as { parameters: object }).parameters);
    const required = declared.filter((match) => !match[2]).map((match) => match[1]);
    expect(required.filter((name) => !parameters.includes(name))).toEqual([]);
    expect(parameters.filter((name) => !declared.some((match) => match[1] === name))).toEqual([]);
  });

  it('deploys the package as built, to the app tagged for the api service', () => {
    const azureYaml = readAzureYaml(ROOT);
    const api = (...keys: string[]) => yamlValue(azureYaml, 'services', 'api', ...keys);
    expect([api('project'), api('language'), api('host'), api('remoteBuild')]).toEqual(['.', 'ts', 'function', 'false']);
    // What the hook makes is what azd zips (test/deployPackage.test.ts replays it).
    expect(api('dist')).toBe(DEPLOY_FOLDER);
    expect([api('hooks', 'prepackage', 'posix', 'run'), api('hooks', 'prepackage', 'windows', 'run')]).toEqual([
      'npm run deploy-package',
      'npm run deploy-package',
    ]);
    expect(apiBicep).toMatch(/'azd-service-name': 'api'/);
  });

  describe('the preprovision hook that makes SESSION_SIGNING_KEY', () => {
    const hook = yamlValue(readAzureYaml(ROOT), 'hooks', 'preprovision', 'posix', 'run')!;

    /** Runs the hook with an `azd` on PATH that records what it is asked to set. */
    function runHook(env: Record<string, string>): string[] {
      const bin = mkdtempSync(join(tmpdir(), 'azd-'));
      const log = join(bin, 'calls');
      writeFileSync(join(bin, 'azd'), `#!/bin/sh\nprintf '%s\\0' "$@" >> '${log}'\n`, { mode: 0o755 });
      execFileSync('sh', ['-c', hook], { env: { PATH: `${bin}:${process.env.PATH}`, ...env } });
      const calls = existsSync(log) ? readFileSync(log, 'utf8').split('\0').filter(Boolean) : [];
      rmSync(bin, { recursive: true, force: true });
      return calls;
    }

    it('makes a key the app accepts when the environment has none', () => {
      const calls = runHook({});
      expect(calls.slice(0, 3)).toEqual(['env', 'set', 'SESSION_SIGNING_KEY']);
      const key = calls[3];
      expect(Buffer.from(key, 'base64').length).toBe(48);
      expect(() => parseSettings({ ...SETTINGS_IN_AZURE, SESSION_SIGNING_KEY: key })).not.toThrow();
      expect(runHook({})[3]).not.toBe(key);
    });

    it('keeps the key the environment has', () => {
      expect(runHook({ SESSION_SIGNING_KEY: SETTINGS_IN_AZURE.SESSION_SIGNING_KEY })).toEqual([]);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Core Tools: local.settings.example.json
// ---------------------------------------------------------------------------------------------------------

describe('local.settings.example.json, for func start', () => {
  const example = JSON.parse(read(join(ROOT, 'local.settings.example.json'))) as {
    IsEncrypted: boolean;
    Values: Record<string, unknown>;
    Host: { CORS: string };
  };
  /** The Cosmos DB emulator's published key: the same on every machine, so no secret. */
  const EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';
  const CORE_TOOLS_SETTINGS = ['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage'];

  it('names every setting the app reads, and nothing else but what Core Tools needs', () => {
    const names = Object.keys(example.Values);
    expect(SETTING_NAMES.filter((name) => !names.includes(name))).toEqual([]);
    expect(names.filter((name) => !(SETTING_NAMES as string[]).includes(name) && !CORE_TOOLS_SETTINGS.includes(name))).toEqual([]);
    expect(example.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(Object.values(example.Values).every((value) => typeof value === 'string')).toBe(true);
  });

  it('holds no secret, only placeholders and the emulator’s published key', () => {
    expect(example.IsEncrypted).toBe(false);
    expect(example.Values.COSMOS_KEY).toBe(EMULATOR_KEY);
    expect(example.Values.COMMUNICATION_SERVICES_CONNECTION_STRING).toBe('');
    expect(example.Values.SESSION_SIGNING_KEY).toMatch(/^<.*>$/);
  });

  it('is a configuration the app accepts once its placeholders are filled in, with CORS for the frontend', () => {
    const filled = Object.fromEntries(
      Object.entries(example.Values as Record<string, string>).map(([name, value]) => [
        name,
        name === 'SESSION_SIGNING_KEY' ? SETTINGS_IN_AZURE.SESSION_SIGNING_KEY : value.replace(/<[^>]*>/g, 'example.com'),
      ]),
    );
    expect(() => parseSettings(filled)).not.toThrow();
    expect(example.Host.CORS).toBe(example.Values.PUBLIC_BASE_URL);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The deployed package
// ---------------------------------------------------------------------------------------------------------

describe('the deployed package (.funcignore)', () => {
  const patterns = read(join(ROOT, '.funcignore'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  /** Whether a pattern leaves `path` out: the path itself, or a folder it is in. */
  const excluded = (path: string): boolean =>
    patterns.some((pattern) => pattern === `/${path}` || (pattern.endsWith('/') && `/${path}/`.startsWith(pattern)));

  /** What a fresh clone holds at the top, plus what `npm ci` and the build add. */
  function topLevelEntries(): string[] {
    let files: string[];
    try {
      files = execSync('git ls-files --cached --others --exclude-standard', { cwd: ROOT, encoding: 'utf8' }).split('\n');
    } catch {
      files = readdirSync(ROOT).filter((name) => !['node_modules', 'dist', '.git', 'coverage'].includes(name));
    }
    return [...new Set([...files.filter(Boolean).map((file) => file.split('/')[0]), 'node_modules', 'dist', '.git'])];
  }

  it('uses only patterns anchored at the root, which azd and Core Tools read alike', () => {
    expect(patterns.filter((pattern) => !pattern.startsWith('/'))).toEqual([]);
  });

  it('keeps host.json, package.json, dist and node_modules and leaves out every other top-level entry', () => {
    const kept = topLevelEntries().filter((name) => !excluded(name));
    expect(kept.sort()).toEqual(['dist', 'host.json', 'node_modules', 'package.json']);
  });

  it('keeps the bundle package.json’s main names, and none of the compiled sources or the compiler’s state beside it', () => {
    const tsconfig = JSON.parse(read(join(ROOT, 'tsconfig.json'))) as { include: string[]; compilerOptions: { tsBuildInfoFile?: string } };
    expect(tsconfig.include.filter((folder) => !excluded(`dist/${folder}`))).toEqual([]);
    const buildInfo = tsconfig.compilerOptions.tsBuildInfoFile;
    if (buildInfo !== undefined) expect(excluded(buildInfo)).toBe(true);
    const { main } = JSON.parse(read(join(ROOT, 'package.json'))) as { main: string };
    expect(main).toBe('dist/bundle/functions.js');
    expect(excluded('dist/bundle')).toBe(false);
  });

  it('finds the built code where package.json says, when it has been built', () => {
    if (!existsSync(join(ROOT, 'dist', 'bundle'))) return;
    expect(existsSync(join(ROOT, 'dist', 'bundle', 'functions.js'))).toBe(true);
  });
});
