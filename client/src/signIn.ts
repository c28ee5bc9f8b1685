import type { Client } from 'openapi-fetch';
import type { ProblemOf } from './problems.js';
import type { operations, paths } from './schema.js';
import { UnexpectedResponseError } from './unexpectedResponse.js';

/** A result as every call of the client answers it: the data, or the problem the service answered instead. */
export type Result<Data, Problem> = { data: Data; error?: never } | { data?: never; error: Problem };

type SignInBody = operations['signInWithMicrosoft']['requestBody']['content']['application/json'];
type SignInAnswer = operations['signInWithMicrosoft']['responses'][200]['content']['application/json'];
type RegisterBody = operations['registerAccount']['requestBody']['content']['application/json'];

/** What a Microsoft sign-in gave the frontend: the ID token, and in `verified` mode a work account's MFA access token. */
export type MicrosoftTokens = Extract<SignInBody, { idToken: string }>;
/** What the redirect returned instead of tokens (MSAL's `errorCode` and `errorMessage`). */
export type MicrosoftSignInError = Extract<SignInBody, { error: string }>;
/** The account view, as `GET /api/me` answers it. */
export type Account = operations['getMe']['responses'][200]['content']['application/json'];
/** Signed in: keep `sessionToken` (it lives an hour) and send it with every call. */
export type SignedIn = Extract<SignInAnswer, { status: 'signed_in' }>;
/** Registered: the new account and its first session. */
export type Registered = operations['registerAccount']['responses'][201]['content']['application/json'];

/** The Microsoft account is linked to no account yet: pick a username and register, within 10 minutes of signing in. */
export type RegistrationRequired = Extract<SignInAnswer, { status: 'registration_required' }> & {
  /** `POST /api/accounts` with the tokens of this sign-in; `emailAddress` defaults to the token's (`emailAddress` here). */
  register(fields: Omit<RegisterBody, keyof MicrosoftTokens>): Promise<Result<Registered, ProblemOf<'registerAccount'>>>;
};

export type SignInResult = Result<SignedIn | RegistrationRequired, ProblemOf<'signInWithMicrosoft'>>;

/** The Microsoft sign-in every frontend goes through, on top of `POST /api/auth/microsoft` and `POST /api/accounts`. */
export interface MicrosoftSignIn {
  /** Signs in with the tokens MSAL gave: signed in, or registration required (then `register`), or a problem. */
  signInWithMicrosoft(tokens: MicrosoftTokens): Promise<SignInResult>;
  /** Reports a sign-in that failed at Microsoft: the service answers the problem that explains the way out. */
  reportSignInError(failure: MicrosoftSignInError): Promise<ProblemOf<'signInWithMicrosoft'>>;
}

export function microsoftSignIn(client: Client<paths>): MicrosoftSignIn {
  return {
    async signInWithMicrosoft(tokens) {
      const { data, error } = await client.POST('/auth/microsoft', { body: tokens });
      if (error) return { error };
      if (data.status === 'signed_in') return { data };
      const register: RegistrationRequired['register'] = async (fields) => {
        const registered = await client.POST('/accounts', { body: { ...fields, ...tokens } });
        return registered.error ? { error: registered.error } : { data: registered.data };
      };
      return { data: { ...data, register } };
    },

    async reportSignInError(failure) {
      const { error, response } = await client.POST('/auth/microsoft', { body: failure });
      if (!error) throw new UnexpectedResponseError(response);
      return error;
    },
  };
}
