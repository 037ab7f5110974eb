// The worker process and its signal table (SIGHUP reload, SIGUSR1 reopen log, SIGUSR2 list
// connections, SIGTERM stop) on a real process. Signals that arrive during start-up, after the table is
// installed but before the pid file exists, must neither kill the worker nor start Node's inspector,
// and are handled once it is ready. SIGTERM exits 0 and removes the pid file and the state file.
//
// "During start-up" is made observable, not timed: /proc/PID/status SigCgt shows when the worker has
// handlers for SIGHUP, SIGUSR2 and SIGQUIT (Node itself catches none of them), and the pid file is
// still absent at that moment. Before that point a Node 20 process has no way to catch a signal at
// all (the runtime is still booting), so that window is out of any test's reach.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStateFile } from '../../src/worker/state-file.js';
import type { WorkerState } from '../../src/worker/state-file.js';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { getFreePorts, waitUntilRefusing } from '../helpers/ports.js';
import { createPki } from '../helpers/pki.js';
import { stopProcess } from '../helpers/processes.js';
import type { StartedProcess } from '../helpers/processes.js';
import { readLogLines } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { waitForPidFile } from '../helpers/worker.js';
import { openTlsClient, whenClosed } from './support/peers.js';
import { spawnWorker, waitForSignalHandlers, workerLaunchDescription } from './support/worker-process.js';

const TABLE_MARKERS = ['SIGHUP', 'SIGUSR2', 'SIGQUIT'];
const EXIT_TIMEOUT_MS = 15_000;

interface WorkerFiles {
  config: string;
  pid: string;
  state: string;
  log: string;
}

describe(`worker signals on a real process (${workerLaunchDescription()})`, () => {
  let dir = '';
  let files: WorkerFiles;
  let acceptPort = 0;
  let backend: Backend;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    dir = makeTempDir('signals');
    const pki = await createPki(dir, 'server');
    backend = await startEchoServer();
    cleanups.push(() => backend.close());
    [acceptPort] = await getFreePorts(1) as [number];
    files = { config: join(dir, 'worker.conf'), pid: join(dir, 'worker.pid'), state: join(dir, 'worker.pid.state'), log: join(dir, 'worker.log') };
    writeFileSync(files.config, [
      `pid = ${files.pid}`,
      `output = ${files.log}`,
      'debug = info',
      '[signals]',
      `accept = 127.0.0.1:${acceptPort}`,
      `connect = 127.0.0.1:${backend.port}`,
      `cert = ${pki.pemFile}`,
      '',
    ].join('\n'));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    removeTempDir(dir);
  });

  /** Spawns the worker and returns once its signal table is installed, asserting it is not ready yet. */
  const spawnUntilTableInstalled = async (): Promise<StartedProcess> => {
    const worker = spawnWorker(files.config);
    cleanups.push(() => stopProcess(worker));
    await waitForSignalHandlers(worker, TABLE_MARKERS);
    assert.equal(existsSync(files.pid), false, 'the signals must be sent before the pid file exists (the worker was ready too early for this test)');
    return worker;
  };

  const logTexts = (): string[] => readLogLines(files.log).map((line) => line.text);

  const waitForState = (what: string, accept: (state: WorkerState) => boolean): Promise<WorkerState> =>
    waitFor(() => {
      const state = readStateFile(files.state);
      return state !== undefined && accept(state) ? state : undefined;
    }, { what: `the state file ${files.state} to show ${what}` });

  it('SIGHUP, SIGUSR1 and SIGUSR2 sent during start-up neither kill the worker nor start the inspector, and each is handled once ready', async () => {
    const worker = await spawnUntilTableInstalled();
    worker.child.kill('SIGUSR1');
    worker.child.kill('SIGHUP');
    worker.child.kill('SIGUSR2');

    const pid = await waitForPidFile(worker, files.pid);
    assert.equal(pid, worker.pid);
    const state = await waitForState('one reload, one log reopen and one connection dump', (candidate) => candidate.reloadSeq >= 1 && candidate.logReopenSeq >= 1 && candidate.connDumpSeq >= 1);
    assert.deepEqual(
      { reloadSeq: state.reloadSeq, reloadOk: state.lastReload?.ok, logReopenSeq: state.logReopenSeq, connDumpSeq: state.connDumpSeq },
      { reloadSeq: 1, reloadOk: true, logReopenSeq: 1, connDumpSeq: 1 },
      'each early signal was handled exactly once',
    );
    assert.equal(worker.exitStatus(), undefined, 'the worker is still running');
    const stderr = worker.stderr().toString();
    assert.doesNotMatch(stderr, /Debugger listening/, 'SIGUSR1 must not start the Node inspector');
    const texts = logTexts();
    assert.ok(texts.includes('Log file reopened'), texts.join('\n'));
    assert.ok(texts.includes('Active connections:'), texts.join('\n'));
    assert.ok(texts.includes('Listed 0 active connection(s)'), texts.join('\n'));

    // Ready and serving: a live connection is listed by SIGUSR2.
    const client = await openTlsClient(acceptPort);
    cleanups.push(() => client.destroy());
    worker.child.kill('SIGUSR2');
    await waitForState('a second connection dump', (candidate) => candidate.connDumpSeq >= 2);
    await waitFor(() => logTexts().includes('Listed 1 active connection(s)'), { what: 'SIGUSR2 to list the live connection' });
    const closed = whenClosed(client, 10_000, 'an echo through the worker');
    client.end('served\n');
    assert.equal((await closed).received.toString(), 'served\n');

    worker.child.kill('SIGTERM');
    const exit = await withTimeout(worker.exited, EXIT_TIMEOUT_MS, 'the worker to exit after SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status; stderr: ${worker.stderr().toString()}`);
    assert.equal(existsSync(files.pid), false, 'SIGTERM removes the pid file');
    assert.equal(existsSync(files.state), false, 'SIGTERM removes the state file');
    assert.ok(logTexts().includes('Terminated'), logTexts().join('\n'));
    await waitUntilRefusing(acceptPort);
  });

  it('SIGTERM sent during start-up is handled once ready: exit 0, no pid file and no state file left', async () => {
    const worker = await spawnUntilTableInstalled();
    worker.child.kill('SIGTERM');

    const exit = await withTimeout(worker.exited, EXIT_TIMEOUT_MS, 'the worker to exit after an early SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status; stderr: ${worker.stderr().toString()}`);
    assert.equal(existsSync(files.pid), false, 'no pid file is left');
    assert.equal(existsSync(files.state), false, 'no state file is left');
    const texts = logTexts();
    assert.ok(texts.includes('Accepting new connections'), `the worker became ready before stopping:\n${texts.join('\n')}`);
    assert.ok(texts.includes('Terminated'), texts.join('\n'));
    await waitUntilRefusing(acceptPort);
  });
});
