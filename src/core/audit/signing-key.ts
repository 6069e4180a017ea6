import { createPrivateKey, createPublicKey, hash, type KeyObject } from 'node:crypto';

/** An Ed25519 checkpoint-signing key pair and the id checkpoints name it by. */
export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM: what `custodia audit public-key` prints and an export header carries. */
  publicKeyPem: string;
}

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410): the seed is the private key itself.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The key pair whose private key is `seed` (32 bytes from the key store). */
export function signingKeyFromSeed(seed: Buffer): SigningKey {
  if (seed.length !== 32) {
    throw new Error(`An Ed25519 seed has 32 bytes, not ${seed.length}`);
  }
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: publicKeyId(publicKey),
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** First 16 hex digits of sha256 over the raw 32-byte public key: short, and anyone can recompute it. */
export function publicKeyId(publicKey: KeyObject): string {
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return hash('sha256', spki.subarray(spki.length - 32), 'hex').slice(0, 16);
}

/** Parses a PEM public key; throws when it is not an Ed25519 key. */
export function parsePublicKeyPem(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`not an Ed25519 public key (${key.asymmetricKeyType ?? 'unknown type'})`);
  }
  return key;
}
