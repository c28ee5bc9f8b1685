import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Problem } from '../../shared/problems';

/**
 * OWASP's argon2id row: 19 MiB of memory, two passes, one lane. The encoded hash (PHC string format) carries
 * its own salt and parameters, so they can be raised later without breaking stored hashes.
 */
const PARAMETERS = { memorySize: 19 * 1024, iterations: 2, parallelism: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const MIN_PASSWORD_LENGTH = 8;
/** Long passphrases are welcome; the bound only keeps hashing cheap to ask for. */
export const MAX_PASSWORD_LENGTH = 1024;

interface Argon2Parameters {
  memorySize: number;
  iterations: number;
  parallelism: number;
}

/**
 * argon2id from `hash-wasm` (WebAssembly: no compiler, no platform binary), computed in a worker thread: one
 * hash holds its thread about 100 ms, which on the event loop would stall every other request of the instance.
 * The worker's code is plain JavaScript given here, so it runs the same from the sources and from dist/.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { argon2id } = require(workerData.hashWasm);
parentPort.on('message', ({ id, options }) => {
  argon2id({ ...options, outputType: 'binary' }).then(
    (hash) => parentPort.postMessage({ id, hash }),
    (error) => parentPort.postMessage({ id, error: String((error && error.message) || error) }),
  );
});`;

type Pending = { resolve: (hash: Buffer) => void; reject: (error: Error) => void };
let worker: import('node:worker_threads').Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 0;

function hasher(): import('node:worker_threads').Worker {
  if (worker) return worker;
  const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
  const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { hashWasm: require.resolve('hash-wasm') } });
  started.on('message', ({ id, hash, error }: { id: number; hash?: Uint8Array; error?: string }) => {
    const waiting = pending.get(id);
    pending.delete(id);
    // An idle worker must not keep the process alive.
    if (pending.size === 0) started.unref();
    if (error !== undefined || !hash) waiting?.reject(new Error(`argon2id failed: ${error}`));
    else waiting?.resolve(Buffer.from(hash));
  });
  const fail = (error: Error) => {
    worker = undefined;
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`the password hashing thread stopped (${code})`)));
  worker = started;
  return started;
}

function argon2id(password: string, salt: Buffer, parameters: Argon2Parameters, hashLength: number): Promise<Buffer> {
  const thread = hasher();
  const id = nextId++;
  thread.ref();
  return new Promise<Buffer>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    thread.postMessage({ id, options: { password, salt, hashLength, ...parameters } });
  });
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

/** `$argon2id$v=19$m=…,t=…,p=…$salt$hash`, the parameters in any order (the argon2 package wrote m, p, t). */
const ENCODED = /^\$argon2id\$v=19\$((?:[mtp]=\d{1,10},){2}[mtp]=\d{1,10})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function decode(encoded: string): { parameters: Argon2Parameters; salt: Buffer; hash: Buffer } | undefined {
  const match = ENCODED.exec(encoded);
  if (!match) return undefined;
  const values = Object.fromEntries(match[1].split(',').map((pair) => pair.split('=')));
  if (!values.m || !values.t || !values.p) return undefined;
  return {
    parameters: { memorySize: Number(values.m), iterations: Number(values.t), parallelism: Number(values.p) },
    salt: Buffer.from(match[2], 'base64'),
    hash: Buffer.from(match[3], 'base64'),
  };
}

let commonPasswords: Set<string> | undefined;
/** About 49,000 of the most common passwords, most frequent first, from the zxcvbn-ts project's list. */
function isCommon(password: string): boolean {
  if (!commonPasswords) {
    const { dictionary } = require('@zxcvbn-ts/language-common') as { dictionary: Record<string, string[]> };
    commonPasswords = new Set(dictionary['passwords-common']);
  }
  return commonPasswords.has(password.toLowerCase());
}

/**
 * NIST SP 800-63B: at least 8 characters, any Unicode, no composition rules; refused when it is a common
 * password or the account's own username or email address.
 */
export function assertAcceptablePassword(password: string, account: { username: string; emailAddress: string }): void {
  const normalised = password.normalize('NFKC');
  const weak = (why: string) => new Problem('weak_password', `Choose another password: ${why}`);
  if ([...normalised].length < MIN_PASSWORD_LENGTH) throw weak(`it must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  const lower = normalised.toLowerCase();
  if (lower === account.username.toLowerCase() || lower === account.emailAddress.toLowerCase()) {
    throw weak('it must not be your username or email address.');
  }
  if (isCommon(normalised)) throw weak('it is one of the most common passwords, which attackers try first.');
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await argon2id(password.normalize('NFKC'), salt, PARAMETERS, HASH_BYTES);
  const { memorySize: m, iterations: t, parallelism: p } = PARAMETERS;
  return `$argon2id$v=19$m=${m},t=${t},p=${p}$${b64(salt)}$${b64(hash)}`;
}

let decoyHash: Promise<string> | undefined;

/**
 * Checks a password in constant time: the stored hash's own parameters and salt, then a constant-time
 * comparison. Without a stored hash (an unknown user) it spends the same effort on a decoy, so an unknown
 * username answers no faster than a wrong password.
 */
export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  decoyHash ??= hashPassword('decoy password never stored');
  const stored = decode(storedHash ?? '') ?? decode(await decoyHash)!;
  const normalised = password.normalize('NFKC');
  // argon2 takes no empty password; no stored hash is of one, so it costs the same and never matches.
  const computed = await argon2id(normalised || 'empty password', stored.salt, stored.parameters, stored.hash.length);
  const matches = computed.length === stored.hash.length && timingSafeEqual(computed, stored.hash);
  return storedHash !== null && normalised !== '' && decode(storedHash) !== undefined && matches;
}
