// The logrotate snippet install writes, run by the real logrotate (`logrotate -f -s STATE SNIPPET`)
// against a started worker while a client opens and closes TLS connections: every connection's
// accept line and close line appear exactly once across the rotated files and the current log,
// a connection that spans every rotation is logged whole, and logrotate's maxage expires archives
// named the way switch-logfile names them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import { createHome, type TestHome } from '../helpers/home.js';
import { getFreePort } from '../helpers/ports.js';
import { formatResult, runCommand } from '../helpers/processes.js';
import { CONNECTION_CLOSED, readLogLines, type LogLine } from '../helpers/stunnel-log.js';
import { openNodeTlsSession, type NodeTlsSession } from '../helpers/tls-peers.js';
import { waitFor } from '../helpers/wait.js';

/** Connections the client makes, one after another, while the log is rotated. */
const CONNECTIONS = 120;
const ACCEPTED = /^Service \[MT9750\] accepted connection from 127\.0\.0\.1:(\d+)$/;
const ARCHIVE_SUFFIX = /^\.\d{4}-\d{2}-\d{2}\.\d{6}(-\d+)?$/;
const EXPIRED_ARCHIVE_SUFFIX = '.2020-01-01.000000';

interface Traffic {
  /** The client's local port of every connection made so far (the worker logs it on accept). */
  readonly ports: number[];
  readonly done: Promise<void>;
  /** Makes no new connection after the current one (the test body failed: it is cleaning up). */
  stop(): void;
}

/** Opens, echoes over and closes CONNECTIONS TLS connections, one after another. */
const startTraffic = (port: number): Traffic => {
  const ports: number[] = [];
  let stopped = false;
  const run = async (): Promise<void> => {
    for (let index = 0; index < CONNECTIONS && !stopped; index += 1) {
      const session = await openNodeTlsSession(port);
      ports.push(session.localPort);
      await session.echo(`connection ${index}\n`);
      await session.close();
    }
  };
  const done = run();
  // The body awaits `done` (each wait for connections fails at once with its error). If the body
  // fails first, the clean-up stops the worker under the traffic, and the traffic's failure that
  // follows (ECONNREFUSED) must not be reported instead of the body's: it was, once in CI, as an
  // unhandled rejection that hid the first error.
  done.catch(() => undefined);
  return { ports, done, stop: () => { stopped = true; } };
};

/** The log and every archive beside it: `<log>.<yyyy-MM-dd.HHmmss>` (and `-N` within a second). */
const listLogFiles = (logFile: string): string[] => {
  const name = basename(logFile);
  const archives = readdirSync(dirname(logFile))
    .filter((entry) => entry.startsWith(`${name}.`) && ARCHIVE_SUFFIX.test(entry.slice(name.length)))
    .sort()
    .map((entry) => join(dirname(logFile), entry));
  return [...archives, logFile];
};

/**
 * How far into a second the next rotation waits. logrotate names its archive from time(2), which
 * reads the kernel's coarse clock: up to a clock tick behind the one Date.now() reads. Started at
 * 55.000 by Date.now(), it named its archive after second 54, the second of the switch-logfile
 * before it, and refused to rotate ("destination ... already exists"): 1 run in 4 on this machine.
 */
const COARSE_CLOCK_MARGIN_MS = 50;

/** logrotate's archive names have one-second resolution: the next rotation waits for a new second. */
const waitForNextSecond = async (): Promise<void> => {
  const second = Math.floor(Date.now() / 1000);
  await waitFor(() => Math.floor((Date.now() - COARSE_CLOCK_MARGIN_MS) / 1000) > second, { what: 'the clock to reach the next second', intervalMs: 20 });
};

/** Resolves once the traffic has made `count` connections; fails at once if one of them failed. */
const waitForConnections = async (traffic: Traffic, count: number): Promise<void> => {
  await Promise.race([
    waitFor(() => traffic.ports.length >= count, { what: `${count} client connections`, timeoutMs: 30_000 }),
    traffic.done.then(() => new Promise<never>(() => undefined)),
  ]);
};

const countBy = <T>(items: readonly T[]): Map<T, number> => {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
};

test('logrotate rotates a live log through switch-logfile: no line lost or doubled, old archives expired', async () => {
  const backend = await startEchoServer();
  const acceptPort = await getFreePort();
  let home: TestHome | undefined;
  let longLived: NodeTlsSession | undefined;
  let traffic: Traffic | undefined;
  try {
    home = await createHome({ acceptPort, connectPort: backend.port, installArgs: ['--naming', 'posix'] });
    const { files } = home;
    const snippet = join(home.home, 'stunnel.logrotate');
    const stateFile = join(home.dir, 'logrotate.state');
    assert.ok(existsSync(snippet), 'install wrote the logrotate snippet');
    const start = await home.cli('start');
    assert.equal(start.code, 0, formatResult(start));
    // An archive as switch-logfile names them, from long ago: logrotate's maxage must remove it.
    const expired = `${files.log}${EXPIRED_ARCHIVE_SUFFIX}`;
    writeFileSync(expired, '2020.01.01 00:00:00 LOG5[main]: an old archive\n');
    utimesSync(expired, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));

    longLived = await openNodeTlsSession(acceptPort);
    const longLivedPort = longLived.localPort;
    await longLived.echo('before the rotations\n');
    traffic = startTraffic(acceptPort);
    const logrotate = async (): Promise<void> => {
      await waitForNextSecond();
      const result = await runCommand('logrotate', ['-f', '-s', stateFile, snippet]);
      assert.equal(result.code, 0, formatResult(result));
    };
    await waitForConnections(traffic, CONNECTIONS / 4);
    await logrotate();
    await waitForConnections(traffic, CONNECTIONS / 2);
    // A manual switch-logfile between two logrotate runs: its archive is one of logrotate's.
    await waitForNextSecond();
    const manual = await home.cli('switch-logfile');
    assert.equal(manual.code, 0, formatResult(manual));
    await waitForConnections(traffic, (CONNECTIONS * 3) / 4);
    await logrotate();
    await traffic.done;
    await longLived.echo('after the rotations\n');
    await longLived.close();
    longLived = undefined;
    const stop = await home.cli('stop');
    assert.equal(stop.code, 0, formatResult(stop));

    assert.equal(existsSync(expired), false, 'maxage removed the archive from 2020');
    const logFiles = listLogFiles(files.log);
    assert.equal(logFiles.length, 4, `three archives (two by logrotate, one by switch-logfile) and the log: ${logFiles.join(', ')}`);
    const linesByFile = logFiles.map((file) => ({ file, lines: readLogLines(file) }));
    for (const { file, lines } of linesByFile.slice(1)) {
      assert.equal(lines[0]?.text, 'Log file reopened', `${file} starts with the reopen`);
    }
    const all: LogLine[] = linesByFile.flatMap(({ lines }) => lines);
    const accepts = all.filter((line) => ACCEPTED.test(line.text));
    const closes = all.filter((line) => CONNECTION_CLOSED.test(line.text));
    assert.equal(accepts.length, CONNECTIONS + 1, 'one accept line per connection, no more, no less');
    const acceptedPorts = accepts.map((line) => Number(ACCEPTED.exec(line.text)?.[1]));
    assert.deepEqual(countBy(acceptedPorts), countBy([longLivedPort, ...traffic.ports]), 'each client connection, by its port, is accepted exactly once');
    const acceptsById = countBy(accepts.map((line) => line.id));
    const closesById = countBy(closes.map((line) => line.id));
    assert.equal(acceptsById.size, CONNECTIONS + 1, 'each connection has its own id');
    for (const [id, count] of acceptsById) {
      assert.equal(count, 1, `connection ${id}: one accept line`);
      assert.equal(closesById.get(id), 1, `connection ${id}: one close line`);
    }
    assert.equal(closes.length, CONNECTIONS + 1, 'no close line without its accept line');
    // Every archive holds connections, so each rotation happened under traffic. The current log may
    // see the traffic end before the last rotation; it holds the long-lived close line (below).
    const archivesWithAccepts = linesByFile.slice(0, -1).filter(({ lines }) => lines.some((line) => ACCEPTED.test(line.text)));
    assert.equal(archivesWithAccepts.length, logFiles.length - 1, 'the rotations happened under traffic: every archive has connections');
    const longLivedId = accepts.find((line) => line.text.endsWith(`:${longLivedPort}`))?.id;
    const fileOf = (id: string | undefined, pattern: RegExp) => linesByFile.findIndex(({ lines }) => lines.some((line) => line.id === id && pattern.test(line.text)));
    assert.equal(fileOf(longLivedId, ACCEPTED), 0, 'the long-lived connection was accepted before the first rotation');
    assert.equal(fileOf(longLivedId, CONNECTION_CLOSED), logFiles.length - 1, 'and its close line is in the current log');
  } finally {
    traffic?.stop();
    await traffic?.done.catch(() => undefined);
    longLived?.socket.destroy();
    await home?.cleanup();
    await backend.close();
  }
});
