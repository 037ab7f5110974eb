// Figure 7, process faults, each recovered by the next operator command with what happened said:
// the worker killed with SIGKILL; the worker stopped with SIGSTOP (a connection made meanwhile is served
// after SIGCONT); a stale pid file naming an unrelated live process (never signalled); a home lock left
// by a stunnelctl that died holding it (an old lock directory, and a `stop --drain` killed with SIGKILL).
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { startEchoServer } from '../helpers/echo-server.js';
import type { TestHome } from '../helpers/home.js';
import { LOOPBACK } from '../helpers/ports.js';
import { formatResult, isProcessAlive, readProcessState, startCli, startProcess, stopProcess } from '../helpers/processes.js';
import type { CommandResult } from '../helpers/processes.js';
import { openNodeTlsSession } from '../helpers/tls-peers.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { Cleanup } from './support/cleanup.js';
import { assertFigure } from './support/figures.js';
import { SCALE } from './support/scale.js';
import { tlsEchoProbe } from './support/traffic.js';
import { installHome, startHome } from './support/workers.js';

/** The lock directory proper-lockfile keeps in the home. */
const lockPathOf = (home: TestHome): string => join(home.home, 'stunnelctl.lock');
const LOCK_AGE_S = 60;

const said = (result: CommandResult): string => `${result.stdout}\n${result.stderr}`.trim().replace(/\s*\n\s*/g, ' | ');

/** The worker's own status field from its state file ("running", or "stopping" while it drains). */
const readDrainState = (home: TestHome): string | undefined => {
  try {
    return (JSON.parse(readFileSync(home.files.state, 'utf8')) as { status?: string }).status;
  } catch (error) {
    // Written atomically (rename): it is there, whole, or not there.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

/** The worker of `home`, started with *HIGH unless one is running already. */
const ensureWorker = async (home: TestHome): Promise<number> => {
  const pid = home.readPidFile();
  if (pid !== undefined && (await home.status()).result.code === 0) return pid;
  return startHome(home);
};

describe(`figure 7: process faults (${SCALE})`, () => {
  // One home for every fault: each test brings the worker into the state it needs first.
  const shared = new Cleanup();
  let home: TestHome;
  before(async () => {
    const backend = shared.add(await startEchoServer(), (server) => server.close());
    home = shared.add(await installHome(backend.port), (installed) => installed.cleanup());
  });
  after(() => shared.run());

  it('kill -9 of the worker: status exits 1; start clears the stale pid file, says so, and serves again', { timeout: 60_000 }, async () => {
    const killed = await ensureWorker(home);
    process.kill(killed, 'SIGKILL');
    await waitFor(() => !isProcessAlive(killed), { what: `worker ${killed} to die of SIGKILL` });
    const status = await home.cli('status');
    const start = await home.cli('start', ['--job-class', '*HIGH']);
    const pid = home.readPidFile();
    const served = pid !== undefined && pid !== killed ? await tlsEchoProbe(home.acceptPort).then(() => true, () => false) : false;
    assertFigure(
      '7 kill -9 of the worker: status, then start recovers',
      `status exit ${status.code}; start exit ${start.code}: "${said(start)}"; ${served ? 'serving again' : 'NOT serving'}`,
      'status exit 1; start exit 0 naming the stale pid; serving',
      status.code === 1 && start.code === 0 && new RegExp(`stale pid file of pid ${killed}\\b`).test(start.stdout) && served,
      `${formatResult(status)}\n${formatResult(start)}`,
    );
  });

  it('SIGSTOP/SIGCONT of the worker: a connection made while it is stopped is served after SIGCONT', { timeout: 60_000 }, async () => {
    const pid = await ensureWorker(home);
    const earlier = await openNodeTlsSession(home.acceptPort);
    try {
      await earlier.echo('before the stop\n');
      process.kill(pid, 'SIGSTOP');
      let continued = false;
      try {
        await waitFor(() => readProcessState(pid) === 'T', { what: `worker ${pid} to be stopped` });
        // The kernel completes the TCP handshake from the backlog; TLS must wait for the worker.
        const socket = connectTls({ host: LOOPBACK, port: home.acceptPort, rejectUnauthorized: false });
        socket.on('error', () => undefined);
        let tcpConnected = false;
        let secured = false;
        socket.once('connect', () => {
          tcpConnected = true;
        });
        socket.once('secureConnect', () => {
          secured = true;
          socket.write('made while stopped\n');
        });
        const echoed = new Promise<void>((resolve) => {
          let text = '';
          socket.on('data', (chunk: Buffer) => {
            text += chunk.toString('utf8');
            if (text.includes('made while stopped\n')) resolve();
          });
        });
        await waitFor(() => tcpConnected, { what: 'the TCP connect to the stopped worker' });
        const stillStopped = readProcessState(pid) === 'T' && !secured;
        process.kill(pid, 'SIGCONT');
        continued = true;
        const continuedAt = performance.now();
        let servedAfterMs: number | undefined;
        try {
          await withTimeout(echoed, 10_000, 'the connection made while stopped to be served');
          servedAfterMs = performance.now() - continuedAt;
        } finally {
          socket.destroy();
        }
        const earlierStillServed = await earlier.echo('after SIGCONT\n').then(() => true, () => false);
        assertFigure(
          '7 SIGSTOP/SIGCONT: connection made while stopped',
          servedAfterMs === undefined ? 'NOT served' : `served ${Math.round(servedAfterMs)} ms after SIGCONT; the connection from before ${earlierStillServed ? 'still served' : 'LOST'}`,
          'served after SIGCONT (not before), earlier connection kept',
          stillStopped && servedAfterMs !== undefined && earlierStillServed,
        );
      } finally {
        if (!continued) process.kill(pid, 'SIGCONT');
      }
    } finally {
      earlier.socket.destroy();
    }
  });

  it('a stale pid file naming an unrelated live process: never signalled; start replaces it and says so', { timeout: 60_000 }, async () => {
    const cleanup = new Cleanup();
    try {
      // No worker: the pid file is the stale one only.
      const stopped = await home.cli('stop');
      assert.equal(stopped.code, 0, formatResult(stopped));
      const sleeper = cleanup.add(startProcess('sleep', ['600']), (started) => stopProcess(started));
      await waitFor(() => readProcessState(sleeper.pid) === 'S', { what: `sleep ${sleeper.pid} to be running` });
      const untouched = (): boolean => isProcessAlive(sleeper.pid) && readProcessState(sleeper.pid) === 'S' && sleeper.exitStatus() === undefined;
      const plant = (): void => writeFileSync(home.files.pid, `${sleeper.pid}\n`);
      const seen: string[] = [];
      for (const command of ['status', 'stop', 'reload-config', 'switch-logfile', 'log-conn']) {
        plant();
        const result = await home.cli(command);
        seen.push(`${command} exit ${result.code}`);
        assert.ok(untouched(), `${command} left sleep ${sleeper.pid} alone\n${formatResult(result)}`);
      }
      plant();
      const start = await home.cli('start', ['--job-class', '*HIGH']);
      const pid = home.readPidFile();
      const served = await tlsEchoProbe(home.acceptPort).then(() => true, () => false);
      assertFigure(
        '7 stale pid file naming a live unrelated process',
        `sleep ${sleeper.pid} ${untouched() ? 'untouched' : 'SIGNALLED'} after ${seen.join(', ')}, start exit ${start.code}: "${said(start)}"`,
        'never signalled; start exit 0 saying the pid file was removed and the process not signalled; serving',
        untouched() && start.code === 0 && pid !== undefined && pid !== sleeper.pid && served
          && start.stdout.includes(String(sleeper.pid)) && /not signalled/.test(start.stdout),
        formatResult(start),
      );
    } finally {
      await cleanup.run();
    }
  });

  it('a lock directory left by a crashed stunnelctl (untouched for a minute): the next command takes it over and says so', { timeout: 60_000 }, async () => {
    await ensureWorker(home);
    const lock = lockPathOf(home);
    mkdirSync(lock);
    const past = new Date(Date.now() - LOCK_AGE_S * 1000);
    utimesSync(lock, past, past);
    const stop = await home.cli('stop');
    assertFigure(
      '7 stale lock directory (60 s old): next command recovers',
      `stop exit ${stop.code}: "${said(stop)}"; lock ${existsSync(lock) ? 'LEFT' : 'released'}`,
      'exit 0, says it took over the lock, worker stopped, lock released',
      stop.code === 0 && /took over the lock/.test(stop.stdout) && home.readPidFile() === undefined && !existsSync(lock),
      formatResult(stop),
    );
  });

  it('a stunnelctl killed with SIGKILL while it holds the lock (stop --drain): the next stop takes the lock over, says so, and stops the worker', { timeout: 60_000 }, async () => {
    const pid = await ensureWorker(home);
    const session = await openNodeTlsSession(home.acceptPort);
    const cleanup = new Cleanup();
    try {
      cleanup.add(session, (open) => open.socket.destroy());
      await session.echo('keeps the drain waiting\n');
      const draining = cleanup.add(startCli(['stop', '--home', home.home, '--drain', '30']), (started) => stopProcess(started));
      // The stop command holds the lock while the worker drains: both are visible.
      await waitFor(async () => existsSync(lockPathOf(home)) && (await home.status()).json.state === 'running' && isProcessAlive(pid) && draining.exitStatus() === undefined && readDrainState(home) === 'stopping', {
        what: 'stop --drain to hold the lock while the worker drains',
      });
      draining.child.kill('SIGKILL');
      await draining.exited;
      const startedAt = performance.now();
      const stop = await home.cli('stop', [], { timeoutMs: 40_000 });
      const tookMs = performance.now() - startedAt;
      assertFigure(
        '7 lock held by a stunnelctl killed -9: next command recovers',
        `stop exit ${stop.code} after ${(tookMs / 1000).toFixed(1)} s: "${said(stop)}"; worker ${isProcessAlive(pid) ? 'STILL RUNNING' : 'stopped'}`,
        'exit 0, says it took over the lock, worker stopped',
        stop.code === 0 && /took over the lock/.test(stop.stdout) && !isProcessAlive(pid) && home.readPidFile() === undefined,
        formatResult(stop),
      );
    } finally {
      await cleanup.run();
    }
  });
});
