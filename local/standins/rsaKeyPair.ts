import { generateKeyPairSync, type KeyObject } from 'node:crypto';

/** The key pair an issuer signs its RS256 tokens with. */
export interface RsaKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** 2048 bits: what Microsoft, GitHub and GitLab sign with, and the least jsonwebtoken takes for RS256. */
export const newRsaKeyPair = (): RsaKeyPair => generateKeyPairSync('rsa', { modulusLength: 2048 });
