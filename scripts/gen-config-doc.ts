// Writes docs/CONFIGURATION.md from src/config/schema.ts, the one place settings are declared.
// `node scripts/gen-config-doc.ts`; test/docs/configuration-doc.test.ts fails when the doc is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { CLIENT_SETTINGS, loadConfig } from '../src/config/load.ts';
import { SETTINGS, type SettingSpec } from '../src/config/schema.ts';

export const CONFIGURATION_DOC = fileURLToPath(new URL('../docs/CONFIGURATION.md', import.meta.url));

/** What the `custodia` command reads beside the server's settings (names listed in load.ts). */
const CLIENT_DESCRIPTIONS: Record<string, string> = {
  CUSTODIA_CONFIG_FILE:
    'A JSON file of settings (keys are the variable names above; a list may be a JSON array). Variables set in the environment win over the file.',
  CUSTODIA_API_URL: 'Server address for `custodia files` (default `http://localhost:8080`; or `--url`).',
  CUSTODIA_API_TOKEN: 'API token for `custodia files` (or `--token`). Create one with `custodia token`.',
  CUSTODIA_SETUP_PASSWORD:
    'Password for `custodia setup` when it runs without a terminal, so it need not appear in the process list.',
};

/** The document, formatted as Prettier would (so `prettier --check` and this generator agree). */
export async function renderConfigurationDoc(): Promise<string> {
  const defaults = loadConfig({});
  const rows = SETTINGS.map((spec) => {
    const value = (defaults as unknown as Record<string, unknown>)[spec.key];
    return `| \`${spec.env}\` | ${kindOf(spec)} | ${defaultOf(value)} | ${escape(spec.description)} |`;
  });
  const clientRows = CLIENT_SETTINGS.map(
    (env) => `| \`${env}\` | ${escape(CLIENT_DESCRIPTIONS[env] ?? '')} |`,
  );
  const markdown = `# Configuration

<!-- Generated from src/config/schema.ts by \`node scripts/gen-config-doc.ts\`. Do not edit by hand:
     test/docs/configuration-doc.test.ts fails when this file and the schema disagree. -->

Custodia reads its settings from environment variables named \`CUSTODIA_*\`, or from a JSON file named by
\`CUSTODIA_CONFIG_FILE\` (environment variables win). Every setting is checked at start-up: a malformed
value, a setting that names the wrong kind of URL, an unreadable TLS file, or an unknown \`CUSTODIA_*\`
name (a typo) stops the server with one line that names the setting, for example

\`\`\`
custodia: configuration error: CUSTODIA_PORT: must be a whole number (got "80a")
\`\`\`

Defaults below are those of a server started in the project directory with nothing set; paths follow
\`CUSTODIA_DATA_DIR\`. See [DATA-DIRECTORY.md](DATA-DIRECTORY.md) for what lives where and
[SECURITY.md](SECURITY.md) for TLS, proxies and keys.

## Server settings

| variable | kind | default | meaning |
| --- | --- | --- | --- |
${rows.join('\n')}

Booleans accept \`true/false\`, \`1/0\`, \`yes/no\`, \`on/off\`. Lists are comma-separated.

## Settings of the \`custodia\` command

These are read by the command-line tool, not by the server; they are allowed in the same environment.

| variable | meaning |
| --- | --- |
${clientRows.join('\n')}

## Examples

PostgreSQL for metadata and keys (the key store may share the database or use its own), TLS, behind a
load balancer at 10.0.0.2:

\`\`\`sh
CUSTODIA_DATABASE_URL=postgres://custodia@db.internal/custodia \\
CUSTODIA_KEYSTORE_URL=postgres://custodia_keys@keys.internal/custodia_keys \\
CUSTODIA_PUBLIC_URL=https://files.example.com \\
CUSTODIA_HOST=0.0.0.0 CUSTODIA_PORT=8443 \\
CUSTODIA_TLS_CERT_FILE=/etc/custodia/tls/fullchain.pem CUSTODIA_TLS_KEY_FILE=/etc/custodia/tls/key.pem \\
CUSTODIA_TRUSTED_PROXIES=10.0.0.2 \\
npm start
\`\`\`

The same as a file (\`CUSTODIA_CONFIG_FILE=/etc/custodia/config.json\`):

\`\`\`json
{
  "CUSTODIA_DATABASE_URL": "postgres://custodia@db.internal/custodia",
  "CUSTODIA_PUBLIC_URL": "https://files.example.com",
  "CUSTODIA_TRUSTED_PROXIES": ["10.0.0.2"]
}
\`\`\`
`;
  const options = (await resolveConfig(CONFIGURATION_DOC)) ?? {};
  return format(markdown, { ...options, parser: 'markdown' });
}

function kindOf(spec: SettingSpec): string {
  switch (spec.kind) {
    case 'int':
      return spec.min !== undefined && spec.max !== undefined
        ? `whole number ${spec.min}–${spec.max}`
        : spec.min !== undefined
          ? `whole number ≥ ${spec.min}`
          : 'whole number';
    case 'enum':
      return `one of ${spec.values?.map((v) => `\`${v}\``).join(', ')}`;
    case 'url':
      return spec.schemes ? `URL (${spec.schemes.map((s) => `\`${s}:\``).join(', ')})` : 'URL';
    case 'bool':
      return 'boolean';
    case 'list':
      return 'list';
    case 'string':
      return 'text';
  }
}

function defaultOf(value: unknown): string {
  if (value === undefined) {
    return '(unset)';
  }
  if (Array.isArray(value)) {
    return value.length === 0 ? '(empty)' : `\`${value.join(',')}\``;
  }
  if (typeof value === 'number' && value >= 1024 ** 2 && value % 1024 ** 2 === 0) {
    return `\`${value}\` (${value / 1024 ** 3 >= 1 ? `${value / 1024 ** 3} GiB` : `${value / 1024 ** 2} MiB`})`;
  }
  return `\`${String(value)}\``;
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

if (import.meta.main) {
  writeFileSync(CONFIGURATION_DOC, await renderConfigurationDoc());
  process.stdout.write(`wrote ${CONFIGURATION_DOC}\n`);
}
