// limitYoungGeneration: a real Node process allocating short-lived objects under a burst keeps its
// young generation at the initial size with the limit, and grows it without (the control shows the
// burst is big enough for V8 to grow it, so the limited figure means something).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const HEAP_TUNING_MODULE = fileURLToPath(new URL('../../../src/worker/heap-tuning.js', import.meta.url));
const MIB = 1024 * 1024;
/** Two semi-spaces of V8's initial 1 MiB on 64-bit. */
const INITIAL_NEW_SPACE_BYTES = 2 * MIB;

/** The new space's size after a burst of allocations that survive a few scavenges each. */
const newSpaceAfterBurst = async (limit: boolean): Promise<number> => {
  const script = `
    const { getHeapSpaceStatistics } = await import('node:v8');
    if (${limit}) (await import(${JSON.stringify(HEAP_TUNING_MODULE)})).limitYoungGeneration();
    let live = [];
    for (let index = 0; index < 2_000_000; index += 1) {
      live.push({ index, text: 'connection ' + index });
      if (live.length > 50_000) live = [];
    }
    const space = getHeapSpaceStatistics().find((entry) => entry.space_name === 'new_space');
    process.stdout.write(String(space.space_size));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 });
  return Number(stdout);
};

describe('limitYoungGeneration', () => {
  it('keeps the young generation at its initial size through a burst that grows it otherwise', async () => {
    const [unlimited, limited] = await Promise.all([newSpaceAfterBurst(false), newSpaceAfterBurst(true)]);
    assert.ok(unlimited > INITIAL_NEW_SPACE_BYTES, `without the limit the burst grows the young generation (${unlimited} bytes)`);
    assert.ok(limited <= INITIAL_NEW_SPACE_BYTES, `with the limit it stays at ${INITIAL_NEW_SPACE_BYTES} bytes or less (${limited})`);
  });
});
