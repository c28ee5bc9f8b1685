import type * as http from 'node:http';

/** A development stand-in for a CI system's token issuer (GitHub Actions', GitLab's), as `npm start` serves it. */
export interface DevelopmentIssuer {
  /** Serves the issuer's documents (discovery, key set) at the root of its own origin. */
  handle: http.RequestListener;
  /** The URL it is served under: the issuer. Call before serving. */
  setIssuer(url: string): void;
  /** A POST naming the job a script stands for: the token that job would get. */
  mintForScripts: http.RequestListener;
}
