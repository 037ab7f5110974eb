// The home lock: a second holder waits (bounded) and fails with SCTL_ERR_LOCKED; a lock left by a
// crashed stunnelctl is taken over and reported; the lock is released however the action ends.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StunnelctlError } from '../../../src/errors.js';
import { LOCK_STALE_MS, acquireHomeLock, withHomeLock } from '../../../src/control/lock.js';

let home = '';
let target = { home: '', lock: '' };

before(() => {
  home = mkdtempSync(join(tmpdir(), 'stunnelctl-lock-'));
  target = { home, lock: join(home, 'stunnelctl.lock') };
});

after(() => {
  rmSync(home, { recursive: true, force: true });
});

test('a held lock makes the next command wait, then fail with SCTL_ERR_LOCKED', async () => {
  const release = await acquireHomeLock(target);
  try {
    let waited = false;
    const started = Date.now();
    await assert.rejects(
      acquireHomeLock(target, { waitMs: 300, onWait: () => (waited = true) }),
      (error: unknown) => error instanceof StunnelctlError && error.code === 'SCTL_ERR_LOCKED' && error.exitCode === 1,
    );
    assert.equal(waited, true);
    assert.ok(Date.now() - started >= 300, 'it waited for the lock');
  } finally {
    await release();
  }
  assert.equal(existsSync(target.lock), false);
});

test('a lock left by a crashed command is taken over and reported', async () => {
  mkdirSync(target.lock);
  const old = new Date(Date.now() - LOCK_STALE_MS - 60_000);
  utimesSync(target.lock, old, old);
  let recoveredAgeMs = 0;
  const release = await acquireHomeLock(target, { waitMs: 1_000, onStaleRecovered: (ageMs) => (recoveredAgeMs = ageMs) });
  await release();
  assert.ok(recoveredAgeMs > LOCK_STALE_MS, `reported age ${recoveredAgeMs} ms`);
});

test('withHomeLock releases the lock when the action throws', async () => {
  await assert.rejects(
    withHomeLock(target, {}, async () => {
      assert.equal(existsSync(target.lock), true);
      throw new Error('action failed');
    }),
    /action failed/,
  );
  assert.equal(existsSync(target.lock), false);
});
