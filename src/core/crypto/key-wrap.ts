import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { IntegrityError } from '../shared/errors.ts';

/**
 * Wraps a 32-byte key under another with AES-256-GCM. The AAD binds the wrapped key to its purpose
 * and owner (e.g. "tenant-kek:<tenantId>") so a wrapped key copied to another row will not unwrap.
 * Output: base64 of nonce | ciphertext | tag.
 */
export function wrapKey(wrappingKey: Buffer, key: Buffer, aad: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', wrappingKey, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(key), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

/** Reverses wrapKey; throws IntegrityError when the wrapping key or the AAD is wrong. */
export function unwrapKey(wrappingKey: Buffer, wrapped: string, aad: string): Buffer {
  const raw = Buffer.from(wrapped, 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', wrappingKey, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
  } catch {
    throw new IntegrityError('A wrapped key could not be unwrapped', { aad: aad.split(':')[0] });
  }
}

export function newKey(): Buffer {
  return randomBytes(32);
}
