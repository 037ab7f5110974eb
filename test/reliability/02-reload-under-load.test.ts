// Figure 2, reload under load: `reload-config` on both workers, again and again, while every connection
// of the load is established and moving data; each reload adds or removes a service (a listener
// opened or closed). Not one established connection may be dropped or reset.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { TestHome } from '../helpers/home.js';
import { formatResult } from '../helpers/processes.js';
import { readLogLines } from '../helpers/stunnel-log.js';
import { waitFor } from '../helpers/wait.js';
import { assertFigure } from './support/figures.js';
import { checkIntegrity, formatMiB, freePort, runLoad, startLoadRig } from './support/load-rig.js';
import type { LoadRig } from './support/load-rig.js';
import { byScale, SCALE } from './support/scale.js';
import { editConfig, findInternalErrors, listLogFiles } from './support/workers.js';

const CONNECTIONS = byScale(500, 100);
const BYTES_PER_CONNECTION = byScale(1024 * 1024, 256 * 1024);
const RELOADS = byScale(20, 5);
const STREAM_TIMEOUT_MS = byScale(600_000, 150_000);
const EXTRA_SECTION = /^\[extra-/;

/** Odd reloads add a service `[extra-N]` on a new port, even ones remove it again. */
const toggleExtraService = async (rig: LoadRig, home: TestHome, round: number): Promise<void> => {
  if (round % 2 === 1) {
    editConfig(home, (lines) => {
      const at = lines.findIndex((line) => EXTRA_SECTION.test(line));
      return at < 0 ? lines : lines.slice(0, at);
    });
    return;
  }
  const port = await freePort();
  const section = home === rig.server
    ? [`[extra-${round}]`, `accept = 127.0.0.1:${port}`, `connect = 127.0.0.1:${rig.backend.port}`, `cert = ${home.files.testPem}`]
    : [`[extra-${round}]`, 'client = yes', `accept = 127.0.0.1:${port}`, `connect = 127.0.0.1:${rig.server.acceptPort}`];
  editConfig(home, (lines) => [...lines, ...section]);
};

const reloadBoth = (rig: LoadRig, round: number) => async (): Promise<void> => {
  for (const home of [rig.server, rig.client]) {
    await toggleExtraService(rig, home, round);
    const result = await home.cli('reload-config');
    if (result.code !== 0) throw new Error(`reload ${round + 1} failed\n${formatResult(result)}`);
  }
};

describe(`figure 2: reload under load (${SCALE})`, () => {
  it(`${RELOADS} reload-config of each worker during ${CONNECTIONS} connections of ${formatMiB(BYTES_PER_CONNECTION)} each way: none dropped, none reset`, { timeout: STREAM_TIMEOUT_MS + 180_000 }, async () => {
    const rig = await startLoadRig();
    try {
      const commands = Array.from({ length: RELOADS }, (_, round) => reloadBoth(rig, round));
      const run = await runLoad(rig, { connections: CONNECTIONS, bytesPerConnection: BYTES_PER_CONNECTION, commands, timeoutMs: STREAM_TIMEOUT_MS });
      assert.deepEqual(run.commandErrors, [], 'every reload-config succeeded');
      const { intact, problems } = checkIntegrity(run, BYTES_PER_CONNECTION);
      const homes = [rig.server, rig.client];
      // Every connection has ended in both workers before the logs are judged.
      for (const home of homes) {
        await waitFor(() => readLogLines(home.files.log).filter((line) => /^Connection (closed|reset)/.test(line.text)).length >= CONNECTIONS, {
          what: `${CONNECTIONS} close summaries in ${home.files.log}`,
        });
      }
      const resets = homes.flatMap((home) => listLogFiles(home.files.log).flatMap(readLogLines)).filter((line) => /^Connection reset/.test(line.text));
      const dropped = CONNECTIONS - intact;
      console.log(`load: ${2 * RELOADS} reloads in ${(run.durationMs / 1000).toFixed(1)} s of load`);
      assertFigure(
        `2 reload under load: established connections dropped during ${RELOADS} reloads of each worker`,
        `${dropped} dropped, ${resets.length} "Connection reset" lines`,
        '0 dropped, 0 reset lines',
        dropped === 0 && resets.length === 0,
        [...problems.slice(0, 10), ...resets.slice(0, 10).map((line) => line.raw)].join('\n'),
      );
      for (const home of homes) {
        const { json } = await home.status();
        assert.equal(json.configGeneration, 1 + RELOADS, `${home.home}: every reload was taken (generation 1 + ${RELOADS})`);
        assert.deepEqual(findInternalErrors(home), []);
      }
    } finally {
      await rig.cleanup();
    }
  });
});
