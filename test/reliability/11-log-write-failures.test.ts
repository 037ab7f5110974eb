// Figure 11, log writes that cannot fail the worker: the log file deleted under a running worker (it is
// recreated, relaying goes on), and the log's file system full (a 64 KiB tmpfs: relaying goes on, the
// lines go to SYSLST, and to the file again once there is room).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { appendFileSync, existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEchoServer } from '../helpers/echo-server.js';
import { isProcessAlive, runCommand } from '../helpers/processes.js';
import { findMalformedLines, parseLogLine, readLogLines } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { Cleanup } from './support/cleanup.js';
import { FigureBook, skipFigure } from './support/figures.js';
import { byScale, SCALE } from './support/scale.js';
import { tlsEchoProbe } from './support/traffic.js';
import { editConfig, findInternalErrors, installHome, readText, replacingOption, startHome } from './support/workers.js';

const TMPFS_SIZE = '64k';
const PROBES_WHILE_FULL = byScale(50, 20);
const FILL_CHUNK = Buffer.alloc(4096, 0x2e);

/** Probes a normal client until `done()` holds; every probe must be served. Returns how many ran. */
const probeUntil = async (port: number, done: () => boolean, what: string): Promise<{ probes: number; failures: string[]; ports: number[] }> => {
  const failures: string[] = [];
  const ports: number[] = [];
  let probes = 0;
  await waitFor(
    async () => {
      probes += 1;
      await tlsEchoProbe(port).then((result) => ports.push(result.localPort), (error: Error) => failures.push(error.message));
      return done();
    },
    { what, timeoutMs: 20_000, intervalMs: 200 },
  );
  return { probes, failures, ports };
};

/** Client ports whose `accepted connection` line is in none of `texts`. */
const findUnlogged = (ports: readonly number[], texts: readonly string[]): number[] =>
  ports.filter((port) => !texts.some((text) => text.includes(`accepted connection from 127.0.0.1:${port}\n`)));

/** Waits up to LINE_ARRIVAL_MS for every port's accept line; returns the ports still missing then. */
const LINE_ARRIVAL_MS = 3000;
const waitForLoggedPorts = async (ports: readonly number[], texts: () => string[]): Promise<number[]> => {
  await waitFor(() => findUnlogged(ports, texts()).length === 0, { what: 'every accept line', timeoutMs: LINE_ARRIVAL_MS, intervalMs: 50 }).catch(() => undefined);
  return findUnlogged(ports, texts());
};

/** Stunnel-format lines of SYSLST (the logger falls back to stderr, which a started worker has there). */
const syslstLogLines = (file: string) => readText(file).split('\n').flatMap((raw) => parseLogLine(raw) ?? []);

describe(`figure 11: log writes that cannot fail the worker (${SCALE})`, () => {
  it('the log file deleted while the worker runs: recreated, relaying goes on', { timeout: 60_000 }, async () => {
    const cleanup = new Cleanup();
    try {
      const backend = cleanup.add(await startEchoServer(), (server) => server.close());
      const home = cleanup.add(await installHome(backend.port), (installed) => installed.cleanup());
      const pid = await startHome(home);
      await tlsEchoProbe(home.acceptPort);
      unlinkSync(home.files.log);
      const deletedAt = performance.now();
      const { probes, failures, ports } = await probeUntil(
        home.acceptPort,
        () => readLogLines(home.files.log).some((line) => /^Connection closed/.test(line.text)),
        'the deleted log file to be recreated with new connection lines',
      );
      const recreatedMs = performance.now() - deletedAt;
      const said = syslstLogLines(home.files.syslst).find((line) => /was deleted/.test(line.text));
      // Lines written between the deletion and the recreation: in the new file or SYSLST, or lost.
      // Engine processes hand their lines to the worker in batches (every 10 ms), so a line may
      // still be on its way when the probing stops: wait a bounded while before calling it lost.
      const lost = await waitForLoggedPorts(ports, () => [readText(home.files.log), readText(home.files.syslst)]);
      const book = new FigureBook();
      book.check(
        '11 log file deleted: recreated, relaying goes on',
        `recreated within ${Math.round(recreatedMs)} ms; ${probes - failures.length}/${probes} clients served meanwhile; SYSLST: "${said?.text ?? 'nothing'}"`,
        'recreated, every client served',
        existsSync(home.files.log) && failures.length === 0 && isProcessAlive(pid),
        failures.join('\n'),
      );
      book.check(
        '11 log file deleted: lines of the clients served meanwhile kept (new file or SYSLST)',
        `${ports.length - lost.length}/${ports.length}`,
        `${ports.length}/${ports.length}`,
        lost.length === 0,
        lost.map((port) => `the accept line of the client from port ${port} is in neither the log nor SYSLST`).join('\n'),
      );
      assert.deepEqual(findMalformedLines(home.files.log), []);
      assert.deepEqual(findInternalErrors(home), []);
      book.assertAll();
    } finally {
      await cleanup.run();
    }
  });

  it(`the log's file system full (${TMPFS_SIZE} tmpfs): relaying goes on, lines go to SYSLST, then to the file again`, { timeout: 90_000 }, async (t) => {
    const bar = 'every client served, no line lost, file resumes';
    if (process.getuid?.() !== 0) {
      skipFigure('11 log file system full', bar, 'not root: mounting a tmpfs needs root');
      t.skip('not root');
      return;
    }
    const cleanup = new Cleanup();
    try {
      const backend = cleanup.add(await startEchoServer(), (server) => server.close());
      // Outside the home's directory, so the home can be removed before the file system is unmounted.
      const logDir = cleanup.add(makeTempDir('logfs'), removeTempDir);
      const mount = await runCommand('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', logDir]);
      if (mount.code !== 0) {
        skipFigure('11 log file system full', bar, `mount -t tmpfs failed: ${mount.stderr.trim()}`);
        t.skip(`mount -t tmpfs failed: ${mount.stderr.trim()}`);
        return;
      }
      // Unmounted after the worker has stopped (cleanup runs in reverse).
      cleanup.add(logDir, async (dir) => {
        const unmount = await runCommand('umount', [dir]);
        assert.equal(unmount.code, 0, `umount ${dir}: ${unmount.stderr}`);
      });
      const home = cleanup.add(await installHome(backend.port), (installed) => installed.cleanup());
      const logFile = join(logDir, 'stunnel.log');
      editConfig(home, replacingOption('output', [`output = ${logFile}`]));
      const pid = await startHome(home);
      await tlsEchoProbe(home.acceptPort);

      const filler = join(logDir, 'filler');
      let filled = 0;
      for (;;) {
        try {
          appendFileSync(filler, FILL_CHUNK);
          filled += FILL_CHUNK.length;
        } catch (error) {
          assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
          break;
        }
        assert.ok(filled < 1024 * 1024, 'the tmpfs is bounded');
      }
      const closedInFile = (): number => readLogLines(logFile).filter((line) => /^Connection closed/.test(line.text)).length;
      const closedInSyslst = (): number => syslstLogLines(home.files.syslst).filter((line) => /^Connection closed/.test(line.text)).length;
      const fileBefore = closedInFile();
      const syslstBefore = closedInSyslst();
      const failures: string[] = [];
      for (let index = 0; index < PROBES_WHILE_FULL; index += 1) {
        await tlsEchoProbe(home.acceptPort).catch((error: Error) => failures.push(error.message));
      }
      // Every close line of those clients is somewhere: in the file (while a partial page had room) or in SYSLST.
      const accounted = await waitFor(
        () => {
          const count = closedInFile() - fileBefore + closedInSyslst() - syslstBefore;
          return count >= PROBES_WHILE_FULL ? count : undefined;
        },
        { what: `${PROBES_WHILE_FULL} close lines in the log file or SYSLST` },
      ).catch(() => closedInFile() - fileBefore + closedInSyslst() - syslstBefore);
      const reported = syslstLogLines(home.files.syslst).find((line) => /ENOSPC|No space/i.test(line.text));

      unlinkSync(filler);
      const fileAgain = closedInFile();
      const resumed = await probeUntil(home.acceptPort, () => closedInFile() > fileAgain, 'log lines in the file again once there is room')
        .then((result) => ({ ...result, ok: true }), (error: Error) => ({ probes: 0, failures: [error.message], ok: false }));
      const malformed = findMalformedLines(logFile);
      const book = new FigureBook();
      book.check(
        `11 log file system full (${TMPFS_SIZE} tmpfs)`,
        `${PROBES_WHILE_FULL - failures.length}/${PROBES_WHILE_FULL} clients served while full; ${accounted}/${PROBES_WHILE_FULL} close lines kept (file or SYSLST); SYSLST says "${reported?.text ?? 'nothing'}"; file ${resumed.ok ? 'resumed' : 'did NOT resume'} after space was freed; ${malformed.length} torn lines in the file`,
        `${bar}, no torn line`,
        failures.length === 0 && accounted >= PROBES_WHILE_FULL && reported !== undefined && resumed.ok && resumed.failures.length === 0 && malformed.length === 0 && isProcessAlive(pid),
        [...failures, ...resumed.failures, ...malformed.slice(0, 5)].join('\n'),
      );
      assert.deepEqual(findInternalErrors(home), []);
      book.assertAll();
    } finally {
      await cleanup.run();
    }
  });
});
