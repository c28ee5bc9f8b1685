export { createGalleryClient, type GalleryClient, type GalleryClientOptions } from './client.js';
export { isGalleryProblem, type GalleryProblem, type OperationId, type ProblemCode, type ProblemOf } from './problems.js';
export type {
  Account,
  MicrosoftSignIn,
  MicrosoftSignInError,
  MicrosoftTokens,
  Registered,
  RegistrationRequired,
  Result,
  SignedIn,
  SignInResult,
} from './signIn.js';
export { UnexpectedResponseError } from './unexpectedResponse.js';
export type { components, operations, paths } from './schema.js';
