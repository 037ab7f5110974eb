// The operator loop of issue 2, run as an operator would with the built CLI and the real detached
// worker: install -> start --job-class -> TLS 1.3 / 1.2 through the proxy -> log-conn on a live
// connection -> switch-logfile (nothing lost or doubled) -> reload-config (a new service; a broken
// edit refused while everything keeps serving) -> stop. One long-lived TLS connection opened early
// must relay bytes after every step.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { sha256, startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createHome } from '../helpers/home.js';
import type { TestHome } from '../helpers/home.js';
import { readJobClassTable, readNice, readOpenFileLimits } from '../helpers/job-classes.js';
import { getFreePorts, isAccepting } from '../helpers/ports.js';
import { formatResult, isProcessAlive, readProcessArgv, runCommand } from '../helpers/processes.js';
import { acceptedLinePattern, findMalformedLines, readLogLines, readRawLines, waitForConnectionClosed, waitForLogLine } from '../helpers/stunnel-log.js';
import type { LogLine } from '../helpers/stunnel-log.js';
import { openNodeTlsSession, tlsRoundTrip } from '../helpers/tls-peers.js';
import type { NodeTlsSession } from '../helpers/tls-peers.js';
import { waitFor } from '../helpers/wait.js';
import type { ConnectionInfo } from '../../src/worker/state-file.js';

const SERVICE = 'MT9750';
const SECOND_SERVICE = 'second';
const JOB_CLASS = '*BATCH';
const NICE_MAX = 19;

interface LogConnJson {
  connections: ConnectionInfo[];
}

/** The state file the worker publishes (ARCHITECTURE.md); only the fields this test reads. */
interface WorkerStateView {
  pid: number;
  reloadSeq: number;
  configGeneration: number;
  lastReload: { seq: number; ok: boolean; message: string } | null;
}

const readState = (path: string): WorkerStateView | undefined => {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as WorkerStateView;
  } catch {
    // The worker replaces the file by rename; a failed parse means "not there yet".
    return undefined;
  }
};

/** A round trip with openssl s_client through `port`: `size` random bytes must come back unchanged. */
const assertRelaysWithSClient = async (port: number, version: 'tls1_3' | 'tls1_2', size: number): Promise<void> => {
  const payload = randomBytes(size);
  const trip = await tlsRoundTrip({ port, version, payload });
  assert.equal(trip.protocol, version === 'tls1_3' ? 'TLSv1.3' : 'TLSv1.2');
  assert.equal(trip.exit.code, 0, `s_client exit status ${JSON.stringify(trip.exit)}`);
  assert.equal(trip.received.length, size);
  assert.equal(sha256(trip.received), sha256(payload));
};

/** Makes `count` complete TLS connections (echo round trip, then close); returns their local ports. */
const makeConnections = async (port: number, count: number): Promise<number[]> => {
  const ports: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const session = await openNodeTlsSession(port);
    const message = `connection ${index} from ${session.localPort}\n`;
    assert.equal((await session.echo(message)).toString(), message);
    ports.push(session.localPort);
    await session.close();
  }
  return ports;
};

/** Lines of `lines` that are the accept line of the connection from `peerPort`. */
const acceptLinesOf = (lines: LogLine[], peerPort: number): LogLine[] =>
  lines.filter((line) => acceptedLinePattern(SERVICE, peerPort).test(line.text));

describe('operator loop: install, start, connect, log-conn, switch-logfile, reload-config, stop', () => {
  let echo: Backend;
  let home: TestHome;
  let acceptPort = 0;
  let secondPort = 0;
  let workerPid = 0;
  /** Opened right after start; must keep relaying through switch-logfile and both reloads. */
  let longLived: NodeTlsSession | undefined;
  let longLivedExchanges = 0;

  const assertLongLivedRelays = async (): Promise<void> => {
    assert.ok(longLived !== undefined, 'the long-lived connection was opened');
    const before = longLived.received().length;
    const message = `long-lived exchange ${longLivedExchanges}\n`;
    longLivedExchanges += 1;
    const received = await longLived.echo(message);
    assert.equal(received.subarray(before).toString(), message);
  };

  before(async () => {
    echo = await startEchoServer();
    [acceptPort, secondPort] = (await getFreePorts(2)) as [number, number];
    home = await createHome({ acceptPort, connectPort: echo.port });
  });

  after(async () => {
    longLived?.socket.destroy();
    await home?.cleanup();
    await echo?.close();
  });

  it('install writes the configuration, job file, job classes and a private test certificate; status: not running (3)', async () => {
    const { files } = home;
    for (const path of [files.config, files.jobFile, files.jobClasses, files.testPem]) {
      assert.ok(existsSync(path), `${path} written by install`);
    }
    assert.equal(statSync(files.testPem).mode & 0o777, 0o600, 'test PEM mode');
    const config = readFileSync(files.config, 'utf8');
    assert.match(config, /^\s*sslVersionMin\s*=\s*TLSv1\.2\s*$/m);
    assert.match(config, new RegExp(`^\\s*accept\\s*=\\s*127\\.0\\.0\\.1:${acceptPort}\\s*$`, 'm'));
    assert.match(config, new RegExp(`^\\s*connect\\s*=\\s*127\\.0\\.0\\.1:${echo.port}\\s*$`, 'm'));
    assert.ok(config.split('\n').some((line) => /^\s*pid\s*=/.test(line) && line.includes(files.pid)), 'pid = the home\'s pid file');
    assert.ok(config.split('\n').some((line) => /^\s*output\s*=/.test(line) && line.includes(files.log)), 'output = the home\'s log');
    const subject = await runCommand('openssl', ['x509', '-in', files.testPem, '-noout', '-subject']);
    assert.equal(subject.code, 0, formatResult(subject));
    assert.match(subject.stdout, /test/i, 'the test certificate says so in its subject');
    const rsa = await runCommand('openssl', ['rsa', '-in', files.testPem, '-check', '-noout']);
    assert.match(rsa.stdout, /RSA key ok/, formatResult(rsa));

    const status = await home.status();
    assert.equal(status.result.code, 3, formatResult(status.result));
    assert.equal(existsSync(files.pid), false);
  });

  it(`start --job-class ${JOB_CLASS} launches one worker with the class's nice value and open-file limit`, async () => {
    const result = await home.cli('start', ['--job-class', JOB_CLASS]);
    assert.equal(result.code, 0, formatResult(result));
    const pid = home.readPidFile();
    assert.ok(pid !== undefined, 'pid file written');
    workerPid = pid;
    assert.ok(isProcessAlive(pid), `worker ${pid} alive`);
    const argv = readProcessArgv(pid);
    assert.ok(argv.includes('run') && argv.includes(home.files.config), `worker command line: ${argv.join(' ')}`);
    assert.match(result.stdout, new RegExp(`\\b${pid}\\b`), 'start prints the pid');
    assert.match(result.stdout, /BATCH/, 'start prints the job class');
    assert.match(result.stdout, new RegExp(SERVICE), 'start prints the services');

    const limits = readJobClassTable(home.files.jobClasses).get(JOB_CLASS);
    assert.ok(limits !== undefined, `${JOB_CLASS} is in ${home.files.jobClasses}`);
    assert.equal(readOpenFileLimits(pid).soft, limits.nofile, 'Max open files (soft) of the worker');
    assert.equal(readNice(pid), Math.min(NICE_MAX, readNice('self') + limits.nice), 'nice value of the worker');

    const status = await home.status();
    assert.equal(status.result.code, 0, formatResult(status.result));
    assert.equal(status.json.pid, pid);
    assert.match(status.json.jobClass ?? '', /BATCH/);
    const service = status.json.services.find((entry) => entry.name === SERVICE);
    assert.ok(service !== undefined, `status lists [${SERVICE}]: ${JSON.stringify(status.json.services)}`);
    assert.deepEqual(service.listeners, [`127.0.0.1:${acceptPort}`]);

    longLived = await openNodeTlsSession(acceptPort, { min: 'TLSv1.3' });
    await assertLongLivedRelays();
  });

  it('relays bytes unchanged for openssl s_client over TLS 1.3 and TLS 1.2 to the echo backend', async () => {
    const connectionsBefore = echo.connectionCount();
    await assertRelaysWithSClient(acceptPort, 'tls1_3', 200_003);
    await assertRelaysWithSClient(acceptPort, 'tls1_2', 150_001);
    assert.equal(echo.connectionCount(), connectionsBefore + 2, 'each TLS session reached the backend');
    // stunnel's close summary counts each direction: the payload went both ways.
    for (const size of [200_003, 150_001]) {
      await waitForLogLine(home.files.log, new RegExp(`^Connection closed: ${size} byte\\(s\\) sent to TLS, ${size} byte\\(s\\) sent to socket$`));
    }
  });

  it('log-conn lists live connections with TLS version and cipher, in --json and in the log', async () => {
    const tls12 = await openNodeTlsSession(acceptPort, { max: 'TLSv1.2' });
    try {
      await tls12.echo('ping\n');
      assert.ok(longLived !== undefined);
      const logLinesBefore = readRawLines(home.files.log).length;

      const plain = await home.cli('log-conn');
      assert.equal(plain.code, 0, formatResult(plain));
      const json = await home.cli('log-conn', ['--json']);
      assert.equal(json.code, 0, formatResult(json));
      const { connections } = JSON.parse(json.stdout) as LogConnJson;

      for (const session of [longLived, tls12]) {
        const listed = connections.find((entry) => entry.peer === `127.0.0.1:${session.localPort}`);
        assert.ok(listed !== undefined, `connection from port ${session.localPort} listed: ${json.stdout}`);
        assert.equal(listed.service, SERVICE);
        assert.equal(listed.target, `127.0.0.1:${echo.port}`);
        assert.equal(listed.tlsVersion, session.protocol);
        assert.ok(
          listed.cipher === session.cipher.name || listed.cipher === session.cipher.standardName,
          `cipher ${listed.cipher} is the negotiated ${session.cipher.name}`,
        );
        assert.ok(listed.bytesToTls > 0 && listed.bytesToSocket > 0, `byte counts: ${JSON.stringify(listed)}`);
        assert.equal(listed.bytesToTls, listed.bytesToSocket, 'an echo sends back what it got');
        assert.ok(listed.ageMs >= listed.idleMs && listed.idleMs >= 0, `age/idle: ${JSON.stringify(listed)}`);
        // The operator's plain output shows each connection too.
        assert.match(plain.stdout, new RegExp(`127\\.0\\.0\\.1:${session.localPort}`));
      }
      assert.match(plain.stdout, /TLSv1\.2/);
      assert.match(plain.stdout, /TLSv1\.3/);

      // The worker wrote the dump into its log (SIGUSR2): both connections, with version and cipher.
      const dump = await waitFor(
        () => {
          const lines = readRawLines(home.files.log).slice(logLinesBefore);
          return lines.some((line) => line.includes(`127.0.0.1:${tls12.localPort}`) && line.includes('TLSv1.2')) ? lines : undefined;
        },
        { what: `the connection dump with port ${tls12.localPort} in ${home.files.log}` },
      );
      assert.ok(dump.some((line) => line.includes(`127.0.0.1:${longLived?.localPort}`) && line.includes('TLSv1.3')), dump.join('\n'));
    } finally {
      await tls12.close();
    }
    await assertLongLivedRelays();
  });

  it('switch-logfile: the archived file holds the earlier lines, the new log the later ones, none lost or doubled', async () => {
    const earlier = await makeConnections(acceptPort, 3);
    for (const port of earlier) {
      const accepted = await waitForLogLine(home.files.log, acceptedLinePattern(SERVICE, port));
      await waitForConnectionClosed(home.files.log, accepted.id);
    }
    const linesBeforeSwitch = readRawLines(home.files.log);

    const switched = await home.cli('switch-logfile');
    assert.equal(switched.code, 0, formatResult(switched));
    // The one line of result names the archived file: LOG.<yyyy-MM-dd.HHmmss> (SPEC.md §2).
    const printed = switched.stdout.split(/[\s,;]+/).filter((token) => token.startsWith(`${home.files.log}.`));
    assert.equal(printed.length, 1, `prints the archived path once: ${switched.stdout}`);
    const archived = printed[0] ?? '';
    assert.match(archived.slice(home.files.log.length), /^\.\d{4}-\d{2}-\d{2}\.\d{6}(-\d+)?$/, 'archived name: LOG.<yyyy-MM-dd.HHmmss>');
    assert.ok(existsSync(archived), `${archived} exists`);
    const firstNewLine = await waitFor(() => readLogLines(home.files.log)[0], { what: `a first line in the new ${home.files.log}` });
    assert.equal(firstNewLine.text, 'Log file reopened');
    assert.deepEqual(readRawLines(archived).slice(0, linesBeforeSwitch.length), linesBeforeSwitch, 'archived file starts with every earlier line');

    const later = await makeConnections(acceptPort, 3);
    for (const port of later) {
      const accepted = await waitForLogLine(home.files.log, acceptedLinePattern(SERVICE, port));
      await waitForConnectionClosed(home.files.log, accepted.id);
    }
    await assertLongLivedRelays();

    const archivedLines = readLogLines(archived);
    const newLines = readLogLines(home.files.log);
    for (const [ports, here, elsewhere, where] of [
      [earlier, archivedLines, newLines, 'archived'],
      [later, newLines, archivedLines, 'new'],
    ] as const) {
      for (const port of ports) {
        const accepted = acceptLinesOf(here, port);
        assert.equal(accepted.length, 1, `one accept line for port ${port} in the ${where} log`);
        assert.equal(acceptLinesOf(elsewhere, port).length, 0, `no accept line for port ${port} outside the ${where} log`);
        const id = accepted[0]?.id;
        const closedHere = here.filter((line) => line.id === id && line.text.startsWith('Connection closed:'));
        const closedElsewhere = elsewhere.filter((line) => line.id === id && line.text.startsWith('Connection closed:'));
        assert.equal(closedHere.length, 1, `one close line for connection [${id}] in the ${where} log`);
        assert.equal(closedElsewhere.length, 0, `no close line for connection [${id}] outside the ${where} log`);
      }
    }
    assert.equal(archivedLines.filter((line) => line.text === 'Log file reopened').length, 0, 'the reopen is logged only in the new file');
    assert.deepEqual(findMalformedLines(archived), []);
    assert.deepEqual(findMalformedLines(home.files.log), []);
    const archivedBytes = readFileSync(archived);

    const again = await home.cli('switch-logfile', ['--json']);
    assert.equal(again.code, 0, formatResult(again));
    const paths = JSON.parse(again.stdout) as { archived: string; log: string };
    assert.equal(paths.log, home.files.log);
    assert.notEqual(paths.archived, archived, 'a second switch gets its own archived name');
    assert.equal(readLogLines(paths.archived)[0]?.text, 'Log file reopened', 'the second archive is the log the first switch opened');
    assert.ok(readFileSync(archived).equals(archivedBytes), 'the first archive is left alone by the second switch');
    const reopened = await waitFor(() => readLogLines(home.files.log)[0], { what: `a first line in ${home.files.log} after the second switch` });
    assert.equal(reopened.text, 'Log file reopened');
  });

  it('reload-config adds a second service that then answers; the first and the long-lived connection keep working', async () => {
    const before = await home.status();
    const generation = before.json.configGeneration ?? 0;
    appendFileSync(
      home.files.config,
      `\n[${SECOND_SERVICE}]\n    accept = 127.0.0.1:${secondPort}\n    connect = 127.0.0.1:${echo.port}\n    cert = ${home.files.testPem}\n`,
    );
    const reload = await home.cli('reload-config');
    assert.equal(reload.code, 0, formatResult(reload));

    const after = await home.status();
    assert.equal(after.json.pid, workerPid, 'same worker');
    assert.equal(after.json.configGeneration, generation + 1);
    assert.equal(after.json.lastReload?.ok, true, JSON.stringify(after.json.lastReload));
    const second = after.json.services.find((service) => service.name === SECOND_SERVICE);
    assert.deepEqual(second?.listeners, [`127.0.0.1:${secondPort}`], JSON.stringify(after.json.services));

    await assertRelaysWithSClient(secondPort, 'tls1_3', 70_001);
    await assertRelaysWithSClient(acceptPort, 'tls1_2', 70_002);
    await assertLongLivedRelays();
  });

  it('a broken edit is refused with FILE:LINE (exit 6); old services and established connections keep serving', async () => {
    const generation = (await home.status()).json.configGeneration;
    appendFileSync(home.files.config, 'bogusOption = 1\n');
    const brokenLine = readFileSync(home.files.config, 'utf8').split('\n').findIndex((line) => line.startsWith('bogusOption')) + 1;

    const reload = await home.cli('reload-config');
    assert.equal(reload.code, 6, formatResult(reload));
    assert.ok(reload.stderr.includes(`${home.files.config}:${brokenLine}`), `stderr names ${home.files.config}:${brokenLine}\n${reload.stderr}`);
    assert.match(reload.stderr, /bogusOption/);

    assert.equal((await home.status()).json.configGeneration, generation, 'the worker kept its configuration');
    await assertRelaysWithSClient(acceptPort, 'tls1_3', 50_001);
    await assertRelaysWithSClient(secondPort, 'tls1_3', 50_002);
    await assertLongLivedRelays();
  });

  it('the worker itself, sent SIGHUP with the broken file, keeps the old configuration serving and says why', async () => {
    const state = readState(home.files.state);
    assert.ok(state !== undefined, `state file ${home.files.state}`);
    process.kill(workerPid, 'SIGHUP');
    const reloaded = await waitFor(
      () => {
        const current = readState(home.files.state);
        return current !== undefined && current.reloadSeq > state.reloadSeq ? current : undefined;
      },
      { what: `reloadSeq to pass ${state.reloadSeq} in ${home.files.state}` },
    );
    assert.equal(reloaded.lastReload?.ok, false, JSON.stringify(reloaded.lastReload));
    assert.equal(reloaded.configGeneration, state.configGeneration);
    assert.match(reloaded.lastReload?.message ?? '', /bogusOption/);
    await waitForLogLine(home.files.log, /bogusOption/);

    await assertRelaysWithSClient(acceptPort, 'tls1_2', 40_001);
    await assertRelaysWithSClient(secondPort, 'tls1_3', 40_002);
    await assertLongLivedRelays();
  });

  it('stop: exit 0, pid file gone, worker gone, both accept ports refuse connections', async () => {
    const result = await home.cli('stop');
    assert.equal(result.code, 0, formatResult(result));
    assert.equal(existsSync(home.files.pid), false, 'pid file removed');
    assert.equal(isProcessAlive(workerPid), false, `worker ${workerPid} gone`);
    assert.equal(await isAccepting(acceptPort), false, `127.0.0.1:${acceptPort} refuses`);
    assert.equal(await isAccepting(secondPort), false, `127.0.0.1:${secondPort} refuses`);
    await waitFor(() => longLived?.socket.destroyed === true || longLived?.socket.readableEnded === true, {
      what: 'the long-lived connection to be closed by the stopped worker',
    });
    const status = await home.status();
    assert.equal(status.result.code, 3, formatResult(status.result));
  });
});
