/**
 * The development console at http://localhost:7071/: a page of plain HTML and a script in TypeScript
 * (local/console/console.ts) that signs in with the real @azure/msal-browser against the development identity (or
 * Microsoft, when MICROSOFT_CLIENT_ID names a real app registration) and calls the API through the typed client
 * (client/), as a frontend would. `npm run build` bundles the script for the browser. Served by the local host
 * outside production only; it is an example for the frontend team as much as a tool.
 */
import { existsSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Settings } from '../lib/shared/settings';
import type { DevRoute } from './host';

/** The page's script as `npm run build` bundles it (local/bundle.ts), below the project's folder. */
export const CONSOLE_SCRIPT = 'dist/console/console.js';

/** The project's folder, whose local/console/ holds the page, whether this runs from source or from dist/. */
function projectDirectory(): string {
  for (let directory = __dirname; ; directory = path.dirname(directory)) {
    if (existsSync(path.join(directory, 'local', 'console', 'index.html'))) return directory;
    if (directory === path.dirname(directory)) throw new Error(`local/console not found above ${__dirname}`);
  }
}

export function developmentConsoleRoutes(settings: Settings): DevRoute[] {
  const project = projectDirectory();
  const loginHost = new URL(settings.MICROSOFT_LOGIN_HOST).origin;
  const files: Record<string, { file: string; type: string }> = {
    '/': { file: path.join(project, 'local', 'console', 'index.html'), type: 'text/html; charset=utf-8' },
    '/console/console.js': { file: path.join(project, CONSOLE_SCRIPT), type: 'text/javascript; charset=utf-8' },
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
    } else if (files[pathname] && !existsSync(files[pathname].file)) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end(`${files[pathname].file} is not built: run npm run build.`);
    } else if (files[pathname]) {
      res.writeHead(200, { ...headers, 'Content-Type': files[pathname].type }).end(readFileSync(files[pathname].file));
    } else {
      res.writeHead(404, headers).end();
    }
  };
  return [
    { prefix: '/', handler: serve },
    { prefix: '/console', handler: serve },
  ];
}
