// Figure 1, integrity under load: many concurrent connections, each a random stream both ways through a
// client-mode worker in front of a server-mode worker to an echo backend, come back byte for byte.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { readLogLines } from '../helpers/stunnel-log.js';
import { waitFor } from '../helpers/wait.js';
import { assertFigure } from './support/figures.js';
import { checkIntegrity, formatMiB, runLoad, startLoadRig } from './support/load-rig.js';
import { byScale, SCALE } from './support/scale.js';
import { findInternalErrors } from './support/workers.js';

const CONNECTIONS = byScale(500, 100);
const BYTES_PER_CONNECTION = byScale(1024 * 1024, 256 * 1024);
const STREAM_TIMEOUT_MS = byScale(600_000, 120_000);

describe(`figure 1: integrity under load (${SCALE})`, () => {
  it(`${CONNECTIONS} concurrent connections of ${formatMiB(BYTES_PER_CONNECTION)} each way through client mode -> server mode: every sha256 matches`, { timeout: STREAM_TIMEOUT_MS + 120_000 }, async () => {
    const rig = await startLoadRig();
    try {
      const run = await runLoad(rig, { connections: CONNECTIONS, bytesPerConnection: BYTES_PER_CONNECTION, timeoutMs: STREAM_TIMEOUT_MS });
      const { intact, problems } = checkIntegrity(run, BYTES_PER_CONNECTION);
      const relayed = 2 * CONNECTIONS * BYTES_PER_CONNECTION;
      console.log(`load: ${formatMiB(relayed)} relayed through two workers in ${(run.durationMs / 1000).toFixed(1)} s`);
      assertFigure('1 integrity under load: sha256 matches', `${intact}/${CONNECTIONS}`, `${CONNECTIONS}/${CONNECTIONS}`, intact === CONNECTIONS, problems.slice(0, 10).join('\n'));
      // Both workers carried every byte: each logs one summary per connection with the full counts.
      const fullSummary = `Connection closed: ${BYTES_PER_CONNECTION} byte(s) sent to TLS, ${BYTES_PER_CONNECTION} byte(s) sent to socket`;
      for (const home of [rig.client, rig.server]) {
        const summaries = await waitFor(
          () => {
            const found = readLogLines(home.files.log).filter((line) => line.text === fullSummary);
            return found.length >= CONNECTIONS ? found : undefined;
          },
          { what: `${CONNECTIONS} lines "${fullSummary}" in ${home.files.log}` },
        );
        assert.equal(summaries.length, CONNECTIONS);
      }
      const resets = [rig.server, rig.client].flatMap((home) => readLogLines(home.files.log).filter((line) => /^Connection reset/.test(line.text)));
      assert.deepEqual(resets.map((line) => line.raw), [], 'no connection was reset');
      assert.deepEqual([...findInternalErrors(rig.server), ...findInternalErrors(rig.client)], []);
    } finally {
      await rig.cleanup();
    }
  });
});
