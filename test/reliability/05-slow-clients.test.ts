// Figure 5, slow clients: many connections that never finish the TLS handshake (half of them silent,
// half stalled after part of a ClientHello), opened by a separate process, are each closed at the
// handshake deadline (`TIMEOUThandshake = 2`), not before and not much after, while a normal client
// is still served in under 1 s.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startEchoServer } from '../helpers/echo-server.js';
import { startProcess, stopProcess } from '../helpers/processes.js';
import { readLogLines } from '../helpers/stunnel-log.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { Cleanup } from './support/cleanup.js';
import { FigureBook } from './support/figures.js';
import { byScale, SCALE } from './support/scale.js';
import type { SlowClientsSummary } from './support/slow-clients.js';
import { startProbeLoop, tlsEchoProbe } from './support/traffic.js';
import { editConfig, findInternalErrors, installHome, startHome, withGlobalLines, withServiceLines } from './support/workers.js';

const SLOW_CLIENTS = byScale(1_000, 200);
const DEADLINE_S = 2;
const MARGIN_MS = 1_000;
/** Timer granularity: a close this much before the deadline still counts as at the deadline. */
const EARLY_SLACK_MS = 50;
const PROBE_BAR_MS = 1_000;
/** How long the slow clients wait for the worker to close them all before they report. */
const SLOW_CLIENTS_WAIT_MS = DEADLINE_S * 1000 + MARGIN_MS + 20_000;
const SLOW_CLIENTS_SCRIPT = fileURLToPath(new URL('./support/slow-clients.js', import.meta.url));

describe(`figure 5: slow clients (${SCALE})`, () => {
  it(`${SLOW_CLIENTS} connections that never finish the handshake are closed at TIMEOUThandshake = ${DEADLINE_S}; normal clients served meanwhile`, { timeout: 120_000 }, async () => {
    const cleanup = new Cleanup();
    try {
      const backend = cleanup.add(await startEchoServer(), (server) => server.close());
      const home = cleanup.add(await installHome(backend.port), (installed) => installed.cleanup());
      // debug = info: the reason a connection ended (`TIMEOUThandshake exceeded`) is a level-6 line.
      editConfig(home, (lines) => withServiceLines([`    TIMEOUThandshake = ${DEADLINE_S}`])(withGlobalLines(['debug = info'])(lines)));
      await startHome(home);

      const probes = startProbeLoop((timeoutMs) => tlsEchoProbe(home.acceptPort, timeoutMs));
      const slow = cleanup.add(
        startProcess(process.execPath, [SLOW_CLIENTS_SCRIPT, '--slow', '--port', String(home.acceptPort), '--count', String(SLOW_CLIENTS), '--wait-ms', String(SLOW_CLIENTS_WAIT_MS)]),
        (started) => stopProcess(started),
      );
      let summary: SlowClientsSummary;
      try {
        const status = await withTimeout(slow.closed, SLOW_CLIENTS_WAIT_MS + 30_000, `${SLOW_CLIENTS} slow clients to report`);
        assert.equal(status.code, 0, `the slow clients failed: ${slow.stderr().toString()}`);
        summary = JSON.parse(slow.stdout().toString('utf8')) as SlowClientsSummary;
      } finally {
        await probes.stop();
      }
      const probeSummary = await probes.stop();

      const bound = DEADLINE_S * 1000 + MARGIN_MS;
      const book = new FigureBook();
      book.check(
        '5 slow clients: closed at the handshake deadline',
        `${summary.closed}/${SLOW_CLIENTS} closed, none before ${Math.round(summary.shortestSinceCallMs)} ms (from connect call), all by ${Math.round(summary.longestSinceConnectedMs)} ms (from connected)`,
        `${SLOW_CLIENTS}/${SLOW_CLIENTS} closed within ${DEADLINE_S * 1000}..${bound} ms`,
        summary.closed === SLOW_CLIENTS && summary.longestSinceConnectedMs <= bound && summary.shortestSinceCallMs >= DEADLINE_S * 1000 - EARLY_SLACK_MS,
      );
      book.check(
        '5 slow clients: max latency of a normal client meanwhile',
        `${Math.round(probeSummary.maxLatencyMs)} ms over ${probeSummary.count} probes, ${probeSummary.failures.length} failed`,
        `< ${PROBE_BAR_MS} ms, 0 failed`,
        probeSummary.maxLatencyMs < PROBE_BAR_MS && probeSummary.failures.length === 0 && probeSummary.count > 0,
        probeSummary.failures.slice(0, 5).join('\n'),
      );
      const timeoutLines = await waitFor(
        () => {
          const found = readLogLines(home.files.log).filter((line) => /TIMEOUThandshake exceeded/.test(line.text));
          return found.length >= summary.closed ? found : undefined;
        },
        { what: `${summary.closed} "TIMEOUThandshake exceeded" lines in ${home.files.log}` },
      );
      assert.equal(timeoutLines.length, SLOW_CLIENTS, 'each slow client is logged as ended by the handshake deadline');
      assert.deepEqual(findInternalErrors(home), []);
      book.assertAll();
    } finally {
      await cleanup.run();
    }
  });
});
