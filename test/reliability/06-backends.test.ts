// Figure 6, backends that fail: refused, vanished mid-stream, never answering the connect
// (TIMEOUTconnect against a blackholed port), and half-closing first. Each ends only its own
// connection, promptly, with its reason and exactly one close summary in the log; with two `connect`
// lines, failover reaches the second after a refused or a blackholed first one.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { startEchoServer, startSinkSourceServer, sha256 } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import { LOOPBACK, getFreePorts } from '../helpers/ports.js';
import { isProcessAlive, stopProcess } from '../helpers/processes.js';
import { readLogLines } from '../helpers/stunnel-log.js';
import type { LogLine } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { writeConfig } from '../helpers/worker.js';
import { startBlackholeBackend, startVanishingBackend } from './support/backends.js';
import { Cleanup } from './support/cleanup.js';
import { FigureBook, skipFigure } from './support/figures.js';
import { SCALE } from './support/scale.js';
import { startRunWorker } from './support/workers.js';

const CONNECT_TIMEOUT_S = 1;
/** How long after the cause a connection may take to end and still count as ended promptly. */
const END_BOUND_MS = 3_000;
const STREAM_BYTES = 1024 * 1024;
const VANISH_AFTER_BYTES = 64 * 1024;
const CLOSE_SUMMARY = /^Connection (closed|reset|[a-z]+\/[a-z]+): (\d+) byte\(s\) sent to TLS, (\d+) byte\(s\) sent to socket$/;

interface ClientRun {
  localPort: number;
  secured: boolean;
  received: Buffer;
  /** From the handshake to the connection's close. */
  endedAfterMs: number;
  errorCode: string | undefined;
}

/**
 * A TLS client of a service: handshake, then `script` drives the connection; resolves with how it
 * ended. `allowHalfOpen` keeps our side open after the far side's close_notify + FIN.
 */
const runClient = (port: number, script: (socket: import('node:tls').TLSSocket, received: () => Buffer) => void, timeoutMs = 20_000): Promise<ClientRun> => {
  const socket = connectTls({ host: LOOPBACK, port, rejectUnauthorized: false, allowHalfOpen: true } as import('node:tls').ConnectionOptions);
  const chunks: Buffer[] = [];
  let secured = false;
  let securedAt = 0;
  let localPort = 0;
  let errorCode: string | undefined;
  socket.once('connect', () => {
    localPort = socket.localPort ?? 0;
  });
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (error: NodeJS.ErrnoException) => {
    errorCode ??= error.code ?? error.message;
  });
  socket.once('secureConnect', () => {
    secured = true;
    securedAt = performance.now();
    script(socket, () => Buffer.concat(chunks));
  });
  const closed = new Promise<ClientRun>((resolve) => {
    socket.once('close', () => resolve({ localPort, secured, received: Buffer.concat(chunks), endedAfterMs: performance.now() - securedAt, errorCode }));
  });
  return withTimeout(closed, timeoutMs, `the connection to ${LOOPBACK}:${port} to end`).finally(() => socket.destroy());
};

/** Sends `payload` and half-closes at once. */
const sendAndHalfClose = (payload: Buffer) => (socket: import('node:tls').TLSSocket): void => {
  socket.end(payload);
};

/** The lines of the connection whose client port was `localPort`, once its close summary is logged. */
const connectionLines = (logFile: string, localPort: number): Promise<LogLine[]> =>
  waitFor(
    () => {
      const lines = readLogLines(logFile);
      const id = lines.find((line) => line.text.endsWith(`accepted connection from 127.0.0.1:${localPort}`))?.id;
      if (id === undefined) return undefined;
      const own = lines.filter((line) => line.id === id);
      return own.some((line) => CLOSE_SUMMARY.test(line.text)) ? own : undefined;
    },
    { what: `the close summary of the connection from port ${localPort} in ${logFile}` },
  );

const texts = (lines: readonly LogLine[]): string[] => lines.map((line) => line.text);
const summaries = (lines: readonly LogLine[]): string[] => texts(lines).filter((text) => CLOSE_SUMMARY.test(text));

/** How a connection ended, for its figure: when, the reason the worker logged, its close summary. */
const describeEnding = (run: ClientRun, lines: readonly LogLine[]): string => {
  console.log(`log of the connection from port ${run.localPort}:\n${lines.map((line) => `  ${line.raw}`).join('\n')}`);
  // The first error the worker gave: a warning or worse, or an errno / timeout at info level.
  const reason = lines.find((line) => !CLOSE_SUMMARY.test(line.text) && (line.level <= 4 || /\(\d+\)$|exceeded/.test(line.text)))?.text;
  const closing = summaries(lines);
  return `ended after ${Math.round(run.endedAfterMs)} ms${reason === undefined ? '' : `, logged "${reason}"`}, ${closing.length} close summary (${closing.map((text) => text.split(':')[0]).join(', ')})`;
};

describe(`figure 6: backends that fail (${SCALE})`, () => {
  it('refused, vanished mid-stream, never answering, half-closing: each ends its own connection, logged; failover reaches the second connect', { timeout: 180_000 }, async () => {
    const cleanup = new Cleanup();
    const dir = cleanup.add(makeTempDir('backends'), removeTempDir);
    try {
      const pki = await createPki(dir, 'backends');
      const echo = cleanup.add(await startEchoServer(), (server) => server.close());
      const reply = randomBytes(128 * 1024);
      const halfCloser = cleanup.add(await startSinkSourceServer({ reply }), (server) => server.close());
      const vanishing = cleanup.add(await startVanishingBackend(VANISH_AFTER_BYTES), (server) => server.close());
      const blackhole = await startBlackholeBackend();
      if (blackhole !== undefined) cleanup.add(blackhole, (backend) => backend.close());
      const [deadPort, ...acceptPorts] = (await getFreePorts(7)) as [number, number, number, number, number, number, number];
      const [refusedPort, vanishedPort, blackholePort, halfClosePort, failoverRefusedPort, failoverBlackholePort] = acceptPorts as [number, number, number, number, number, number];
      const blackholeTarget = blackhole === undefined ? deadPort : blackhole.port;
      const configFile = join(dir, 'backends.conf');
      const pidFile = join(dir, 'backends.pid');
      const logFile = join(dir, 'backends.log');
      writeConfig(configFile, [
        `pid = ${pidFile}`,
        `output = ${logFile}`,
        'debug = info',
        `TIMEOUTconnect = ${CONNECT_TIMEOUT_S}`,
        `cert = ${pki.pemFile}`,
        '[refused]', `accept = 127.0.0.1:${refusedPort}`, `connect = 127.0.0.1:${deadPort}`,
        '[vanished]', `accept = 127.0.0.1:${vanishedPort}`, `connect = 127.0.0.1:${vanishing.port}`,
        '[never-answering]', `accept = 127.0.0.1:${blackholePort}`, `connect = 127.0.0.1:${blackholeTarget}`,
        '[half-closing]', `accept = 127.0.0.1:${halfClosePort}`, `connect = 127.0.0.1:${halfCloser.port}`,
        '[failover-refused]', 'failover = prio', `accept = 127.0.0.1:${failoverRefusedPort}`, `connect = 127.0.0.1:${deadPort}`, `connect = 127.0.0.1:${echo.port}`,
        '[failover-never-answering]', 'failover = prio', `accept = 127.0.0.1:${failoverBlackholePort}`, `connect = 127.0.0.1:${blackholeTarget}`, `connect = 127.0.0.1:${echo.port}`,
      ]);
      const worker = cleanup.add(await startRunWorker(configFile, pidFile), (started) => stopProcess(started));
      const book = new FigureBook();

      // Refused: the handshake completes, then the connect fails and the connection is ended.
      const refused = await runClient(refusedPort, sendAndHalfClose(Buffer.from('hello\n')));
      const refusedLines = await connectionLines(logFile, refused.localPort);
      book.check(
        '6 backend refused: connection ended, logged',
        describeEnding(refused, refusedLines),
        `ended within ${END_BOUND_MS} ms, "Connection refused" logged, one close summary`,
        refused.secured && refused.endedAfterMs < END_BOUND_MS && texts(refusedLines).some((text) => /connect 127\.0\.0\.1:\d+: Connection refused \(111\)/.test(text)) && summaries(refusedLines).length === 1,
      );

      // Vanished: the backend destroys the socket after VANISH_AFTER_BYTES of a 1 MiB upload.
      const upload = randomBytes(STREAM_BYTES);
      const vanished = await runClient(vanishedPort, (socket) => {
        socket.end(upload);
      });
      const vanishedLines = await connectionLines(logFile, vanished.localPort);
      book.check(
        '6 backend vanished mid-stream: connection ended, logged',
        `${describeEnding(vanished, vanishedLines)} (the backend destroyed it after ${vanishing.destroyedAfter.join(',')} bytes)`,
        `ended within ${END_BOUND_MS} ms, the socket error logged, one close summary`,
        vanished.secured && vanishing.destroyedAfter.length === 1 && vanished.endedAfterMs < END_BOUND_MS && summaries(vanishedLines).length === 1
          && texts(vanishedLines).some((text) => /(readsocket|writesocket|socket fd): .*\(\d+\)$|Read socket closed/.test(text)),
      );

      // Never answering: the connect hangs until TIMEOUTconnect.
      if (blackhole === undefined) {
        skipFigure('6 backend never answering: TIMEOUTconnect', `ended at TIMEOUTconnect = ${CONNECT_TIMEOUT_S} s`, 'the kernel completed every handshake past the backlog: no blackhole on loopback here');
      } else {
        const silent = await runClient(blackholePort, sendAndHalfClose(Buffer.from('hello\n')));
        const silentLines = await connectionLines(logFile, silent.localPort);
        book.check(
          '6 backend never answering: connection ended at TIMEOUTconnect, logged',
          `${describeEnding(silent, silentLines)} (${blackhole.fillers} connections filled the accept queue)`,
          `ended ${CONNECT_TIMEOUT_S * 1000}..${CONNECT_TIMEOUT_S * 1000 + END_BOUND_MS} ms, "TIMEOUTconnect exceeded" logged, one close summary`,
          silent.secured && silent.endedAfterMs >= CONNECT_TIMEOUT_S * 1000 - 50 && silent.endedAfterMs < CONNECT_TIMEOUT_S * 1000 + END_BOUND_MS
            && texts(silentLines).some((text) => /TIMEOUTconnect exceeded/.test(text)) && summaries(silentLines).length === 1,
        );
      }

      // Half-closing first: the backend sends its reply and half-closes at once; the client uploads
      // only after it has seen that end, and the backend must still receive every byte.
      const lateUpload = randomBytes(256 * 1024);
      const halfClosed = await runClient(halfClosePort, (socket) => {
        socket.once('end', () => socket.end(lateUpload));
      });
      const halfCloseLines = await connectionLines(logFile, halfClosed.localPort);
      const uploaded = await withTimeout(halfCloser.received(0), 10_000, 'the upload at the half-closing backend');
      book.check(
        '6 backend half-closing first: both directions complete, closed cleanly',
        `reply ${halfClosed.received.length === reply.length && sha256(halfClosed.received) === sha256(reply) ? 'intact' : 'DAMAGED'}, upload after the half-close ${uploaded.sha256 === sha256(lateUpload) ? 'intact' : 'DAMAGED'}; ${describeEnding(halfClosed, halfCloseLines)}`,
        'both intact, one "Connection closed" summary',
        sha256(halfClosed.received) === sha256(reply) && uploaded.sha256 === sha256(lateUpload) && uploaded.bytes === lateUpload.length
          && summaries(halfCloseLines).length === 1 && /^Connection closed/.test(summaries(halfCloseLines)[0] ?? ''),
      );

      // Failover: the first connect is refused (or never answers), the second serves a full echo.
      for (const [label, port] of [['refused', failoverRefusedPort], ['never answering', failoverBlackholePort]] as const) {
        if (label === 'never answering' && blackhole === undefined) continue;
        const payload = randomBytes(STREAM_BYTES);
        const run = await runClient(port, sendAndHalfClose(payload));
        const lines = await connectionLines(logFile, run.localPort);
        const reached = texts(lines).some((text) => text === `s_connect: connected 127.0.0.1:${echo.port}`);
        const firstFailed = texts(lines).some((text) => (label === 'refused' ? /Connection refused \(111\)/ : /TIMEOUTconnect exceeded/).test(text));
        book.check(
          `6 failover after a ${label} first connect: second connect serves`,
          `${firstFailed ? 'first failed' : 'first NOT seen failing'}, ${reached ? 'second connected' : 'second NOT connected'}, echo of 1 MiB ${sha256(run.received) === sha256(payload) ? 'intact' : 'DAMAGED'}; ${describeEnding(run, lines)}`,
          'first fails, second connected, echo intact, one "Connection closed" summary',
          firstFailed && reached && sha256(run.received) === sha256(payload) && summaries(lines).length === 1 && /^Connection closed/.test(summaries(lines)[0] ?? ''),
        );
      }

      assert.ok(isProcessAlive(worker.pid), 'the worker is alive after every backend failure');
      assert.equal(worker.exitStatus(), undefined);
      const accepted = readLogLines(logFile).filter((line) => / accepted connection from /.test(line.text));
      const closes = readLogLines(logFile).filter((line) => CLOSE_SUMMARY.test(line.text));
      assert.equal(closes.length, accepted.length, 'each accepted connection has exactly one close summary');
      assert.doesNotMatch(worker.stderr().toString(), /INTERNAL ERROR/);
      book.assertAll();
    } finally {
      await cleanup.run();
    }
  });
});
