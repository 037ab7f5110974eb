// Figure 8, connection limits: with `maxConnections = 50` the 51st concurrent connection is refused
// before any TLS work and logged, the first 50 untouched; with a job class whose open-file limit is 64,
// a flood of connections runs the worker into EMFILE: it logs it, stays alive, and accepts again once
// the connections are gone.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { startEchoServer } from '../helpers/echo-server.js';
import { readOpenFileLimits } from '../helpers/job-classes.js';
import { LOOPBACK } from '../helpers/ports.js';
import { isProcessAlive } from '../helpers/processes.js';
import { readLogLines } from '../helpers/stunnel-log.js';
import { openNodeTlsSession } from '../helpers/tls-peers.js';
import type { NodeTlsSession } from '../helpers/tls-peers.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { Cleanup } from './support/cleanup.js';
import { assertFigure } from './support/figures.js';
import { SCALE } from './support/scale.js';
import { tlsEchoProbe } from './support/traffic.js';
import { editConfig, findInternalErrors, installHome, readText, startHome, withGlobalLines } from './support/workers.js';

const MAX_CONNECTIONS = 50;
const TINY_JOB_CLASS = '*TINY';
const TINY_NOFILE = 64;
const EMFILE_FLOOD = 200;

/** A TLS attempt that may be refused: whether the handshake completed, and how the connection ended. */
const attemptHandshake = (port: number): Promise<{ secured: boolean; errorCode: string | undefined; localPort: number }> => {
  const socket = connectTls({ host: LOOPBACK, port, rejectUnauthorized: false });
  let secured = false;
  let errorCode: string | undefined;
  let localPort = 0;
  socket.once('connect', () => {
    localPort = socket.localPort ?? 0;
  });
  socket.once('secureConnect', () => {
    secured = true;
    socket.end();
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    errorCode ??= error.code ?? error.message;
  });
  const closed = new Promise<{ secured: boolean; errorCode: string | undefined; localPort: number }>((resolve) =>
    socket.once('close', () => resolve({ secured, errorCode, localPort })),
  );
  return withTimeout(closed, 10_000, `the 51st connection to ${LOOPBACK}:${port} to end`).finally(() => socket.destroy());
};

describe(`figure 8: connection limits (${SCALE})`, () => {
  it(`maxConnections = ${MAX_CONNECTIONS}: the ${MAX_CONNECTIONS + 1}st concurrent connection is refused and logged, the first ${MAX_CONNECTIONS} untouched`, { timeout: 120_000 }, async () => {
    const cleanup = new Cleanup();
    try {
      const backend = cleanup.add(await startEchoServer(), (server) => server.close());
      const home = cleanup.add(await installHome(backend.port), (installed) => installed.cleanup());
      editConfig(home, withGlobalLines([`maxConnections = ${MAX_CONNECTIONS}`]));
      await startHome(home);
      const sessions: NodeTlsSession[] = [];
      cleanup.add(sessions, (open) => open.forEach((session) => session.socket.destroy()));
      for (let index = 0; index < MAX_CONNECTIONS; index += 1) {
        const session = await openNodeTlsSession(home.acceptPort);
        sessions.push(session);
        await session.echo(`connection ${index}\n`);
      }
      const extra = await attemptHandshake(home.acceptPort);
      const rejection = await waitFor(
        () => readLogLines(home.files.log).find((line) => line.text.endsWith(`Connection rejected: too many clients (>=${MAX_CONNECTIONS})`)),
        { what: 'the rejection line' },
      );
      const stillServed = await Promise.all(sessions.map((session, index) => session.echo(`again ${index}\n`).then(() => true, () => false)));
      const untouched = stillServed.filter(Boolean).length;
      await Promise.all(sessions.map((session) => session.close()));
      const closedCleanly = await waitFor(
        () => {
          const closed = readLogLines(home.files.log).filter((line) => /^Connection closed: /.test(line.text));
          return closed.length >= MAX_CONNECTIONS ? closed.length : undefined;
        },
        { what: `${MAX_CONNECTIONS} "Connection closed" lines` },
      );
      const resets = readLogLines(home.files.log).filter((line) => /^Connection reset/.test(line.text)).length;
      const servedAfter = await tlsEchoProbe(home.acceptPort).then(() => true, () => false);
      assertFigure(
        `8 maxConnections = ${MAX_CONNECTIONS}: connection ${MAX_CONNECTIONS + 1} refused, first ${MAX_CONNECTIONS} untouched`,
        `connection ${MAX_CONNECTIONS + 1} ${extra.secured ? 'SERVED' : `refused before TLS (${extra.errorCode ?? 'closed'})`}, logged "${rejection.text}"; ${untouched}/${MAX_CONNECTIONS} untouched, ${closedCleanly} closed cleanly, ${resets} reset; ${servedAfter ? 'served again below the limit' : 'NOT served below the limit'}`,
        `refused and logged; ${MAX_CONNECTIONS}/${MAX_CONNECTIONS} untouched; 0 reset`,
        !extra.secured && untouched === MAX_CONNECTIONS && closedCleanly === MAX_CONNECTIONS && resets === 0 && servedAfter,
      );
    } finally {
      await cleanup.run();
    }
  });

  it(`job class with nofile ${TINY_NOFILE}: a flood hits EMFILE, the worker logs it, stays alive, and accepts again`, { timeout: 120_000 }, async () => {
    const cleanup = new Cleanup();
    try {
      const backend = cleanup.add(await startEchoServer(), (server) => server.close());
      const home = cleanup.add(await installHome(backend.port), (installed) => installed.cleanup());
      appendFileSync(home.files.jobClasses, `\n; a tiny open-file limit, to run the worker into EMFILE\n[${TINY_JOB_CLASS}]\nnice = 0\nnofile = ${TINY_NOFILE}\n`);
      const pid = await startHome(home, TINY_JOB_CLASS);
      assert.equal(readOpenFileLimits(pid).soft, TINY_NOFILE, 'the job class applied its open-file limit');
      await tlsEchoProbe(home.acceptPort);

      // Connections that never start their handshake each hold a descriptor of the worker. Each flood
      // connection is either accepted (logged, held open) or, past the limit, closed by the worker.
      const flood: Socket[] = [];
      let closedByWorker = 0;
      cleanup.add(flood, (sockets) => sockets.forEach((socket) => socket.destroy()));
      for (let index = 0; index < EMFILE_FLOOD; index += 1) {
        const socket = connectTcp({ host: LOOPBACK, port: home.acceptPort });
        socket.on('error', () => undefined);
        socket.once('close', () => {
          closedByWorker += 1;
        });
        flood.push(socket);
      }
      const acceptedLines = (): number => readLogLines(home.files.log).filter((line) => / accepted connection from /.test(line.text)).length;
      const acceptedBefore = acceptedLines();
      await waitFor(() => acceptedLines() - acceptedBefore + closedByWorker >= EMFILE_FLOOD, {
        what: `each of ${EMFILE_FLOOD} flood connections to be accepted or closed by the worker`,
        timeoutMs: 20_000,
      });
      const acceptedFlood = acceptedLines() - acceptedBefore;
      const closedAtLimit = closedByWorker;
      const emfileLine = (): string | undefined =>
        // The worker refuses at the ceiling its open-file limit allows ("Clients allowed=N", as stunnel),
        // so accept() never reaches EMFILE, which libuv would otherwise swallow without a word.
        [...readLogLines(home.files.log).map((line) => line.raw), ...readText(home.files.syslst).split('\n')]
          .find((line) => /accept: Too many open files|Connection rejected: too many clients \(>=\d+\)/.test(line));
      // A poll that times out means "not logged": the figure below reports it.
      const emfile = await waitFor(emfileLine, { what: 'the worker to log EMFILE on accept', timeoutMs: 5_000 }).catch(() => undefined);
      const aliveDuring = isProcessAlive(pid);
      for (const socket of flood) socket.destroy();
      // Accepting again: a normal client is served once the flood's descriptors are released.
      const freedAt = Date.now();
      const servedAfterMs = await waitFor(() => tlsEchoProbe(home.acceptPort, 2_000).then(() => true), {
        what: 'a normal client to be served after the flood',
        timeoutMs: 30_000,
        intervalMs: 200,
      }).then(() => Date.now() - freedAt, () => undefined);
      const alive = isProcessAlive(pid);
      assertFigure(
        `8 EMFILE with nofile ${TINY_NOFILE}: logged, worker alive, accepts again`,
        `${acceptedFlood} of ${EMFILE_FLOOD} flood connections accepted, ${closedAtLimit} closed at the limit; EMFILE ${emfile === undefined ? 'NOT LOGGED' : `logged "${emfile.trim()}"`}; worker ${aliveDuring && alive ? 'alive' : 'DEAD'}; ${servedAfterMs === undefined ? 'NOT accepting again' : `served again ${servedAfterMs} ms after the flood closed`}`,
        'limit reached, EMFILE logged, alive, served again',
        closedAtLimit > 0 && emfile !== undefined && aliveDuring && alive && servedAfterMs !== undefined,
      );
      assert.deepEqual(findInternalErrors(home), []);
    } finally {
      await cleanup.run();
    }
  });
});
