import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { newMasterKeyId, readRingFile, writeRingFile } from '../../adapters/keys/master-key-ring.ts';
import { loadConfig } from '../../config/load.ts';
import { withServices } from '../context.ts';

/**
 * `custodia keys rotate`: a new master key; every tenant key is re-wrapped under it in one key-store
 * transaction; blobs are not rewritten. Crash-safe: the ring holds old and new keys until every
 * tenant key has moved, and only then is the old key dropped.
 */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('Key management');
  keys
    .command('rotate')
    .description('Rotate the master key (re-wraps tenant keys; stop other server processes first)')
    .option('--data-dir <dir>')
    .action(async (o: { dataDir?: string }) => {
      const env = { ...process.env, ...(o.dataDir ? { CUSTODIA_DATA_DIR: o.dataDir } : {}) };
      const config = loadConfig(env);
      if (config.masterKey) {
        throw new Error(
          'The master key comes from CUSTODIA_MASTER_KEY; rotate it in your secret store and use a key file (CUSTODIA_MASTER_KEY_FILE) to let Custodia rotate it.',
        );
      }
      const path = resolve(config.masterKeyFile);
      const ring = readRingFile(path);
      const newId = newMasterKeyId();
      writeRingFile(path, {
        current: newId,
        keys: { ...ring.keys, [newId]: randomBytes(32).toString('base64') },
      });
      const result = await withServices({ dataDir: o.dataDir }, async (s) => {
        const rewrapped = await s.keys.rewrapAllTenantKeys();
        await s.store.withTransaction((tx) =>
          tx.audit.append({
            tenantId: null,
            action: 'keys.rotate_master',
            actorType: 'system',
            channel: 'cli',
            details: { masterKeyId: rewrapped.masterKeyId, tenantKeys: rewrapped.rewrapped },
          }),
        );
        return { ...rewrapped, inUse: await s.keys.masterKeyIdsInUse() };
      });
      if (result.inUse.length !== 1 || result.inUse[0] !== newId) {
        throw new Error(
          `Rotation incomplete: keys still wrapped under ${result.inUse.join(', ')}; the ring keeps every key, run rotate again.`,
        );
      }
      const updated = readRingFile(path);
      writeRingFile(path, { current: newId, keys: { [newId]: updated.keys[newId] ?? '' } });
      process.stdout.write(
        `Master key rotated to ${newId}; ${result.rewrapped} tenant keys re-wrapped. Back up ${path} now.\n`,
      );
    });
}
