import type { DevelopmentIssuer } from '../../local/standins/developmentIssuer';
import { listenOnLoopback, type LoopbackServer } from '../../local/standins/listen';

/**
 * Serves a development CI issuer for the tests of one describe block, as `npm start` serves it: its documents on
 * one loopback origin (the issuer's URL), its script endpoint on another.
 */
export function useDevelopmentIssuer(issuer: DevelopmentIssuer): { readonly issuer: string; readonly scripts: string } {
  let documents: LoopbackServer;
  let scripts: LoopbackServer;
  beforeAll(async () => {
    documents = await listenOnLoopback(issuer.handle);
    scripts = await listenOnLoopback(issuer.mintForScripts);
    issuer.setIssuer(documents.url);
  });
  afterAll(async () => {
    await documents.close();
    await scripts.close();
  });
  return {
    get issuer() {
      return documents.url;
    },
    get scripts() {
      return scripts.url;
    },
  };
}
