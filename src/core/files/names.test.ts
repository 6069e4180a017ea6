import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameKey } from './names.ts';

describe('nameKey', () => {
  it('should give every ASCII name the key the Unicode path gives it', () => {
    const ascii = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code)).join('');

    assert.equal(nameKey(ascii), ascii.normalize('NFC').toLocaleLowerCase('und'));
  });

  it('should make case and NFC/NFD spellings of one name clash', () => {
    const keys = ['Report.PDF', 'report.pdf', 'Cafe\u0301.txt', 'CAFÉ.TXT', 'café.txt'].map(nameKey);

    assert.deepEqual(keys, ['report.pdf', 'report.pdf', 'café.txt', 'café.txt', 'café.txt']);
  });
});
