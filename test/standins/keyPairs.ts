import { createPrivateKey, createPublicKey } from 'node:crypto';
import { newRsaKeyPair, type RsaKeyPair } from '../../local/standins/rsaKeyPair';
import POOL from '../fixtures/rsaKeys.json';

let handedOut = 0;

/**
 * A signing key pair no other stand-in of this test file holds: the next of a pool generated once for the tests
 * (test/fixtures/rsaKeys.json, keys that sign nothing outside them), and past its end a new one. Generating a
 * 2048-bit RSA key costs some 300 ms of CPU, and every test file's stand-ins hold six or more.
 */
export function testKeyPair(): RsaKeyPair {
  const pem = POOL[handedOut];
  handedOut += 1;
  if (pem === undefined) return newRsaKeyPair();
  const privateKey = createPrivateKey(pem);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
