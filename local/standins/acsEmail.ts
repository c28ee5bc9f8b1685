import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import { asyncListener, isRecord, parseJson, readBody, requestTarget, sendJson } from './http';

export interface DeliveredEmail {
  operationId: string;
  from: string;
  to: string[];
  subject: string;
  plainText: string;
  html: string;
  /** Every http(s) URL in `plainText`, so tests can follow the links a person would click. */
  links: string[];
  receivedAt: Date;
}

export interface AcsEmailStandInOptions {
  /** Base64, exactly as it appears in the connection string's `accesskey=`. */
  accessKey: string;
  onDelivered?: (email: DeliveredEmail) => void;
}

export interface AcsEmailStandIn {
  handle: http.RequestListener;
  readonly delivered: DeliveredEmail[];
  /** Every send POST received, including the ones refused or failed on purpose. */
  readonly sendAttempts: number;
  /** The next `count` sends fail with `status` and deliver nothing. */
  failNextSends(count: number, status?: number): void;
  /** While down, every send fails with 503. */
  setOutage(down: boolean): void;
}

// Matched at the end of the path so the stand-in also works mounted under another server's prefix.
const SEND_PATH = /^(.*)\/emails:send$/;
const OPERATION_PATH = /\/emails\/operations\/([^/]+)$/;

const SIGNED_HEADERS = 'x-ms-date;host;x-ms-content-sha256';
const AUTHORIZATION = /^HMAC-SHA256 SignedHeaders=([^&]*)&Signature=(.+)$/;
/** Beyond this skew a signed request is refused, which also bounds how long a captured one can be replayed. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** Trailing punctuation is almost always the sentence around a link, not part of it. */
const LINK = /https?:\/\/[^\s<>"']+/g;
const TRAILING_PUNCTUATION = /[.,;:!?)\]]+$/;

type ParsedMessage = Omit<DeliveredEmail, 'operationId' | 'links' | 'receivedAt'>;

/** Loopback double of the Azure Communication Services Email REST API, strict enough for the real `EmailClient`. */
export function createAcsEmailStandIn(options: AcsEmailStandInOptions): AcsEmailStandIn {
  const key = Buffer.from(options.accessKey, 'base64');
  const delivered: DeliveredEmail[] = [];
  const acceptedOperations = new Set<string>();
  let sendAttempts = 0;
  let failuresPending = 0;
  let failureStatus = 503;
  let down = false;

  /** The status this send must fail with on purpose, if any; uses up one failNextSends failure. */
  function injectedFailure(): number | undefined {
    if (down) return 503;
    if (failuresPending === 0) return undefined;
    failuresPending--;
    return failureStatus;
  }

  function send(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, target: URL, prefix: string): void {
    const failure = injectedFailure();
    if (failure !== undefined) {
      sendError(res, failure, 'ServiceUnavailable', 'The stand-in was told to fail this send.');
      return;
    }
    const message = parseMessage(parseJson(body));
    if (typeof message === 'string') {
      sendError(res, 400, 'BadRequest', message);
      return;
    }
    const operationId = headerValue(req, 'operation-id') ?? crypto.randomUUID();
    // Accepting a repeated Operation-Id without delivering again is what lets the
    // service retry a send safely: an email ACS already accepted is never sent twice.
    if (!acceptedOperations.has(operationId)) {
      acceptedOperations.add(operationId);
      const email: DeliveredEmail = { operationId, ...message, links: linksIn(message.plainText), receivedAt: new Date() };
      delivered.push(email);
      options.onDelivered?.(email);
    }
    // The poller follows Operation-Location once inside beginSend; that poll already answers
    // Succeeded, so pollUntilDone() resolves without waiting. Retry-After mirrors real ACS.
    sendJson(res, 202, { id: operationId, status: 'Running' }, {
      'operation-location': `http://${req.headers.host}${prefix}/emails/operations/${operationId}${target.search}`,
      'retry-after': '0',
    });
  }

  function getOperation(res: http.ServerResponse, operationId: string): void {
    if (acceptedOperations.has(operationId)) sendJson(res, 200, { id: operationId, status: 'Succeeded' });
    else sendError(res, 404, 'NotFound', `No email operation ${operationId}.`);
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = requestTarget(req);
    const sendMatch = req.method === 'POST' ? SEND_PATH.exec(target.pathname) : null;
    const operationMatch = req.method === 'GET' ? OPERATION_PATH.exec(target.pathname) : null;
    if (sendMatch) sendAttempts++;
    if (!sendMatch && !operationMatch) {
      sendError(res, 404, 'NotFound', `No route for ${req.method} ${target.pathname}.`);
      return;
    }
    const denial = authenticationProblem(req, body, key);
    if (denial) sendError(res, 401, 'Denied', denial);
    else if (sendMatch) send(req, res, body, target, sendMatch[1]);
    else if (operationMatch) getOperation(res, operationMatch[1]);
  }

  return {
    handle: asyncListener(serve),
    delivered,
    get sendAttempts() {
      return sendAttempts;
    },
    failNextSends(count: number, status = 503) {
      failuresPending = count;
      failureStatus = status;
    },
    setOutage(isDown: boolean) {
      down = isDown;
    },
  };
}

/** Checks the HMAC scheme of `@azure/communication-common`'s access-key policy; returns why it fails, if it does. */
function authenticationProblem(req: http.IncomingMessage, body: Buffer, key: Buffer): string | undefined {
  const date = headerValue(req, 'x-ms-date');
  const contentHash = headerValue(req, 'x-ms-content-sha256');
  const host = headerValue(req, 'host');
  const authorization = AUTHORIZATION.exec(headerValue(req, 'authorization') ?? '');
  if (!date || !contentHash || !host || !authorization) {
    return 'Requests must carry x-ms-date, x-ms-content-sha256, host and an HMAC-SHA256 Authorization header.';
  }
  const [, signedHeaders, signature] = authorization;
  if (signedHeaders !== SIGNED_HEADERS) return `SignedHeaders must be ${SIGNED_HEADERS}.`;
  const signedAt = Date.parse(date);
  if (Number.isNaN(signedAt) || Math.abs(Date.now() - signedAt) > MAX_CLOCK_SKEW_MS) {
    return 'x-ms-date is missing, malformed or more than 15 minutes from now.';
  }
  if (contentHash !== crypto.createHash('sha256').update(body).digest('base64')) {
    return 'x-ms-content-sha256 does not match the body.';
  }
  const stringToSign = `${req.method}\n${req.url}\n${date};${host};${contentHash}`;
  const expected = Buffer.from(crypto.createHmac('sha256', key).update(stringToSign).digest('base64'));
  const actual = Buffer.from(signature);
  if (actual.length !== expected.length || !crypto.timingSafeEqual(actual, expected)) {
    return 'The request signature does not match.';
  }
  return undefined;
}

/** The fields of an ACS email message the stand-in records, or why the body is not one. */
function parseMessage(body: unknown): ParsedMessage | string {
  if (!isRecord(body)) return 'The body must be a JSON email message.';
  const { senderAddress, recipients, content } = body;
  if (typeof senderAddress !== 'string' || senderAddress === '') return 'senderAddress is required.';
  const to: unknown[] = isRecord(recipients) && Array.isArray(recipients.to) ? recipients.to : [];
  const addresses = to.flatMap((recipient) =>
    isRecord(recipient) && typeof recipient.address === 'string' && recipient.address !== '' ? [recipient.address] : [],
  );
  if (to.length === 0 || addresses.length !== to.length) {
    return 'recipients.to must list at least one recipient, each with an address.';
  }
  if (!isRecord(content)) return 'content is required.';
  const { subject, plainText, html } = content;
  if (typeof subject !== 'string') return 'content.subject is required.';
  if (typeof plainText !== 'string' && typeof html !== 'string') return 'content needs plainText or html.';
  return {
    from: senderAddress,
    to: addresses,
    subject,
    plainText: typeof plainText === 'string' ? plainText : '',
    html: typeof html === 'string' ? html : '',
  };
}

function linksIn(text: string): string[] {
  return Array.from(text.matchAll(LINK), ([link]) => link.replace(TRAILING_PUNCTUATION, ''));
}

function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}
