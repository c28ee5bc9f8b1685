import type * as http from 'node:http';

/** The part of a request target the stand-ins route on; the base only satisfies `URL`. */
export function requestTarget(req: http.IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://stand-in.invalid');
}

export async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/**
 * Adapts an async handler to `http.RequestListener`. A failure answers 500 rather than
 * becoming an unhandled rejection that leaves the client waiting forever.
 */
export function asyncListener(
  serve: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
): http.RequestListener {
  return (req, res) => {
    serve(req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Absent, or a non-empty string: an optional text field of a script's request. */
export const isOptionalText = (value: unknown): value is string | undefined => value === undefined || (typeof value === 'string' && value !== '');

/** JSON.parse that reports malformed input as `undefined` instead of throwing. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
