/**
 * Every error the service answers, by its stable code. The frontend branches on `code`; `title` is fixed per
 * code and `detail` says what happened this time and what to do.
 */
export const PROBLEMS = {
  invalid_request: { status: 400, title: 'The request is not valid' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  length_required: { status: 411, title: 'The request body needs a Content-Length' },
  invalid_username: { status: 400, title: 'The username is not valid' },
  username_unavailable: { status: 409, title: 'The username is not available' },
  username_immutable: { status: 400, title: 'A username cannot be changed' },
  email_in_use: { status: 409, title: 'The email address is already in use' },
  invalid_token: { status: 400, title: 'The token is not valid' },
  invalid_id_token: { status: 401, title: 'The Microsoft ID token is not valid' },
  mfa_required: { status: 403, title: 'Two-factor authentication is required' },
  unmanaged_tenant: { status: 403, title: 'The work account belongs to an unmanaged directory' },
  microsoft_sign_in_failed: { status: 400, title: 'Microsoft sign-in did not complete' },
  microsoft_account_in_use: { status: 409, title: 'The Microsoft account is already linked to an account' },
  email_linked_to_another_microsoft_account: {
    status: 409,
    title: 'The email address belongs to an account linked to another Microsoft account',
  },
  password_sign_in_required: { status: 409, title: 'Sign in with your password first' },
  email_belongs_to_organization: { status: 409, title: 'The email address belongs to an organization' },
  weak_password: { status: 400, title: 'The password is too weak' },
  invalid_credentials: { status: 401, title: 'The username or password is not correct' },
  // 429 with Retry-After while repeated failed password sign-ins hold the account; 403 while support has locked it.
  account_locked: { status: 429, title: 'The account is locked', alsoAs: [403] },
  microsoft_account_required: { status: 403, title: 'Link a Microsoft account first' },
  microsoft_account_linked_elsewhere: { status: 409, title: 'The Microsoft account is linked to another account' },
  user_not_found: { status: 404, title: 'No such user' },
  unauthorized: { status: 401, title: 'Sign-in required' },
  confirmation_mismatch: { status: 400, title: 'The confirmation does not match' },
  deletion_in_progress: { status: 409, title: 'The deletion is already being processed' },
  owner_not_allowed: { status: 403, title: 'The key cannot be owned by that account' },
  invalid_api_key: { status: 401, title: 'The API key is not valid' },
  api_key_scope: { status: 403, title: 'The API key does not allow this' },
  not_an_owner: { status: 403, title: 'Not an owner of the package' },
  prefix_reserved: { status: 403, title: 'The package id prefix is reserved' },
  last_owner: { status: 409, title: 'A package must keep an owner' },
  already_owner: { status: 409, title: 'Already an owner' },
  // Also a full list of an organization's member invitations: the contract names no code for it.
  owner_limit: { status: 409, title: 'The package or organization has as many owners or invitations as it may' },
  package_version_exists: { status: 409, title: 'The package version exists already' },
  site_admin_required: { status: 403, title: 'Only site admins may do this' },
  username_in_use: { status: 409, title: 'An account holds the username' },
  site_admin_name: { status: 409, title: "A site admin's username cannot be released" },
  // The contract answers 403 when the caller's own address is unconfirmed, 400 when someone they name has one.
  email_unconfirmed: { status: 403, title: 'The email address is not confirmed yet', alsoAs: [400] },
  admin_required: { status: 403, title: 'Only an admin of the organization may do this' },
  member_is_organization: { status: 400, title: 'An organization cannot be a member' },
  already_member: { status: 409, title: 'Already a member' },
  last_admin: { status: 409, title: 'An organization must keep an admin' },
  organization_not_empty: { status: 409, title: 'The organization is not empty' },
  transform_not_allowed: { status: 409, title: 'This account cannot be transformed' },
  trusted_publishing_key: { status: 409, title: 'A key trusted publishing made cannot be changed' },
  trusted_publisher_limit: { status: 409, title: 'The account has as many trusted publishing policies as it may' },
  trusted_publishing_required: { status: 403, title: 'Only trusted publishing may publish this package' },
  not_found: { status: 404, title: 'Not found' },
  concurrent_change: { status: 409, title: 'Changed by someone else at the same moment' },
  too_many_requests: { status: 429, title: 'Too many requests' },
  identity_provider_unavailable: { status: 503, title: 'Microsoft sign-in is unavailable' },
  service_unavailable: { status: 503, title: 'The service is temporarily unavailable' },
  internal_error: { status: 500, title: 'Something went wrong on our side' },
} as const satisfies Record<string, { status: number; title: string; alsoAs?: readonly number[] }>;

export type ProblemCode = keyof typeof PROBLEMS;

/** A failure the caller can act on; thrown anywhere in the domain and answered as RFC 9457 JSON. */
export class Problem extends Error {
  readonly status: number;

  /** `status` only where the contract gives one code two statuses (`email_unconfirmed`, `account_locked`). */
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
    status?: number,
  ) {
    super(detail);
    this.name = 'Problem';
    this.status = status ?? PROBLEMS[code].status;
  }

  toJSON(): ProblemBody {
    return { type: problemType(this.code), title: PROBLEMS[this.code].title, status: this.status, detail: this.detail, code: this.code };
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
}

/** A code an operation can answer, under its usual status or the one this operation gives it. */
export type DocumentedProblem = ProblemCode | { code: ProblemCode; status: number };

export function problemType(code: ProblemCode): string {
  return `urn:gallery-accounts:problem:${code}`;
}
