import { createSecretKey, type KeyObject } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import type { Jwt, JwtPayload } from 'jsonwebtoken';
import { secondsSinceEpoch } from '../shared/clock';
import { jwt } from '../shared/jwt';
import { Problem } from '../shared/problems';
import { readAccount, type AccountDocument } from './account';
import { isSiteAdminName } from './names';
import { settings } from '../shared/settings';

const ISSUER = 'urn:gallery-accounts';
const AUDIENCE = 'urn:gallery-accounts:api';
/** Marks our session tokens apart from any other JWT signed with the same algorithm. */
const TOKEN_TYPE = 'session+jwt';
const SESSION_LIFETIME_SECONDS = 60 * 60;

/**
 * `full` for a Microsoft sign-in; `recovery` for a password sign-in, which only lets the person link a
 * Microsoft account (password sign-in is discontinued once one is linked).
 */
export type SessionScope = 'full' | 'recovery';

export interface Caller {
  account: AccountDocument;
  scope: SessionScope;
}

let signingKey: { setting: string; key: KeyObject } | undefined;

/**
 * SESSION_SIGNING_KEY as a KeyObject. Given a string, jsonwebtoken first tries to read it as a PEM key and only
 * then uses it as an HMAC secret, which costs more than the HMAC itself on every token signed or checked
 * (auth0/node-jsonwebtoken #966, #1046). The secret is the same bytes (the string's UTF-8), so tokens do not change.
 */
function sessionKey(): KeyObject {
  const setting = settings().SESSION_SIGNING_KEY;
  if (signingKey?.setting !== setting) signingKey = { setting, key: createSecretKey(Buffer.from(setting, 'utf8')) };
  return signingKey.key;
}

export function issueSessionToken(account: Pick<AccountDocument, 'id' | 'sessionVersion'>, scope: SessionScope = 'full'): string {
  return jwt.sign({ sv: account.sessionVersion, scp: scope, iat: secondsSinceEpoch() }, sessionKey(), {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: TOKEN_TYPE },
    subject: account.id,
    issuer: ISSUER,
    audience: AUDIENCE,
    expiresIn: SESSION_LIFETIME_SECONDS,
  });
}

const signInAgain = (detail: string) => new Problem('unauthorized', detail, { 'WWW-Authenticate': 'Bearer' });

function sessionClaims(token: string): { accountId: string; sessionVersion: number; scope: SessionScope } {
  let verified: Jwt;
  try {
    verified = jwt.verify(token, sessionKey(), {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      clockTimestamp: secondsSinceEpoch(),
      complete: true,
    });
  } catch {
    throw signInAgain('Your session is not valid or has expired. Sign in again.');
  }
  const payload = verified.payload as JwtPayload;
  if (
    verified.header.typ !== TOKEN_TYPE ||
    typeof payload.sub !== 'string' ||
    typeof payload.sv !== 'number' ||
    (payload.scp !== 'full' && payload.scp !== 'recovery')
  ) {
    throw signInAgain('Your session is not valid or has expired. Sign in again.');
  }
  return { accountId: payload.sub, sessionVersion: payload.sv, scope: payload.scp };
}

/**
 * The account behind the request's bearer token: one point read, which also tells whether the session was
 * revoked since it was issued. Only the Authorization header counts; tokens in URLs end up in logs.
 */
async function sessionOf(request: HttpRequest): Promise<Caller> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
  if (!match) throw signInAgain('Sign in to continue: send your session token as a Bearer token.');
  const { accountId, sessionVersion, scope } = sessionClaims(match[1]);
  const account = await readAccount(accountId);
  if (!account || account.kind !== 'user' || account.deletedAt || account.sessionVersion !== sessionVersion) {
    throw signInAgain('Your session has ended. Sign in again.');
  }
  return { account, scope };
}

/** What a session of an account support has locked answers, whatever it asks. */
export const lockedAccountSessionEnded = () =>
  signInAgain('Your session has ended: this account is locked by support. Contact support to find out why.');

/** The signed-in caller; an account support has locked answers 401 at once, on every instance. */
export async function authenticate(request: HttpRequest, allowRecovery: boolean): Promise<Caller> {
  const caller = await sessionOf(request);
  if (caller.account.lock) throw lockedAccountSessionEnded();
  if (caller.scope === 'recovery' && !allowRecovery) {
    throw new Problem(
      'microsoft_account_required',
      'You signed in with a password, which only lets you link a Microsoft account. Link one from the account settings page, then sign in with it.',
    );
  }
  return caller;
}

/** Named in SITE_ADMINS (case-insensitively), by the username on the account document read on this call. */
export const isSiteAdmin = (account: AccountDocument): boolean => isSiteAdminName(account.username);

/**
 * A site admin acting for support: a full session of an account named in SITE_ADMINS that is not locked.
 * Anyone else with a session, also a site admin's recovery session or a locked site admin, gets 403
 * `site_admin_required` before anything else of the request is looked at; without a session, 401.
 */
export async function authenticateSiteAdmin(request: HttpRequest): Promise<Caller> {
  const caller = await sessionOf(request);
  if (caller.scope !== 'full' || caller.account.lock || !isSiteAdmin(caller.account)) {
    throw new Problem('site_admin_required', 'Only site admins can do this.');
  }
  return caller;
}
