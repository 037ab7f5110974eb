// The error catalogue and the README's table say the same thing, in both directions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, StunnelctlError } from '../../src/errors.js';

const README = new URL('../../../README.md', import.meta.url);

describe('error codes', () => {
  const rows = [...readFileSync(README, 'utf8').matchAll(/^\| `(SCTL_ERR_[A-Z_]+)` \| (\d+) \| (.+) \|$/gm)];

  it('documents every code of src/errors.ts with its exit code and meaning', () => {
    const documented = new Map(rows.map((row) => [row[1], { exit: Number(row[2]), meaning: row[3] }]));
    for (const [code, [exit, meaning]] of Object.entries(ERROR_CODES)) {
      assert.deepEqual(documented.get(code), { exit, meaning }, `README row for ${code}`);
    }
  });

  it('documents no code that src/errors.ts does not have', () => {
    for (const row of rows) assert.ok(row[1] !== undefined && row[1] in ERROR_CODES, `README documents unknown ${row[1]}`);
  });

  it('gives each error its catalogue exit code unless told otherwise', () => {
    assert.equal(new StunnelctlError('SCTL_ERR_NOT_RUNNING', 'x').exitCode, 7);
    assert.equal(new StunnelctlError('SCTL_ERR_CONFIG_INVALID', 'x').exitCode, 6);
    assert.equal(new StunnelctlError('SCTL_ERR_IO', 'x', { exitCode: 4 }).exitCode, 4);
  });
});
