import { unwrapKey, wrapKey } from '../../core/crypto/key-wrap.ts';
import type { KeyService } from '../../core/crypto/key.service.ts';
import type { TenantSecretBox } from '../../core/alerts/ports.ts';

/**
 * Seals a tenant's small secrets (webhook signing secrets) under that tenant's own 'secrets' key from
 * the key store, so offboarding the tenant (destroying its keys) makes them unreadable too.
 */
export class KeyStoreTenantSecretBox implements TenantSecretBox {
  readonly #keys: KeyService;

  constructor(keys: KeyService) {
    this.#keys = keys;
  }

  async seal(tenantId: string, plaintext: string, context: string): Promise<string> {
    const key = await this.#keys.getTenantKey(tenantId, 'secrets', { create: true });
    return wrapKey(key, Buffer.from(plaintext, 'utf8'), `secret:${tenantId}:${context}`);
  }

  async open(tenantId: string, sealed: string, context: string): Promise<string> {
    const key = await this.#keys.getTenantKey(tenantId, 'secrets', { create: true });
    return unwrapKey(key, sealed, `secret:${tenantId}:${context}`).toString('utf8');
  }
}
