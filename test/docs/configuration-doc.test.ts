import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIGURATION_DOC, renderConfigurationDoc } from '../../scripts/gen-config-doc.ts';
import { CLIENT_SETTINGS } from '../../src/config/load.ts';
import { SETTINGS } from '../../src/config/schema.ts';

describe('docs/CONFIGURATION.md', () => {
  it('should be what scripts/gen-config-doc.ts makes of src/config/schema.ts (run it after a change)', async () => {
    const expected = await renderConfigurationDoc();

    assert.equal(readFileSync(CONFIGURATION_DOC, 'utf8'), expected);
  });

  it('should name every setting the server and the command read', () => {
    const doc = readFileSync(CONFIGURATION_DOC, 'utf8');

    const missing = [...SETTINGS.map((s) => s.env), ...CLIENT_SETTINGS].filter(
      (env) => !doc.includes(`\`${env}\``),
    );

    assert.deepEqual(missing, []);
  });
});
