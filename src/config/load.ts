import { accessSync, constants, readFileSync } from 'node:fs';
import { SETTINGS, type Config, type SettingSpec } from './schema.ts';

export { type Config } from './schema.ts';

/** Read by the `custodia` command (client and set-up helpers), not by the server. */
export const CLIENT_SETTINGS = [
  'CUSTODIA_CONFIG_FILE',
  'CUSTODIA_API_URL',
  'CUSTODIA_API_TOKEN',
  'CUSTODIA_SETUP_PASSWORD',
];

/** A setting that is missing or malformed; `message` names it and says what is wrong. */
export class ConfigError extends Error {}

/**
 * Reads settings from `env` (CUSTODIA_*) over an optional JSON file named by CUSTODIA_CONFIG_FILE
 * (keys are the same names as the environment variables). Unknown CUSTODIA_* names are refused so a
 * typo does not silently fall back to a default.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const fromFile = readConfigFile(env.CUSTODIA_CONFIG_FILE);
  const source: Record<string, string | undefined> = { ...fromFile, ...env };
  const known = new Set([...SETTINGS.map((s) => s.env), ...CLIENT_SETTINGS]);
  for (const name of Object.keys(source)) {
    if (name.startsWith('CUSTODIA_') && !known.has(name)) {
      throw new ConfigError(`${name}: unknown setting (see docs/CONFIGURATION.md for the list)`);
    }
  }
  const partial: Partial<Config> = {};
  for (const spec of SETTINGS) {
    const raw = source[spec.env];
    const value = raw === undefined || raw === '' ? spec.default?.(partial) : parseSetting(spec, raw);
    (partial as Record<string, unknown>)[spec.key] = value;
  }
  if (Boolean(partial.tlsCertFile) !== Boolean(partial.tlsKeyFile)) {
    const [missing, given] = partial.tlsCertFile
      ? ['CUSTODIA_TLS_KEY_FILE', 'CUSTODIA_TLS_CERT_FILE']
      : ['CUSTODIA_TLS_CERT_FILE', 'CUSTODIA_TLS_KEY_FILE'];
    throw new ConfigError(`${missing}: must be set together with ${given}`);
  }
  for (const [name, path] of [
    ['CUSTODIA_TLS_CERT_FILE', partial.tlsCertFile],
    ['CUSTODIA_TLS_KEY_FILE', partial.tlsKeyFile],
  ] as const) {
    if (path) {
      assertReadable(name, path);
    }
  }
  // Every key without a default is optional in the Config type, so the object is complete here.
  return partial as Config;
}

function readConfigFile(path: string | undefined): Record<string, string> {
  if (!path) {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`CUSTODIA_CONFIG_FILE: cannot read ${path} as JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`CUSTODIA_CONFIG_FILE: ${path} must hold a JSON object of CUSTODIA_* settings`);
  }
  return Object.fromEntries(
    Object.entries(parsed).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]),
  );
}

function assertReadable(name: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new ConfigError(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code})`);
  }
}

function parseSetting(spec: SettingSpec, raw: string): unknown {
  const fail = (why: string): never => {
    throw new ConfigError(`${spec.env}: ${why} (got "${raw.slice(0, 80)}")`);
  };
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) {
        return fail('must be a whole number');
      }
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) {
        return fail(`must be at least ${spec.min}`);
      }
      if (spec.max !== undefined && n > spec.max) {
        return fail(`must be at most ${spec.max}`);
      }
      return n;
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) {
        return true;
      }
      if (['0', 'false', 'no', 'off'].includes(v)) {
        return false;
      }
      return fail('must be true or false');
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'enum':
      if (!spec.values?.includes(raw)) {
        return fail(`must be one of ${spec.values?.join(', ')}`);
      }
      return raw;
    case 'url':
      if (!/^(sqlite|file|postgres|postgresql|https?|s3|smtps?):/.test(raw)) {
        return fail(
          'must be a URL such as sqlite:./data/custodia.db, postgres://…, file:./data/blobs or http://…',
        );
      }
      if (spec.schemes && !spec.schemes.includes(raw.slice(0, raw.indexOf(':')))) {
        return fail(`must start with ${spec.schemes.map((s) => `${s}:`).join(' or ')}`);
      }
      return raw;
  }
}
