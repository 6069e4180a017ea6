import { unwrapKey, wrapKey } from '../../core/crypto/key-wrap.ts';
import type { KeyService } from '../../core/crypto/key.service.ts';
import { SYSTEM_KEY_OWNER } from '../../core/crypto/key.service.ts';
import type { SecretBox } from '../../core/identity/ports.ts';

/** Seals small secrets (TOTP seeds) under the installation's 'secrets' key from the key store. */
export class KeyStoreSecretBox implements SecretBox {
  readonly #keys: KeyService;

  constructor(keys: KeyService) {
    this.#keys = keys;
  }

  async seal(plaintext: string, context: string): Promise<string> {
    const key = await this.#keys.getTenantKey(SYSTEM_KEY_OWNER, 'secrets', { create: true });
    return wrapKey(key, Buffer.from(plaintext, 'utf8'), `secret:${context}`);
  }

  async open(sealed: string, context: string): Promise<string> {
    const key = await this.#keys.getTenantKey(SYSTEM_KEY_OWNER, 'secrets', { create: true });
    return unwrapKey(key, sealed, `secret:${context}`).toString('utf8');
  }
}
