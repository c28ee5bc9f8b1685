import { z } from 'zod';

export const PERSONAL_MICROSOFT_ACCOUNT_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How a Microsoft Entra access token names the API it is for (its `aud`): an App ID URI (api://..., https://...) or the API's application (client) ID. */
const appIdUriOrGuid = z
  .string()
  .refine((value) => GUID.test(value) || /^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(value), 'must be an App ID URI (api://...) or an application ID');

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** https anywhere; http only on loopback, where the stand-ins live. */
const serviceUrl = z
  .url({ protocol: /^https?$/, error: 'must be an https:// URL' })
  .refine((value) => {
    // z.url already named a value that is no http(s) URL (and new URL() would throw on it): only http:// is left to check.
    const url = URL.canParse(value) ? new URL(value) : undefined;
    return url?.protocol !== 'http:' || isLoopback(url.hostname);
  }, 'must use https:// (http:// is accepted only on loopback)')
  .transform((value) => value.replace(/\/+$/, ''));

const connectionString = z
  .string()
  .regex(/^endpoint=[^;]+;accesskey=[^;]+;?$/i, 'must look like endpoint=https://...;accesskey=...')
  .refine((value) => serviceUrl.safeParse(/endpoint=([^;]+)/i.exec(value)?.[1]).success,
    'its endpoint must use https:// (http:// is accepted only on loopback)');

/**
 * A real signing key: base64 (or base64url) of at least 32 random bytes, as `openssl rand -base64 48` makes.
 * When App Service cannot resolve a Key Vault reference (a role still propagating, a typo) it passes the
 * reference text itself, which is long, public in shape and must never sign a session. Messages never repeat
 * the value.
 */
const signingKey = z.string().superRefine((value, context) => {
  const fail = (message: string) => context.addIssue({ code: 'custom', message });
  if (/^@Microsoft\.KeyVault\(/i.test(value.trim())) {
    return fail(
      'is a Key Vault reference the platform could not resolve: check that the app\'s identity may read the secret (Key Vault Secrets User) and that the secret exists',
    );
  }
  const howTo = 'must be base64 of at least 32 random bytes (for example `openssl rand -base64 48`)';
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return fail(howTo);
  const key = Buffer.from(value, 'base64');
  if (key.length < 32) return fail(howTo);
  // 32 random bytes show about 30 different values; a repeated pattern or a padded phrase shows few.
  if (new Set(key).size < 16) return fail(`${howTo}, not a pattern`);
});

const settingsShape = z.object({
  COSMOS_ENDPOINT: serviceUrl,
  COSMOS_KEY: z.string().min(1).optional(),
  COSMOS_DATABASE: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a Cosmos DB database name'),
  COMMUNICATION_SERVICES_CONNECTION_STRING: connectionString.optional(),
  COMMUNICATION_SERVICES_ENDPOINT: serviceUrl.optional(),
  EMAIL_SENDER_ADDRESS: z.email(),
  MICROSOFT_CLIENT_ID: z.string().min(1),
  MICROSOFT_LOGIN_HOST: serviceUrl.default('https://login.microsoftonline.com'),
  SESSION_SIGNING_KEY: signingKey,
  PUBLIC_BASE_URL: serviceUrl,
  ACCOUNT_DELETION_GRACE_PERIOD_HOURS: z.coerce.number().int().min(0).max(8760).default(24),
  SITE_ADMINS: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((name) => name.trim()).filter(Boolean)),
  WORK_ACCOUNT_MFA: z.enum(['tenant', 'verified'], { error: "must be 'tenant' or 'verified'" }).default('tenant'),
  // An App ID URI (api://..., https://...) or the API's application (client) ID, as the token's aud shows it.
  MICROSOFT_MFA_API_AUDIENCE: appIdUriOrGuid.optional(),
  // The `aud` every GitHub Actions and GitLab CI/CD OIDC token exchanged at POST /api/v2/token must carry: what a
  // workflow names as NuGet/login's `audience`, a GitLab job in `id_tokens` (NuGet.org's is https://www.nuget.org).
  // Any string GitHub can put in a token: no white space or control characters. Unset: PUBLIC_BASE_URL, so a
  // deployment that does not use trusted publishing sets nothing.
  TRUSTED_PUBLISHING_AUDIENCE: z
    .string()
    .max(512)
    .regex(/^[^\s\u0000-\u001f\u007f]+$/, 'must be the audience GitHub Actions OIDC tokens are asked for, without white space (for example https://gallery.example)')
    .optional(),
  // The token's `iss`; its keys are served at {issuer}/.well-known/jwks.
  GITHUB_OIDC_ISSUER: serviceUrl.default('https://token.actions.githubusercontent.com'),
  // The `aud` values an app-only Microsoft Entra access token exchanged at POST /api/v2/token (provider `entra`)
  // may carry, comma-separated: the gallery API registration's App ID URI, which v1.0 tokens carry as
  // `az account get-access-token --resource` asked for it, and its application (client) ID, which v2.0 tokens
  // carry. Unset: that provider is off.
  TRUSTED_PUBLISHING_ENTRA_AUDIENCE: z
    .string()
    .transform((value) => value.split(',').map((audience) => audience.trim()).filter(Boolean))
    .pipe(z.array(appIdUriOrGuid).min(1, "must list the gallery API's App ID URI and application ID, comma-separated"))
    .optional(),
  // The `iss` of the GitLab CI/CD ID tokens the token exchange takes: GitLab.com, or a self-managed instance's
  // URL. Its keys are found by OpenID discovery ({issuer}/.well-known/openid-configuration, its jwks_uri).
  GITLAB_OIDC_ISSUER: serviceUrl.default('https://gitlab.com'),
  // RFC 9224's bootstrap file for domain names: which RDAP server answers for each top-level domain. The timer
  // checkEmailDomains reads it (lib/shared/rdap.ts) to ask whether the domains of confirmed addresses lapsed.
  RDAP_BOOTSTRAP_URL: serviceUrl.default('https://data.iana.org/rdap/dns.json'),
});

const settingsSchema = settingsShape
  .refine(
    (s) => Boolean(s.COMMUNICATION_SERVICES_CONNECTION_STRING) !== Boolean(s.COMMUNICATION_SERVICES_ENDPOINT),
    {
      path: ['COMMUNICATION_SERVICES_CONNECTION_STRING'],
      message: 'or COMMUNICATION_SERVICES_ENDPOINT must be set: exactly one of the two',
      // Also when other settings are wrong, so one start-up names every problem (zod skips it by default).
      when: (payload) => typeof payload.value === 'object' && payload.value !== null,
    },
  )
  .refine((s) => s.WORK_ACCOUNT_MFA !== 'verified' || Boolean(s.MICROSOFT_MFA_API_AUDIENCE), {
    path: ['MICROSOFT_MFA_API_AUDIENCE'],
    message: 'must be set when WORK_ACCOUNT_MFA is verified: the audience of the access token that shows multifactor sign-in',
    when: (payload) => typeof payload.value === 'object' && payload.value !== null,
  })
  .transform((s) => ({ ...s, TRUSTED_PUBLISHING_AUDIENCE: s.TRUSTED_PUBLISHING_AUDIENCE ?? s.PUBLIC_BASE_URL }));

export type Settings = z.output<typeof settingsSchema>;

/** Every setting the code reads; test/infra.test.ts holds the Function App settings in infra/ to this list. */
export const SETTING_NAMES = Object.keys(settingsShape.shape) as (keyof Settings)[];

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/** Reads and checks every setting; the message names each one that is missing or malformed. */
export function parseSettings(env: NodeJS.ProcessEnv): Settings {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = settingsSchema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'settings');
    return issue.code === 'invalid_type' && present[name] === undefined
      ? `${name} is not set`
      : `${name} ${issue.message.replace(/^Invalid input: /, '')}`;
  });
  throw new ConfigurationError(`The service cannot start: ${problems.join('; ')}.`);
}

let cached: Settings | undefined;

export function settings(): Settings {
  cached ??= parseSettings(process.env);
  return cached;
}
