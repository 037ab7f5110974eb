// Operator-facing formats: durations and aligned tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatTable } from '../../../src/cli/format.js';

test('durations use at most two units', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(59_999), '59s');
  assert.equal(formatDuration(185_000), '3m05s');
  assert.equal(formatDuration((2 * 3600 + 3 * 60 + 9) * 1000), '2h03m');
  assert.equal(formatDuration((4 * 86400 + 7 * 3600) * 1000), '4d07h');
});

test('table columns are aligned, the last one not padded', () => {
  assert.deepEqual(formatTable([['A', 'BB', 'C'], ['long', 'x', 'yz']]), ['A     BB  C', 'long  x   yz']);
});
