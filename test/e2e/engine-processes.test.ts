// The N-process engine (`processes = N`), run as an operator would with the built CLI and the real
// detached worker: the worker (the pid in the pid file) binds, accepts and hands each connection to
// the engine process with the fewest open connections; its engine processes are its children running
// engine-process.js. Checked from outside: which process holds each established socket (/proc), bytes
// relayed exactly, one log with sequential ids, log-conn / reload-config / switch-logfile / stop /
// stop --drain across children, signals sent to a child ignored, kill -9 of a child (replaced) and of
// the worker (children follow), TLS resumption whichever child a connection lands on, maxConnections
// for the whole worker, and `processes = 1` / the default.
import { describe, it, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import type { SecureVersion, TLSSocket } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { exchangePlain, sha256, startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createHome } from '../helpers/home.js';
import type { StatusJson, TestHome } from '../helpers/home.js';
import { getFreePorts, isAccepting, waitUntilRefusing } from '../helpers/ports.js';
import { formatResult, isProcessAlive, runCommand, startCli, stopProcess } from '../helpers/processes.js';
import { CONNECTION_CLOSED, acceptedLinePattern, findMalformedLines, readLogLines, readRawLines, waitForLogLine } from '../helpers/stunnel-log.js';
import type { LogLine } from '../helpers/stunnel-log.js';
import { openNodeTlsSession } from '../helpers/tls-peers.js';
import type { NodeTlsSession } from '../helpers/tls-peers.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { findWorkersOf } from '../helpers/worker.js';
import {
  EngineProcessTracker,
  attemptTlsHandshake,
  childrenOf,
  clientPortOfProcess,
  countByOwner,
  editConfig,
  engineProcessesOf,
  isEngineProcess,
  openResumingSClient,
  openTlsConnection,
  parentPidOf,
  serviceSection,
  waitForEngineProcesses,
  waitForSocketOwners,
} from '../helpers/engine-processes.js';
import type { OpenTlsConnection, ResumingSClient } from '../helpers/engine-processes.js';
import type { ConnectionInfo, WorkerState } from '../../src/worker/state-file.js';

const SERVICE = 'MT9750';
const MAX_ENGINE_PROCESSES = 64;
const ONE_MIB = 1024 * 1024;
/** How long a child has to outlive a SIGKILLed worker at most ("within a few seconds"). */
const ORPHAN_EXIT_BOUND_MS = 10_000;
/** How long a signal sent to a child is given to (wrongly) take effect before we look. */
const SIGNAL_SETTLE_MS = 1_500;

interface EngineHome {
  readonly home: TestHome;
  readonly echo: Backend;
  readonly acceptPort: number;
  readonly pid: number;
  /** The engine processes right after start. */
  readonly engines: number[];
  readonly tracker: EngineProcessTracker;
  /** Registers something to close in `finally` (sessions, s_clients). */
  defer(cleanup: () => unknown): void;
}

interface EngineHomeOptions {
  /** `processes = N`; null: no `processes` line (the default). */
  processes: number | null;
  /** How many engine processes the worker must have after start. */
  expectEngines: number;
  /** More global lines (`maxConnections = 3`). */
  globals?: readonly string[];
  /** More sections, given the home and the echo backend. */
  tail?: (home: TestHome, echo: Backend) => string[];
  /** Environment of `stunnelctl start` (and so of the job and the worker), on top of this process's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * An installed home whose configuration has `processes = N` (and any other global option), started
 * with `stunnelctl start`, in front of an echo backend. Always stops the worker, any engine process
 * it left behind, the backend and every registered peer.
 */
const withEngineHome = async (options: EngineHomeOptions, body: (context: EngineHome) => Promise<void>): Promise<void> => {
  const echo = await startEchoServer();
  const [acceptPort] = (await getFreePorts(1)) as [number];
  const tracker = new EngineProcessTracker();
  const cleanups: Array<() => unknown> = [];
  let home: TestHome | undefined;
  let pid: number | undefined;
  try {
    home = await createHome({ acceptPort, connectPort: echo.port });
    const globals = [...(options.processes === null ? [] : [`processes = ${options.processes}`]), ...(options.globals ?? [])];
    editConfig(home.files.config, globals, options.tail?.(home, echo) ?? []);
    if (options.processes === null) assert.doesNotMatch(readFileSync(home.files.config, 'utf8'), /^\s*processes\s*=/m);
    const start = await home.cli('start', [], options.env === undefined ? {} : { env: { ...process.env, ...options.env } });
    assert.equal(start.code, 0, formatResult(start));
    pid = home.readPidFile();
    assert.ok(pid !== undefined, 'start wrote the pid file');
    const engines = options.expectEngines > 0 ? await waitForEngineProcesses(pid, options.expectEngines) : [];
    tracker.add(engines);
    await body({ home, echo, acceptPort, pid, engines, tracker, defer: (cleanup) => cleanups.push(cleanup) });
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // a peer that is already gone
      }
    }
    if (pid !== undefined && isProcessAlive(pid)) tracker.observe(pid);
    await home?.cleanup();
    await tracker.stopAll();
    await echo.close();
  }
};

/** Opens `count` Node TLS sessions one after the other (each handshake complete before the next). */
const openSessions = async (context: EngineHome, port: number, count: number): Promise<NodeTlsSession[]> => {
  const sessions: NodeTlsSession[] = [];
  for (let index = 0; index < count; index += 1) {
    const session = await openNodeTlsSession(port);
    context.defer(() => session.socket.destroy());
    sessions.push(session);
  }
  return sessions;
};

const assertEchoes = async (sessions: readonly NodeTlsSession[], label: string): Promise<void> => {
  await Promise.all(
    sessions.map(async (session) => {
      const before = session.received().length;
      const message = `${label} via ${session.localPort}\n`;
      const received = await session.echo(message);
      assert.equal(received.subarray(before).toString(), message, `echo through the connection from port ${session.localPort}`);
    }),
  );
};

/** The local ports of the s_client processes' connections to `port` (read from /proc). */
const clientPortsOf = (clients: readonly ResumingSClient[], port: number): Promise<number[]> =>
  waitFor(
    () => {
      const found = clients.map((client) => clientPortOfProcess(client.process.pid, port));
      return found.every((value) => value !== undefined) ? (found as number[]) : undefined;
    },
    { what: `the local ports of the ${clients.length} s_client connections` },
  );

const describeOwners = (owners: ReadonlyMap<number, number>): string =>
  [...owners].map(([port, owner]) => `${port}->${owner}`).join(' ');

/** The engine process holding the connection from `session`, given an owners map. */
const ownerOf = (owners: ReadonlyMap<number, number>, session: { localPort: number }): number => {
  const owner = owners.get(session.localPort);
  assert.ok(owner !== undefined, `an owner for the connection from port ${session.localPort}`);
  return owner;
};

/** Opens sessions until one lands on each engine process; returns them by engine (the rest are closed). */
const onePerEngine = async (context: EngineHome, engines: readonly number[]): Promise<Map<number, NodeTlsSession>> => {
  const sessions = await openSessions(context, context.acceptPort, engines.length);
  const owners = await waitForSocketOwners(context.pid, engines, context.acceptPort, sessions.map((session) => session.localPort));
  const byEngine = new Map<number, NodeTlsSession>();
  for (const session of sessions) byEngine.set(ownerOf(owners, session), session);
  assert.equal(byEngine.size, engines.length, `${engines.length} connections opened one after another land one on each engine process: ${describeOwners(owners)}`);
  return byEngine;
};

const readState = (path: string): WorkerState | undefined => {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as WorkerState;
  } catch {
    // replaced by rename while we read
    return undefined;
  }
};

const acceptLineOf = (lines: readonly LogLine[], port: number, service = SERVICE): LogLine | undefined =>
  lines.find((line) => acceptedLinePattern(service, port).test(line.text));

const waitForAcceptId = async (logFile: string, port: number, service = SERVICE): Promise<string> =>
  (await waitForLogLine(logFile, acceptedLinePattern(service, port))).id;

const closeLinesOf = (lines: readonly LogLine[], id: string): LogLine[] => lines.filter((line) => line.id === id && CONNECTION_CLOSED.test(line.text));

/** Accept-line ids (logId = sequential): all numeric, distinct, and consecutive. */
const assertSequentialIds = (ids: readonly string[], where: string): void => {
  assert.ok(ids.length > 0, `accept lines in ${where}`);
  for (const id of ids) assert.match(id, /^\d+$/, `a sequential connection id in ${where}`);
  const numbers = ids.map(Number).sort((a, b) => a - b);
  assert.equal(new Set(numbers).size, numbers.length, `connection ids are unique in ${where}: ${numbers.join(',')}`);
  const first = numbers[0] ?? 0;
  assert.deepEqual(numbers, numbers.map((_, index) => first + index), `connection ids are consecutive in ${where}: ${numbers.join(',')}`);
};

const statusService = (json: StatusJson, name = SERVICE) => json.services.find((service) => service.name === name);

const waitForStatusCounts = (home: TestHome, active: number, total: number) =>
  waitFor(
    async () => {
      const { result, json } = await home.status();
      if (result.code !== 0) throw new Error(formatResult(result));
      const service = statusService(json);
      if (service?.active !== active || service.total !== total || json.connections.active !== active || json.connections.total !== total) {
        throw new Error(`status: [${SERVICE}] active ${service?.active} total ${service?.total}, connections ${JSON.stringify(json.connections)}`);
      }
      return json;
    },
    { what: `status --json to report ${active} active and ${total} total connection(s) of [${SERVICE}] and of the worker` },
  );

describe('engine processes: layout and placement', () => {
  it('processes = 2: exactly two engine processes, children of the worker; 8 connections split 4/4; log-conn, status and ids span both', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, pid, engines, acceptPort } = context;
      assert.equal(engines.length, 2);
      for (const engine of engines) {
        assert.notEqual(engine, pid, 'an engine process is not the worker');
        assert.equal(parentPidOf(engine), pid, `engine process ${engine} is a child of the worker ${pid}`);
      }
      assert.deepEqual(childrenOf(pid).sort((a, b) => a - b), engines, 'the worker has no children but its engine processes');
      assert.deepEqual(findWorkersOf(home.files.config), [pid], 'one worker (the engine processes are not `run` processes)');

      const sessions = await openSessions(context, acceptPort, 8);
      const owners = await waitForSocketOwners(pid, engines, acceptPort, sessions.map((session) => session.localPort));
      assert.deepEqual([...countByOwner(engines, owners).values()], [4, 4], `fewest open connections first: 8 connections opened one after another split 4/4 (${describeOwners(owners)})`);
      await assertEchoes(sessions, 'placement');

      const ids = new Map<number, string>();
      for (const session of sessions) ids.set(session.localPort, await waitForAcceptId(home.files.log, session.localPort));
      assertSequentialIds([...ids.values()], home.files.log);

      const logLinesBefore = readRawLines(home.files.log).length;
      const logConn = await home.cli('log-conn', ['--json']);
      assert.equal(logConn.code, 0, formatResult(logConn));
      const dump = JSON.parse(logConn.stdout) as { pid: number; connections: ConnectionInfo[] };
      assert.equal(dump.pid, pid);
      assert.equal(dump.connections.length, 8, `log-conn lists the 8 connections of both engine processes: ${logConn.stdout}`);
      for (const session of sessions) {
        const listed = dump.connections.filter((entry) => entry.peer === `127.0.0.1:${session.localPort}`);
        assert.equal(listed.length, 1, `connection from port ${session.localPort} listed once`);
        assert.equal(listed[0]?.id, ids.get(session.localPort), 'log-conn gives the id of the accept line');
        assert.equal(listed[0]?.service, SERVICE);
        assert.ok((listed[0]?.bytesToSocket ?? 0) > 0 && listed[0]?.bytesToTls === listed[0]?.bytesToSocket, JSON.stringify(listed[0]));
      }
      const dumped = await waitFor(
        () => {
          const lines = readRawLines(home.files.log).slice(logLinesBefore);
          return sessions.every((session) => lines.some((line) => line.includes(`127.0.0.1:${session.localPort}`))) ? lines : undefined;
        },
        { what: `the SIGUSR2 dump in ${home.files.log} to name all 8 peers` },
      );
      assert.ok(dumped.length >= 8, dumped.join('\n'));

      const status = await waitForStatusCounts(home, 8, 8);
      assert.equal(status.pid, pid, 'status reports the one worker');
      assert.equal(status.state, 'running');
      assert.deepEqual([...(status.engineProcesses ?? [])].sort((a, b) => a - b), engines, 'status --json names the engine processes');
      const statusText = await home.cli('status');
      const enginePid = `(?:${engines.map(String).join('|')})`;
      assert.match(statusText.stdout, new RegExp(`engine processes: 2 \\(pids ${enginePid}, ${enginePid}\\)`), statusText.stdout);

      // Fewest open connections, not turns: with 4 + 4, close 2 on the first engine process (2 + 4);
      // the next 2 connections must both go to it (round robin would give 3 + 5).
      const [emptier, fuller] = engines as [number, number];
      const toClose = sessions.filter((session) => owners.get(session.localPort) === emptier).slice(0, 2);
      await Promise.all(toClose.map((session) => session.close()));
      await waitForStatusCounts(home, 6, 8);
      const next = await openSessions(context, acceptPort, 2);
      const nextOwners = await waitForSocketOwners(pid, engines, acceptPort, next.map((session) => session.localPort));
      assert.deepEqual([...nextOwners.values()], [emptier, emptier], `at 2 + 4 open, the next two go to ${emptier}, not ${fuller}: ${describeOwners(nextOwners)}`);
      await assertEchoes(next, 'rebalanced');
      for (const session of next) ids.set(session.localPort, await waitForAcceptId(home.files.log, session.localPort));
      assertSequentialIds([...ids.values()], home.files.log);

      const open = [...sessions.filter((session) => !toClose.includes(session)), ...next];
      await Promise.all(open.map((session) => session.close()));
      await waitForStatusCounts(home, 0, 10);
      const lines = readLogLines(home.files.log);
      for (const [port, id] of ids) assert.equal(closeLinesOf(lines, id).length, 1, `one close line for connection [${id}] from port ${port}`);
      assert.deepEqual(findMalformedLines(home.files.log), []);
    });
  });

  it('processes = 2: 1 MiB each way through each of 4 concurrent connections on both engine processes, byte-exact', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, pid, engines, acceptPort, echo } = context;
      const connections: OpenTlsConnection[] = [];
      for (let index = 0; index < 4; index += 1) {
        const connection = await openTlsConnection(acceptPort);
        context.defer(() => connection.socket.destroy());
        connections.push(connection);
      }
      const owners = await waitForSocketOwners(pid, engines, acceptPort, connections.map((connection) => connection.localPort));
      assert.deepEqual([...countByOwner(engines, owners).values()], [2, 2], describeOwners(owners));

      const payloads = connections.map(() => randomBytes(ONE_MIB));
      const digests = await Promise.all(connections.map((connection, index) => connection.exchange(payloads[index] as Buffer)));
      digests.forEach((digest, index) => {
        assert.deepEqual(digest, { bytes: ONE_MIB, sha256: sha256(payloads[index] as Buffer) }, `connection ${index} (port ${connections[index]?.localPort}) got its own 1 MiB back`);
      });
      assert.equal(echo.connectionCount(), 4, 'each connection reached the backend once');
      for (const connection of connections) {
        const id = await waitForAcceptId(home.files.log, connection.localPort);
        const closed = await waitFor(() => closeLinesOf(readLogLines(home.files.log), id)[0], { what: `the close line of connection [${id}]` });
        assert.equal(closed.text, `Connection closed: ${ONE_MIB} byte(s) sent to TLS, ${ONE_MIB} byte(s) sent to socket`);
      }
    });
  });

  it('processes = 1: no child process at all; relays 1 MiB each way exactly; log-conn lists the connection', async () => {
    await withEngineHome({ processes: 1, expectEngines: 0 }, async (context) => {
      const { home, pid, acceptPort } = context;
      const connection = await openTlsConnection(acceptPort);
      context.defer(() => connection.socket.destroy());
      const logConn = await home.cli('log-conn', ['--json']);
      assert.equal(logConn.code, 0, formatResult(logConn));
      const dump = JSON.parse(logConn.stdout) as { connections: ConnectionInfo[] };
      assert.deepEqual(dump.connections.map((entry) => entry.peer), [`127.0.0.1:${connection.localPort}`]);
      assert.deepEqual(childrenOf(pid), [], 'processes = 1: the worker has no children');
      const payload = randomBytes(ONE_MIB);
      assert.deepEqual(await connection.exchange(payload), { bytes: ONE_MIB, sha256: sha256(payload) });
      assert.deepEqual(childrenOf(pid), [], 'still no children after serving');
      const status = await home.status();
      assert.deepEqual(status.json.engineProcesses, [], 'status --json: no engine processes');
      assert.match((await home.cli('status')).stdout, /engine processes: none \(the worker serves every connection itself\)/);
    });
  });

  it('without a processes line: as many engine processes as cores (1 core: none)', async () => {
    const cores = Math.min(availableParallelism(), MAX_ENGINE_PROCESSES);
    const expected = cores > 1 ? cores : 0;
    await withEngineHome({ processes: null, expectEngines: expected }, async (context) => {
      const sessions = await openSessions(context, context.acceptPort, Math.max(2, expected));
      await assertEchoes(sessions, 'default');
      if (expected === 0) {
        assert.deepEqual(childrenOf(context.pid), []);
        return;
      }
      const owners = await waitForSocketOwners(context.pid, context.engines, context.acceptPort, sessions.map((session) => session.localPort));
      assert.ok([...countByOwner(context.engines, owners).values()].every((count) => count === 1), describeOwners(owners));
    });
  });

  it("engine processes run with glibc's trim settings (not the worker); an operator's own allocator settings win", async () => {
    /** The environment a process was started with (/proc/PID/environ), as name -> value. */
    const environOf = (pid: number): Map<string, string> =>
      new Map(
        readFileSync(`/proc/${pid}/environ`, 'latin1')
          .split('\0')
          .filter((entry) => entry.includes('='))
          .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as [string, string]),
      );
    const cases: Array<{ env: NodeJS.ProcessEnv; trim: string | undefined; topPad: string | undefined; what: string }> = [
      { env: {}, trim: '73728', topPad: '0', what: 'by default' },
      { env: { MALLOC_TRIM_THRESHOLD_: '262144' }, trim: '262144', topPad: '0', what: "with the operator's MALLOC_TRIM_THRESHOLD_" },
      { env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, trim: undefined, topPad: undefined, what: "with the operator's GLIBC_TUNABLES" },
    ];
    for (const { env, trim, topPad, what } of cases) {
      const unset = { MALLOC_TRIM_THRESHOLD_: undefined, MALLOC_TOP_PAD_: undefined, GLIBC_TUNABLES: undefined };
      await withEngineHome({ processes: 2, expectEngines: 2, env: { ...unset, ...env } }, async ({ pid, engines }) => {
        for (const engine of engines) {
          const environ = environOf(engine);
          assert.equal(environ.get('MALLOC_TRIM_THRESHOLD_'), trim, `engine process ${engine}: MALLOC_TRIM_THRESHOLD_ ${what}`);
          assert.equal(environ.get('MALLOC_TOP_PAD_'), topPad, `engine process ${engine}: MALLOC_TOP_PAD_ ${what}`);
        }
        const worker = environOf(pid);
        assert.equal(worker.get('MALLOC_TOP_PAD_'), undefined, `the worker itself is started as the job file says ${what}`);
      });
    }
  });

  it('small messages do not make an engine process shrink and regrow its heap each time (brk counted by strace)', async () => {
    // The trim threshold given to engine processes must stay above Node's 64 KiB socket read buffer:
    // at 64 KiB every round trip cost a brk or two (5,563 in 3,000 round trips), at 72 KiB a few dozen.
    const ROUND_TRIPS = 1000;
    const MAX_BRK_CALLS = 100;
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const session = await openNodeTlsSession(context.acceptPort);
      context.defer(() => session.socket.destroy());
      const owners = await waitForSocketOwners(context.pid, context.engines, context.acceptPort, [session.localPort]);
      const engine = ownerOf(owners, session);
      const roundTrips = async (count: number, label: string): Promise<void> => {
        for (let index = 0; index < count; index += 1) {
          const before = session.received().length;
          const message = `${label} ${index}`.padEnd(64, '.');
          const received = await session.echo(message);
          assert.equal(received.subarray(before).toString(), message, `round trip ${index} of ${label}`);
        }
      };
      await roundTrips(200, 'warm-up');
      const directory = mkdtempSync(join(tmpdir(), 'stunnelctl-brk-'));
      context.defer(() => rmSync(directory, { recursive: true, force: true }));
      const countFile = join(directory, 'strace.txt');
      const strace = spawn('strace', ['-f', '-c', '-e', 'trace=brk', '-o', countFile, '-p', String(engine)], { stdio: ['ignore', 'ignore', 'pipe'] });
      const exited = new Promise<number | null>((resolve, reject) => {
        strace.once('error', (error) => reject(new Error(`strace (Debian package strace) could not run: ${error.message}`)));
        strace.once('exit', (code) => resolve(code));
      });
      context.defer(() => strace.kill('SIGKILL'));
      let stderr = '';
      strace.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      await waitFor(
        () => {
          if (!/attached/.test(stderr)) throw new Error(`strace has not attached to ${engine} yet: ${stderr.trim()}`);
          return true;
        },
        { what: `strace to attach to engine process ${engine}` },
      );
      await roundTrips(ROUND_TRIPS, 'counted');
      strace.kill('SIGINT');
      await withTimeout(exited, 10_000, 'strace to write its counts');
      assert.match(stderr, /detached/, `strace detached from the engine process:\n${stderr}`);
      const summary = readFileSync(countFile, 'utf8');
      // strace -c writes no table at all when it counted no call: zero brk calls, the best case.
      if (summary.trim() !== '') assert.match(summary, /calls\s+errors\s+syscall/, `strace -c wrote its summary table:\n${summary}`);
      const brkLine = summary.split('\n').find((line) => /\sbrk$/.test(line.trim()));
      const calls = brkLine === undefined ? 0 : Number(brkLine.trim().split(/\s+/)[3]);
      assert.ok(Number.isInteger(calls), `a brk count in strace's summary:\n${summary}`);
      assert.ok(calls < MAX_BRK_CALLS, `engine process ${engine}: ${calls} brk calls in ${ROUND_TRIPS} round trips of 64 bytes (fewer than ${MAX_BRK_CALLS} expected)\n${summary}`);
    });
  });

  it('processes = 0, 65 or not a number: start refuses with FILE:LINE (exit 6) and no worker runs', async () => {
    const [acceptPort, connectPort] = (await getFreePorts(2)) as [number, number];
    const home = await createHome({ acceptPort, connectPort });
    try {
      for (const value of ['0', '65', 'two', '-1']) {
        editConfig(home.files.config, [`processes = ${value}`]);
        const line = readFileSync(home.files.config, 'utf8').split('\n').findIndex((text) => /^processes\s*=/.test(text)) + 1;
        const start = await home.cli('start');
        assert.equal(start.code, 6, `processes = ${value}\n${formatResult(start)}`);
        assert.ok(start.stderr.includes(`${home.files.config}:${line}`), `stderr names ${home.files.config}:${line}\n${start.stderr}`);
        assert.match(start.stderr, /processes/);
        assert.equal(home.readPidFile(), undefined);
        assert.deepEqual(findWorkersOf(home.files.config), []);
      }
    } finally {
      await home.cleanup();
    }
  });
});

describe('engine processes: operator commands across children', () => {
  it('reload-config: a new service is served by both engine processes; a broken edit is refused and both keep the old configuration', async () => {
    const [secondPort] = (await getFreePorts(1)) as [number];
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, pid, engines, acceptPort, echo } = context;
      const held = await onePerEngine(context, engines);
      const generation = (await home.status()).json.configGeneration ?? 0;

      appendFileSync(home.files.config, `\n${serviceSection('added', secondPort, echo.port, home.files.testPem).join('\n')}\n`);
      const reload = await home.cli('reload-config');
      assert.equal(reload.code, 0, formatResult(reload));
      const afterReload = (await home.status()).json;
      assert.equal(afterReload.pid, pid);
      assert.equal(afterReload.configGeneration, generation + 1);
      assert.deepEqual(statusService(afterReload, 'added')?.listeners, [`127.0.0.1:${secondPort}`], JSON.stringify(afterReload.services));
      const enginesAfterReload = engineProcessesOf(pid);
      context.tracker.add(enginesAfterReload);
      assert.equal(enginesAfterReload.length, 2, `two engine processes after the reload: [${enginesAfterReload.join(', ')}]`);

      const added = await openSessions(context, secondPort, 4);
      const addedOwners = await waitForSocketOwners(pid, enginesAfterReload, secondPort, added.map((session) => session.localPort));
      assert.deepEqual([...countByOwner(enginesAfterReload, addedOwners).values()], [2, 2], `the new service is served by both engine processes: ${describeOwners(addedOwners)}`);
      await assertEchoes(added, 'new service');
      for (const session of added) await waitForAcceptId(home.files.log, session.localPort, 'added');
      await assertEchoes([...held.values()], 'held across the reload');

      appendFileSync(home.files.config, 'bogusOption = 1\n');
      const broken = await home.cli('reload-config');
      assert.equal(broken.code, 6, formatResult(broken));
      assert.match(broken.stderr, /bogusOption/);
      // reload-config checks the file before signalling; the worker itself must refuse it too.
      const stateBefore = readState(home.files.state);
      assert.ok(stateBefore !== undefined, `state file ${home.files.state}`);
      process.kill(pid, 'SIGHUP');
      const refused = await waitFor(
        () => {
          const current = readState(home.files.state);
          return current !== undefined && current.reloadSeq > stateBefore.reloadSeq ? current : undefined;
        },
        { what: `the worker to answer SIGHUP (reloadSeq past ${stateBefore.reloadSeq})` },
      );
      assert.equal(refused.lastReload?.ok, false, JSON.stringify(refused.lastReload));
      assert.match(refused.lastReload?.message ?? '', /bogusOption/);
      const afterBroken = (await home.status()).json;
      assert.equal(afterBroken.configGeneration, generation + 1, 'the worker kept its configuration');
      assert.deepEqual(statusService(afterBroken, 'added')?.listeners, [`127.0.0.1:${secondPort}`], 'the added service is still bound');
      const enginesAfterBroken = engineProcessesOf(pid);
      context.tracker.add(enginesAfterBroken);
      assert.equal(enginesAfterBroken.length, 2);

      const first = await openSessions(context, acceptPort, 4);
      const second = await openSessions(context, secondPort, 2);
      const firstOwners = await waitForSocketOwners(pid, enginesAfterBroken, acceptPort, first.map((session) => session.localPort));
      const secondOwners = await waitForSocketOwners(pid, enginesAfterBroken, secondPort, second.map((session) => session.localPort));
      for (const engine of enginesAfterBroken) {
        assert.ok(countByOwner(enginesAfterBroken, firstOwners).get(engine)! > 0, `[${SERVICE}] still served by ${engine}: ${describeOwners(firstOwners)}`);
      }
      assert.ok([...secondOwners.values()].length === 2, describeOwners(secondOwners));
      await assertEchoes([...first, ...second, ...added, ...held.values()], 'after the refused reload');
    });
  });

  it('switch-logfile under load on both engine processes: every line exactly once in the old or the new file, ids unique and sequential', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, engines, acceptPort } = context;
      // One long-lived connection per engine process: accepted before the switch, closed after it.
      const held = await onePerEngine(context, engines);
      await assertEchoes([...held.values()], 'before the switch');

      const ports: number[] = [];
      let stopLoad = false;
      const MAX_LOAD_CONNECTIONS = 150;
      const loader = async (): Promise<void> => {
        try {
          while (!stopLoad && ports.length < MAX_LOAD_CONNECTIONS) {
            const session = await openNodeTlsSession(acceptPort);
            try {
              ports.push(session.localPort);
              await session.echo(`load ${session.localPort}\n`);
            } finally {
              await session.close();
            }
          }
        } catch (error) {
          // One failed connection ends the load: the waits below then fail naming it.
          stopLoad = true;
          throw error;
        }
      };
      const loaders = [loader(), loader(), loader(), loader()];
      let archived = '';
      try {
        await waitFor(() => ports.length >= 12, { what: '12 connections of load before the switch', timeoutMs: 20_000 });
        const switched = await home.cli('switch-logfile', ['--json']);
        assert.equal(switched.code, 0, formatResult(switched));
        archived = (JSON.parse(switched.stdout) as { archived: string }).archived;
        const atSwitch = ports.length;
        await waitFor(() => ports.length >= atSwitch + 12, { what: '12 connections of load after the switch', timeoutMs: 20_000 });
      } finally {
        stopLoad = true;
        const settled = await Promise.allSettled(loaders);
        for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
      }
      await assertEchoes([...held.values()], 'after the switch');
      await Promise.all([...held.values()].map((session) => session.close()));
      const allPorts = [...ports, ...[...held.values()].map((session) => session.localPort)];

      // Every accept line and every close line, wherever it landed.
      const bothFiles = (): LogLine[] => [...readLogLines(archived), ...readLogLines(home.files.log)];
      await waitFor(
        () => {
          const lines = bothFiles();
          return allPorts.every((port) => {
            const accepted = acceptLineOf(lines, port);
            return accepted !== undefined && closeLinesOf(lines, accepted.id).length > 0;
          });
        },
        { what: `accept and close lines of all ${allPorts.length} connections in ${archived} + ${home.files.log}` },
      );
      const oldLines = readLogLines(archived);
      const newLines = readLogLines(home.files.log);
      assert.equal(newLines[0]?.text, 'Log file reopened', 'the new log starts with the reopen line');
      assert.equal(oldLines.filter((line) => line.text === 'Log file reopened').length, 0);
      assert.deepEqual(findMalformedLines(archived), []);
      assert.deepEqual(findMalformedLines(home.files.log), []);
      const ids: string[] = [];
      let acceptedInOld = 0;
      let acceptedInNew = 0;
      for (const port of allPorts) {
        const inOld = oldLines.filter((line) => acceptedLinePattern(SERVICE, port).test(line.text));
        const inNew = newLines.filter((line) => acceptedLinePattern(SERVICE, port).test(line.text));
        assert.equal(inOld.length + inNew.length, 1, `exactly one accept line for port ${port} (old ${inOld.length}, new ${inNew.length})`);
        acceptedInOld += inOld.length;
        acceptedInNew += inNew.length;
        const id = (inOld[0] ?? inNew[0])?.id ?? '';
        ids.push(id);
        const closes = closeLinesOf(oldLines, id).length + closeLinesOf(newLines, id).length;
        assert.equal(closes, 1, `exactly one close line for connection [${id}] (port ${port}) across both files`);
      }
      assert.ok(acceptedInOld > 0 && acceptedInNew > 0, `connections accepted on both sides of the switch (old ${acceptedInOld}, new ${acceptedInNew})`);
      for (const session of held.values()) {
        const id = acceptLineOf(oldLines, session.localPort)?.id;
        assert.ok(id !== undefined, `the held connection from ${session.localPort} was accepted before the switch`);
        assert.equal(closeLinesOf(newLines, id).length, 1, `its close line (logged by its engine process after the switch) is in the new file`);
      }
      assertSequentialIds(ids, `${archived} + ${home.files.log}`);
    });
  });

  it('signals sent to an engine process directly are ignored: it lives on, nothing is reloaded, reopened or dumped', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, pid, engines, acceptPort } = context;
      const held = await onePerEngine(context, engines);
      await assertEchoes([...held.values()], 'before the signals');
      const target = engines[0] as number;
      const stateBefore = readState(home.files.state);
      assert.ok(stateBefore !== undefined, `state file ${home.files.state}`);
      const logLinesBefore = readRawLines(home.files.log).length;

      for (const signal of ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGINT'] as const) {
        assert.ok(isEngineProcess(target), `engine process ${target} alive before ${signal}`);
        process.kill(target, signal);
        // Proving that nothing happens needs a pause: long enough for a handler to have run.
        await delay(SIGNAL_SETTLE_MS / 5);
      }
      await delay(SIGNAL_SETTLE_MS);

      assert.ok(isEngineProcess(target), `engine process ${target} survived HUP, USR1, USR2, TERM and INT`);
      assert.equal(parentPidOf(target), pid);
      assert.deepEqual(engineProcessesOf(pid), engines, 'the same two engine processes, none replaced');
      await assertEchoes([...held.values()], 'after the signals');
      const stateAfter = readState(home.files.state);
      assert.ok(stateAfter !== undefined);
      assert.equal(stateAfter.reloadSeq, stateBefore.reloadSeq, 'no reload');
      assert.equal(stateAfter.logReopenSeq, stateBefore.logReopenSeq, 'no log reopen');
      assert.equal(stateAfter.connDumpSeq, stateBefore.connDumpSeq, 'no connection dump');
      const newLines = readRawLines(home.files.log).slice(logLinesBefore);
      assert.deepEqual(newLines.filter((line) => /ended unexpectedly|Log file reopened|Reloading configuration|Terminated|Terminating/i.test(line)), [], newLines.join('\n'));

      const fresh = await openSessions(context, acceptPort, 2);
      await assertEchoes(fresh, 'new after the signals');
      const logConn = await home.cli('log-conn', ['--json']);
      assert.equal(logConn.code, 0, formatResult(logConn));
      assert.equal((JSON.parse(logConn.stdout) as { connections: ConnectionInfo[] }).connections.length, 4, logConn.stdout);
    });
  });

  it('stop: every engine process ends, each connection gets its close line, pid and state files removed', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, pid, engines, acceptPort } = context;
      const held = await onePerEngine(context, engines);
      await assertEchoes([...held.values()], 'before stop');
      const ids = await Promise.all([...held.values()].map((session) => waitForAcceptId(home.files.log, session.localPort)));

      const stop = await home.cli('stop');
      assert.equal(stop.code, 0, formatResult(stop));
      assert.equal(isProcessAlive(pid), false, `worker ${pid} gone`);
      assert.equal(existsSync(home.files.pid), false, 'pid file removed');
      assert.equal(existsSync(home.files.state), false, 'state file removed');
      await waitFor(() => engines.every((engine) => !isProcessAlive(engine)), { what: `engine processes ${engines.join(', ')} to end with the worker`, timeoutMs: 5_000 });
      assert.equal(await isAccepting(acceptPort), false);
      for (const session of held.values()) await withTimeout(session.closed, 5_000, `the connection from ${session.localPort} to be closed by stop`);
      const lines = readLogLines(home.files.log);
      for (const id of ids) assert.equal(closeLinesOf(lines, id).length, 1, `connection [${id}] has its close line after stop`);
    });
  });

  it('stop while clients that never read have writes backed up on both engine processes: every engine process exits within 3 s', async () => {
    // Each client keeps sending and reads nothing: the echo comes back into the engine process,
    // which cannot write it on to the client, so both relays are paused with writes pending when
    // stop arrives. The processes must still leave at once (by process.exit, not by waiting for
    // their event loop to run empty). How much the chain absorbs (socket buffers autotune to several
    // MiB each) varies, so each client writes until its own writes stay queued, up to a bound.
    const EXIT_BOUND_MS = 3_000;
    const MAX_CHUNKS_PER_CLIENT = 256;
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, pid, engines, acceptPort } = context;
      const stuck: TLSSocket[] = [];
      const chunk = Buffer.alloc(1024 * 1024, 0x5a);
      for (let index = 0; index < 4; index += 1) {
        const session = await openNodeTlsSession(acceptPort);
        context.defer(() => session.socket.destroy());
        session.socket.pause();
        let written = 0;
        const pump = (): void => {
          while (written < MAX_CHUNKS_PER_CLIENT && !session.socket.destroyed) {
            written += 1;
            if (!session.socket.write(chunk)) {
              session.socket.once('drain', pump);
              return;
            }
          }
        };
        pump();
        stuck.push(session.socket);
      }
      const owners = await waitForSocketOwners(pid, engines, acceptPort, stuck.map((socket) => socket.localPort ?? 0));
      assert.equal(new Set(owners.values()).size, 2, `clients on both engine processes: ${describeOwners(owners)}`);
      await waitFor(() => stuck.every((socket) => socket.writableLength > 0), {
        what: 'every client to have writes it cannot send (the relay is backed up)', timeoutMs: 30_000,
      });
      // Still queued a moment later: the chain is full, not just between two flushes.
      await delay(500);
      assert.ok(stuck.every((socket) => socket.writableLength > 0), 'the relays stay backed up');

      const stop = await home.cli('stop');
      assert.equal(stop.code, 0, formatResult(stop));
      const stoppedAt = Date.now();
      await waitFor(() => engines.every((engine) => !isProcessAlive(engine)), {
        what: `engine processes ${engines.join(', ')} to exit after stop`, timeoutMs: EXIT_BOUND_MS, intervalMs: 50,
      });
      assert.ok(Date.now() - stoppedAt <= EXIT_BOUND_MS);
    });
  });

  it('stop --drain 60: counts the connections of both engine processes, keeps them relaying, returns once both closed', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, pid, engines, acceptPort } = context;
      const held = [...(await onePerEngine(context, engines)).values()];
      await assertEchoes(held, 'before the drain');
      const stop = startCli(['stop', '--home', home.home, '--drain', '60']);
      context.defer(() => stopProcess(stop));
      await waitForLogLine(home.files.log, /^Draining 2 connection\(s\) for up to 60 s/);
      await waitUntilRefusing(acceptPort);
      await assertEchoes(held, 'during the drain');
      assert.ok(engines.every(isEngineProcess), 'both engine processes serve during the drain');

      const firstId = await waitForAcceptId(home.files.log, held[0]!.localPort);
      await held[0]!.close();
      await waitFor(() => closeLinesOf(readLogLines(home.files.log), firstId)[0], { what: `the close line of [${firstId}]` });
      assert.equal(stop.exitStatus(), undefined, 'stop waits while a connection is live on the other engine process');
      await assertEchoes([held[1]!], 'last one during the drain');

      const closedAt = Date.now();
      await held[1]!.close();
      const status = await withTimeout(stop.exited, 20_000, 'stop --drain to return');
      assert.equal(status.code, 0, stop.stderr().toString());
      assert.ok(Date.now() - closedAt < 15_000, 'stop returned soon after the last connection closed');
      assert.equal(isProcessAlive(pid), false);
      assert.equal(home.readPidFile(), undefined);
      await waitFor(() => engines.every((engine) => !isProcessAlive(engine)), { what: 'both engine processes to end after the drain', timeoutMs: 5_000 });
      assert.ok(readLogLines(home.files.log).some((line) => line.text === 'Drain finished: 0 connection(s) still open were ended'));
    });
  });

  it('stop --drain 1: ends the connections still open on both engine processes when the time is up', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, pid, engines } = context;
      const held = [...(await onePerEngine(context, engines)).values()];
      await assertEchoes(held, 'idle from now on');
      const stop = await home.cli('stop', ['--drain', '1']);
      assert.equal(stop.code, 0, formatResult(stop));
      for (const session of held) await withTimeout(session.closed, 10_000, `the connection from ${session.localPort} to be ended`);
      assert.equal(isProcessAlive(pid), false);
      await waitFor(() => engines.every((engine) => !isProcessAlive(engine)), { what: 'both engine processes to end', timeoutMs: 5_000 });
      const lines = readLogLines(home.files.log).map((line) => line.text);
      assert.ok(lines.includes('Drain finished: 2 connection(s) still open were ended'), lines.join('\n'));
    });
  });
});

describe('engine processes: faults', () => {
  it('kill -9 of an engine process: logged, replaced, the other one\'s connection untouched, the service keeps accepting', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { home, pid, engines, acceptPort } = context;
      const held = await onePerEngine(context, engines);
      const [victim, survivor] = engines as [number, number];
      const onVictim = held.get(victim)!;
      const onSurvivor = held.get(survivor)!;
      await assertEchoes([onVictim, onSurvivor], 'before the kill');

      process.kill(victim, 'SIGKILL');
      await waitFor(
        () => readLogLines(home.files.log).some((line) => line.text.includes(`Engine process ${victim}`) && line.text.includes('ended unexpectedly')),
        { what: `"Engine process ${victim} ... ended unexpectedly" in ${home.files.log}` },
      );
      const replaced = await waitFor(
        () => {
          const current = engineProcessesOf(pid);
          return current.length === 2 && !current.includes(victim) && current.includes(survivor) ? current : undefined;
        },
        { what: `a replacement for engine process ${victim} next to ${survivor}`, timeoutMs: 15_000 },
      );
      context.tracker.add(replaced);
      const replacement = replaced.find((engine) => engine !== survivor) as number;
      assert.equal(parentPidOf(replacement), pid);

      await withTimeout(onVictim.closed, 5_000, 'the connection held by the killed engine process to be closed');
      await assertEchoes([onSurvivor], 'on the surviving engine process');

      // The replacement takes connections once it has loaded the configuration: with one connection
      // on the survivor and none on it, the next connection is its as soon as it is ready.
      const onReplacement = await waitFor(
        async () => {
          const [session] = await openSessions(context, acceptPort, 1);
          assert.ok(session !== undefined);
          await assertEchoes([session], 'while the replacement starts');
          const owner = ownerOf(await waitForSocketOwners(pid, replaced, acceptPort, [session.localPort]), session);
          if (owner === replacement) return session;
          await session.close();
          return undefined;
        },
        { what: `a connection to land on the replacement ${replacement}`, timeoutMs: 15_000, intervalMs: 100 },
      );
      // Retries closed on the survivor must be counted out first: wait until the worker reports 2 live.
      await waitFor(async () => (await home.status()).json.connections.active === 2, { what: 'status to report 2 active connections' });
      const more = await openSessions(context, acceptPort, 2);
      const moreOwners = await waitForSocketOwners(pid, replaced, acceptPort, more.map((session) => session.localPort));
      assert.deepEqual([...countByOwner(replaced, moreOwners).values()], [1, 1], `at 1 connection each, the next two go one to each engine process: ${describeOwners(moreOwners)}`);
      const fresh = [onReplacement, ...more];
      await assertEchoes(fresh, 'after the replacement');

      const status = await home.status();
      assert.equal(status.result.code, 0, formatResult(status.result));
      assert.equal(status.json.pid, pid);
      const logConn = await home.cli('log-conn', ['--json']);
      assert.equal(logConn.code, 0, formatResult(logConn));
      const peers = (JSON.parse(logConn.stdout) as { connections: ConnectionInfo[] }).connections.map((entry) => entry.peer).sort();
      assert.deepEqual(peers, [onSurvivor, ...fresh].map((session) => `127.0.0.1:${session.localPort}`).sort(), 'log-conn lists the live connections only');
    });
  });

  it('kill -9 of both engine processes: a TLS 1.2 session resumes by session ID on their replacements (the worker keeps a copy)', async () => {
    const SERVICE_NAME = 'noticket';
    const [port] = (await getFreePorts(1)) as [number];
    await withEngineHome(
      { processes: 2, expectEngines: 2, tail: (home, echo) => serviceSection(SERVICE_NAME, port, echo.port, home.files.testPem, ['options = NO_TICKET']) },
      async (context) => {
        const { home, pid, engines } = context;
        const sessionFile = join(home.dir, 'session-by-id.pem');
        const first = await openResumingSClient(port, ['-tls1_2', '-sess_out', sessionFile]);
        try {
          assert.equal(first.outcome.how, 'New');
          await first.echo('first');
          await first.finish();
        } finally {
          await first.stop();
        }
        const session = await runCommand('openssl', ['sess_id', '-in', sessionFile, '-noout', '-text']);
        assert.equal(session.code, 0, formatResult(session));
        assert.doesNotMatch(session.stdout, /TLS session ticket:/, `no ticket: only the session ID can resume it\n${session.stdout}`);

        // Both processes that saw the session (the one that made it and the one it was copied to) die.
        for (const engine of engines) process.kill(engine, 'SIGKILL');
        const replacements = await waitFor(
          () => {
            const current = engineProcessesOf(pid);
            return current.length === 2 && current.every((engine) => !engines.includes(engine)) ? current : undefined;
          },
          { what: `two replacements for engine processes ${engines.join(' and ')}`, timeoutMs: 20_000 },
        );
        context.tracker.add(replacements);
        // A replacement takes connections once ready: wait until a plain handshake works.
        await waitFor(
          async () => {
            const attempt = await attemptTlsHandshake(port);
            if (attempt.accepted) attempt.socket.destroy();
            return attempt.accepted;
          },
          { what: 'the replacements to accept connections', timeoutMs: 20_000, intervalMs: 200 },
        );

        const clients: ResumingSClient[] = [];
        try {
          for (let index = 0; index < 4; index += 1) {
            const client = await openResumingSClient(port, ['-tls1_2', '-sess_in', sessionFile]);
            clients.push(client);
            await client.echo(`after the replacement ${index}`);
          }
          assert.deepEqual(
            clients.map((client, index) => `${index}: ${client.outcome.how}`),
            clients.map((_, index) => `${index}: Reused`),
            'every reconnect resumed the session on a replacement engine process',
          );
          const owners = await waitForSocketOwners(pid, replacements, port, await clientPortsOf(clients, port));
          assert.equal(new Set(owners.values()).size, 2, `the reconnects landed on both replacements: ${describeOwners(owners)}`);
        } finally {
          for (const client of clients) await client.stop();
        }
      },
    );
  });

  it('kill -9 of the worker: its engine processes exit on their own within seconds', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2 }, async (context) => {
      const { pid, engines } = context;
      const held = await onePerEngine(context, engines);
      await assertEchoes([...held.values()], 'before the worker dies');
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !isProcessAlive(pid), { what: `worker ${pid} to die of SIGKILL` });
      const startedAt = Date.now();
      await waitFor(() => engines.every((engine) => !isProcessAlive(engine)), {
        what: `orphaned engine processes ${engines.join(', ')} to exit after the worker's SIGKILL (alive: ${engines.filter(isProcessAlive).join(', ')})`,
        timeoutMs: ORPHAN_EXIT_BOUND_MS,
      });
      assert.ok(Date.now() - startedAt < ORPHAN_EXIT_BOUND_MS);
    });
  });

  it('maxConnections = 3 holds for the whole worker across engine processes', async () => {
    await withEngineHome({ processes: 2, expectEngines: 2, globals: ['maxConnections = 3'] }, async (context) => {
      const { home, pid, engines, acceptPort } = context;
      const held = await openSessions(context, acceptPort, 3);
      const owners = await waitForSocketOwners(pid, engines, acceptPort, held.map((session) => session.localPort));
      assert.deepEqual([...countByOwner(engines, owners).values()].sort(), [1, 2], `3 connections spread over both: ${describeOwners(owners)}`);
      await assertEchoes(held, 'at the limit');

      const rejectionLines = () => readLogLines(home.files.log).filter((line) => /Connection rejected: too many clients \(>=3\)$/.test(line.text)).length;
      const fourth = await attemptTlsHandshake(acceptPort);
      if (fourth.accepted) fourth.socket.destroy();
      assert.equal(fourth.accepted, false, 'the 4th concurrent connection is refused although each engine process holds fewer than 3');
      await waitFor(() => rejectionLines() === 1, { what: 'one "Connection rejected: too many clients (>=3)" line' });

      await held[0]!.close();
      const admitted = await waitFor(
        async () => {
          const attempt = await attemptTlsHandshake(acceptPort);
          return attempt.accepted ? attempt.socket : undefined;
        },
        { what: 'a new connection to be admitted once one of the 3 closed', intervalMs: 200 },
      );
      context.defer(() => admitted.destroy());
      const before = rejectionLines();
      const again = await attemptTlsHandshake(acceptPort);
      if (again.accepted) again.socket.destroy();
      assert.equal(again.accepted, false, 'back at 3: refused again');
      await waitFor(() => rejectionLines() === before + 1, { what: 'one more rejection line' });
      await assertEchoes(held.slice(1), 'still at the limit');
    });
  });
});

describe('engine processes: TLS session resumption whichever engine process a connection lands on (processes = 2)', () => {
  const NO_TICKET_SERVICE = 'noticket';
  let context: EngineHome | undefined;
  let noTicketPort = 0;
  let finished: (() => void) | undefined;
  let running: Promise<void> | undefined;

  before(async () => {
    [noTicketPort] = (await getFreePorts(1)) as [number];
    // withEngineHome runs its body until `after` resolves `finished`, so cleanup stays in one place.
    const ready = new Promise<EngineHome>((resolve, reject) => {
      running = withEngineHome(
        {
          processes: 2,
          expectEngines: 2,
          tail: (home, echo) => serviceSection(NO_TICKET_SERVICE, noTicketPort, echo.port, home.files.testPem, ['options = NO_TICKET']),
        },
        (started) =>
          new Promise<void>((resolveBody) => {
            finished = resolveBody;
            resolve(started);
          }),
      );
      running.catch(reject);
    });
    context = await ready;
  });

  after(async () => {
    finished?.();
    await running;
  });

  const resumeEightTimes = async (
    port: number, version: 'tls1_3' | 'tls1_2', expectTicket: boolean, label: string, clientArgs: readonly string[] = [],
  ): Promise<void> => {
    assert.ok(context !== undefined, 'the worker started');
    const { pid, engines, home } = context;
    const sessionFile = join(home.dir, `session-${label}.pem`);
    const first = await openResumingSClient(port, [`-${version}`, ...clientArgs, '-sess_out', sessionFile]);
    try {
      assert.equal(first.outcome.how, 'New');
      // The echo comes after the server's session tickets: the file then holds a resumable session.
      await first.echo(`first ${label}`);
      await first.finish();
    } finally {
      await first.stop();
    }
    const session = await runCommand('openssl', ['sess_id', '-in', sessionFile, '-noout', '-text']);
    assert.equal(session.code, 0, formatResult(session));
    assert.equal(/TLS session ticket:/.test(session.stdout), expectTicket, `a session ${expectTicket ? 'with' : 'without'} a ticket\n${session.stdout}`);
    if (!expectTicket) assert.match(session.stdout, /Session-ID: [0-9A-F]{16,}/, 'resumption by session id');

    const clients: ResumingSClient[] = [];
    try {
      for (let index = 0; index < 8; index += 1) {
        const client = await openResumingSClient(port, [`-${version}`, ...clientArgs, '-sess_in', sessionFile]);
        clients.push(client);
        await client.echo(`resumed ${label} ${index}`);
      }
      assert.deepEqual(
        clients.map((client, index) => `${index}: ${client.outcome.how} ${client.outcome.protocol}`),
        clients.map((_, index) => `${index}: Reused ${version === 'tls1_3' ? 'TLSv1.3' : 'TLSv1.2'}`),
        'all 8 reconnects resumed the session',
      );
      const owners = await waitForSocketOwners(pid, engines, port, await clientPortsOf(clients, port));
      const counts = countByOwner(engines, owners);
      assert.ok([...counts.values()].every((count) => count > 0), `resumed connections on both engine processes: ${describeOwners(owners)}`);
    } finally {
      for (const client of clients) await client.stop();
    }
  };

  it('TLS 1.3 session tickets: 8 reconnects with -sess_in all say Reused', async () => {
    await resumeEightTimes(context?.acceptPort ?? 0, 'tls1_3', true, 'tls13');
  });

  it('TLS 1.2 session tickets: 8 reconnects with -sess_in all say Reused', async () => {
    await resumeEightTimes(context?.acceptPort ?? 0, 'tls1_2', true, 'tls12-ticket');
  });

  it('TLS 1.2 session-ID cache (options = NO_TICKET): 8 reconnects with -sess_in all say Reused', async () => {
    await resumeEightTimes(noTicketPort, 'tls1_2', false, 'tls12-id');
  });

  it('TLS 1.2 client without ticket support (s_client -no_ticket) against a ticket-issuing service: 8 reconnects by session ID all say Reused', async () => {
    // The session is created in one process and copied by the worker into the other's cache.
    await resumeEightTimes(context?.acceptPort ?? 0, 'tls1_2', false, 'tls12-no-ticket-client', ['-no_ticket']);
  });
});

describe('engine processes: client-mode sessions shared between the processes (processes = 2)', () => {
  /**
   * A TLS echo server for the client-mode service to connect to, which records whether each
   * handshake resumed a session.
   */
  /**
   * A TLS echo server for the client-mode service to connect to, which records whether each
   * handshake resumed a session. Its certificate is set once the home (and its test PEM) exists.
   */
  const startResumptionBackend = async (maxVersion: SecureVersion): Promise<{ port: number; reused: boolean[]; usePem(pem: Buffer): void; close(): Promise<void> }> => {
    const reused: boolean[] = [];
    const server = createTlsServer({ maxVersion }, (socket) => {
      reused.push(socket.isSessionReused());
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    return {
      port: address.port,
      reused,
      usePem: (pem) => server.setSecureContext({ cert: pem, key: pem, maxVersion }),
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  };

  const IN_A_ROW = 6;

  /** IN_A_ROW plain connections one after the other through the client-mode service, each an exact echo. */
  const connectInARow = async (port: number, label: string): Promise<void> => {
    for (let index = 0; index < IN_A_ROW; index += 1) {
      const payload = randomBytes(4096);
      const result = await exchangePlain(port, payload, 15_000);
      assert.equal(result.sha256, sha256(payload), `${label}: connection ${index} echoed exactly`);
    }
  };

  // The worker places sequential connections on the two processes in turn, so without sharing the
  // first connection of each process is a full handshake ([new, new, reused, ...]); stunnel's one
  // process resumes from the second. The service verifies its server (verifyPeer), so what is shared
  // is a verified session.
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`${version}: six connections in a row resume from the second whichever process makes them, and again after reload-config`, async () => {
      const [clientPort] = (await getFreePorts(1)) as [number];
      const backend = await startResumptionBackend(version);
      await withEngineHome({
        processes: 2,
        expectEngines: 2,
        tail: (home) => {
          backend.usePem(readFileSync(home.files.testPem));
          return ['[to-partner]', '    client = yes', `    accept = 127.0.0.1:${clientPort}`, `    connect = 127.0.0.1:${backend.port}`, `    CAfile = ${home.files.testPem}`, '    verifyPeer = yes'];
        },
      }, async ({ home }) => {
        await connectInARow(clientPort, 'first generation');
        assert.deepEqual(backend.reused, [false, true, true, true, true, true], `one full handshake, then resumed on both processes (${version})`);

        // A reload builds new TLS contexts: the first connection is a full handshake again, and its
        // session reaches the other process under the new configuration.
        appendFileSync(home.files.config, '\n; touched\n');
        const reload = await home.cli('reload-config');
        assert.equal(reload.code, 0, formatResult(reload));
        await connectInARow(clientPort, 'after reload-config');
        assert.deepEqual(backend.reused.slice(IN_A_ROW), [false, true, true, true, true, true], `after the reload: one full handshake, then resumed (${version})`);
      }).finally(() => backend.close());
    });
  }
});
