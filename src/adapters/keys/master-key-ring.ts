import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MasterKeyRing } from '../../core/crypto/ports.ts';

interface RingFile {
  current: string;
  keys: Record<string, string>;
}

/** A master key ring kept in a JSON file (mode 0600) or given whole through CUSTODIA_MASTER_KEY. */
export class StaticMasterKeyRing implements MasterKeyRing {
  readonly #current: string;
  readonly #keys: Map<string, Buffer>;

  constructor(ring: RingFile) {
    this.#keys = new Map(Object.entries(ring.keys).map(([id, b64]) => [id, decodeKey(b64, id)]));
    if (!this.#keys.has(ring.current)) {
      throw new Error(`Master key ring: current key ${ring.current} is not in the ring`);
    }
    this.#current = ring.current;
  }

  current(): { id: string; key: Buffer } {
    return { id: this.#current, key: this.get(this.#current) };
  }

  get(id: string): Buffer {
    const key = this.#keys.get(id);
    if (!key) {
      throw new Error(
        `Master key ${id} is not in the key ring (was it retired before every tenant key was re-wrapped?)`,
      );
    }
    return key;
  }

  ids(): string[] {
    return [...this.#keys.keys()];
  }
}

/** A single base64 key from the environment; its id is derived from the key so wrappings name it. */
export function ringFromEnvKey(base64: string): StaticMasterKeyRing {
  const key = decodeKey(base64, 'CUSTODIA_MASTER_KEY');
  const id = `env-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
  return new StaticMasterKeyRing({ current: id, keys: { [id]: key.toString('base64') } });
}

/** Reads the ring file, creating it with a fresh key on first start. */
export function loadOrCreateRingFile(path: string): StaticMasterKeyRing {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
    const id = newMasterKeyId();
    writeRingFile(path, { current: id, keys: { [id]: randomBytes(32).toString('base64') } });
    text = readFileSync(path, 'utf8');
  }
  return new StaticMasterKeyRing(JSON.parse(text) as RingFile);
}

export function readRingFile(path: string): RingFile {
  return JSON.parse(readFileSync(path, 'utf8')) as RingFile;
}

/** Writes the ring atomically (temp file, fsync, rename) so a crash never leaves half a key file. */
export function writeRingFile(path: string, ring: RingFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(ring, null, 2));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

export function newMasterKeyId(): string {
  return `mk-${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
}

function decodeKey(base64: string, name: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) {
    throw new Error(`${name}: a master key must be 32 bytes of base64`);
  }
  return key;
}
