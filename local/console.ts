/**
 * The development console at http://localhost:7071/: a page of plain HTML and JavaScript that signs in with the
 * real @azure/msal-browser against the development identity (or Microsoft, when MICROSOFT_CLIENT_ID names a
 * real app registration) and calls the API as a frontend would. Served by the local host outside production
 * only; it is an example for the frontend team as much as a tool.
 */
import { existsSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Settings } from '../lib/shared/settings';
import type { DevRoute } from './host';

/** The page's files live beside the sources (local/console/), whether this runs from source or from dist/. */
function consoleDirectory(): string {
  for (let directory = __dirname; ; directory = path.dirname(directory)) {
    const candidate = path.join(directory, 'local', 'console');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
    if (directory === path.dirname(directory)) throw new Error(`local/console not found above ${__dirname}`);
  }
}

/** MSAL's browser build (a UMD script that defines `msal`), from the installed package. */
const msalBrowserScript = () => path.join(path.dirname(require.resolve('@azure/msal-browser')), 'msal-browser.min.js');

export function developmentConsoleRoutes(settings: Settings): DevRoute[] {
  const directory = consoleDirectory();
  const loginHost = new URL(settings.MICROSOFT_LOGIN_HOST).origin;
  const files: Record<string, { file: () => string; type: string }> = {
    '/': { file: () => path.join(directory, 'index.html'), type: 'text/html; charset=utf-8' },
    '/console/console.js': { file: () => path.join(directory, 'console.js'), type: 'text/javascript; charset=utf-8' },
    '/console/msal-browser.min.js': { file: msalBrowserScript, type: 'text/javascript; charset=utf-8' },
  };
  // What the page needs to configure MSAL: the settings a frontend would be built with.
  const config = JSON.stringify({
    clientId: settings.MICROSOFT_CLIENT_ID,
    loginHost: settings.MICROSOFT_LOGIN_HOST,
    workAccountMfa: settings.WORK_ACCOUNT_MFA,
    mfaApiAudience: settings.MICROSOFT_MFA_API_AUDIENCE ?? null,
  });
  const headers = {
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    // MSAL talks to the login host (discovery, token endpoint) and may frame it for silent renewal.
    'Content-Security-Policy': `default-src 'self'; connect-src 'self' ${loginHost}; frame-src ${loginHost}; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'`,
  };

  const serve: http.RequestListener = (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://console.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    } else if (pathname === '/console/config.json') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }).end(config);
    } else if (files[pathname]) {
      res.writeHead(200, { ...headers, 'Content-Type': files[pathname].type }).end(readFileSync(files[pathname].file()));
    } else {
      res.writeHead(404, headers).end();
    }
  };
  return [
    { prefix: '/', handler: serve },
    { prefix: '/console', handler: serve },
  ];
}
