import { hash, verify } from '@node-rs/argon2';
import type { PasswordHasher } from '../../core/identity/ports.ts';

/**
 * argon2id via @node-rs/argon2 (prebuilt N-API binaries, no compile step). Parameters follow the
 * OWASP minimum for argon2id (19 MiB, 2 passes, 1 lane).
 */
export class Argon2PasswordHasher implements PasswordHasher {
  readonly #options: { memoryCost: number; timeCost: number; parallelism: number };

  constructor(options: { memoryCost?: number; timeCost?: number } = {}) {
    this.#options = {
      memoryCost: options.memoryCost ?? 19_456,
      timeCost: options.timeCost ?? 2,
      parallelism: 1,
    };
  }

  hash(password: string): Promise<string> {
    return hash(password, { ...this.#options, algorithm: 2 });
  }

  async verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }
}
