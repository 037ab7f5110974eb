// The V8 settings of the worker and its engine processes, each shown on a real Node process against a
// control without it (so a passing figure means the setting did it):
// - limitYoungGeneration: a burst of short-lived objects keeps the young generation at its initial
//   size with the limit, and grows it without;
// - tierUpSooner: a small hot function called 1,000 times is optimized with it, not without (V8's
//   default optimizes it between 1,500 and 2,000 calls; with the budget of 8 KiB, after about 550).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const V8_TUNING_MODULE = fileURLToPath(new URL('../../../src/worker/v8-tuning.js', import.meta.url));
const MIB = 1024 * 1024;
/** Two semi-spaces of V8's initial 1 MiB on 64-bit. */
const INITIAL_NEW_SPACE_BYTES = 2 * MIB;
const HOT_CALLS = 1000;
/** %GetOptimizationStatus bits: optimized, marked for (concurrent) optimization, being optimized. */
const OPTIMIZED_OR_REQUESTED = 16 | 256 | 512 | 1024;

const runNode = async (flags: readonly string[], script: string): Promise<string> => {
  const { stdout } = await promisify(execFile)(process.execPath, [...flags, '--input-type=module', '-e', script], { timeout: 60_000 });
  return stdout;
};

/** The new space's size after a burst of allocations that survive a few scavenges each. */
const newSpaceAfterBurst = async (limit: boolean): Promise<number> => Number(await runNode([], `
  const { getHeapSpaceStatistics } = await import('node:v8');
  if (${limit}) (await import(${JSON.stringify(V8_TUNING_MODULE)})).limitYoungGeneration();
  let live = [];
  for (let index = 0; index < 2_000_000; index += 1) {
    live.push({ index, text: 'connection ' + index });
    if (live.length > 50_000) live = [];
  }
  const space = getHeapSpaceStatistics().find((entry) => entry.space_name === 'new_space');
  process.stdout.write(String(space.space_size));
`));

/** V8's optimization status of a relay-like function after HOT_CALLS calls spread over loop turns. */
const statusAfterHotCalls = async (tuned: boolean): Promise<number> => Number(await runNode(['--allow-natives-syntax'], `
  if (${tuned}) (await import(${JSON.stringify(V8_TUNING_MODULE)})).tierUpSooner();
  function relay(chunk, state) {
    state.bytes += chunk.length;
    state.last = chunk[0];
    return state.bytes;
  }
  const state = { bytes: 0, last: 0 };
  const chunk = Buffer.alloc(64);
  for (let index = 0; index < ${HOT_CALLS}; index += 1) {
    relay(chunk, state);
    if (index % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  // Optimization runs on a background thread: give it time to finish.
  await new Promise((resolve) => setTimeout(resolve, 100));
  process.stdout.write(String(%GetOptimizationStatus(relay)));
`));

describe('V8 tuning of the worker and engine processes', () => {
  it('limitYoungGeneration keeps the young generation at its initial size through a burst that grows it otherwise', async () => {
    const [unlimited, limited] = await Promise.all([newSpaceAfterBurst(false), newSpaceAfterBurst(true)]);
    assert.ok(unlimited > INITIAL_NEW_SPACE_BYTES, `without the limit the burst grows the young generation (${unlimited} bytes)`);
    assert.ok(limited <= INITIAL_NEW_SPACE_BYTES, `with the limit it stays at ${INITIAL_NEW_SPACE_BYTES} bytes or less (${limited})`);
  });

  it(`tierUpSooner gets a hot function optimized within ${HOT_CALLS} calls, which V8's default does not`, async () => {
    const [untuned, tuned] = await Promise.all([statusAfterHotCalls(false), statusAfterHotCalls(true)]);
    assert.equal(untuned & OPTIMIZED_OR_REQUESTED, 0, `at V8's default budget not yet optimized (status ${untuned})`);
    assert.notEqual(tuned & OPTIMIZED_OR_REQUESTED, 0, `with the smaller budget optimized or on its way (status ${tuned})`);
  });
});
