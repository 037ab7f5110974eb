// Stopping and signalling a proven worker, with a real process standing in for it (a node process
// whose command line is `... run <conf>` and whose start ticks are in the state file): SIGTERM, or
// SIGKILL with a warning when it ignores SIGTERM; a request acknowledged by its counter, or not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StunnelctlError } from '../../../src/errors.js';
import { requestFromWorker } from '../../../src/control/worker-signals.js';
import { stopWorker } from '../../../src/control/worker-stop.js';
import type { WorkerFiles } from '../../../src/control/worker-presence.js';
import { createInitialState, readProcessStartTicks, readStateFile, writeStateFile } from '../../../src/worker/state-file.js';
import { readProcessArgv, startProcess, stopProcess, type StartedProcess } from '../../helpers/processes.js';
import { waitFor } from '../../helpers/wait.js';

// argv: [node, 'run', CONF, STATE, MODE]. `obedient` exits on SIGTERM and bumps connDumpSeq on SIGUSR2;
// `deaf` ignores both (a hung worker).
const FAKE_WORKER = `
const fs = require('node:fs');
const [, , , statePath, mode] = process.argv;
process.on('SIGTERM', () => { if (mode === 'obedient') process.exit(0); });
process.on('SIGUSR2', () => {
  if (mode !== 'obedient') return;
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  state.connDumpSeq += 1;
  fs.writeFileSync(statePath + '.tmp', JSON.stringify(state));
  fs.renameSync(statePath + '.tmp', statePath);
});
setInterval(() => {}, 1000);
process.stdout.write('ready\\n');
`;

let directory = '';
let files: WorkerFiles;
const lockTarget = () => ({ directory, files: { home: directory, lock: join(directory, 'stunnelctl.lock') } });

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'stunnelctl-control-'));
  const pidPath = join(directory, 'stunnel.pid');
  files = { configPath: join(directory, 'stunnel.conf'), pidPath, statePath: `${pidPath}.state` };
  writeFileSync(files.configPath, '; test\n');
});

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

const startFakeWorker = async (mode: 'obedient' | 'deaf'): Promise<StartedProcess> => {
  const worker = startProcess(process.execPath, ['-e', FAKE_WORKER, 'run', files.configPath, files.statePath, mode]);
  await waitFor(() => worker.stdout().toString().includes('ready') && readProcessArgv(worker.pid).includes(files.configPath), {
    what: 'the fake worker to install its handlers',
  });
  writeFileSync(files.pidPath, `${worker.pid}\n`);
  writeStateFile(files.statePath, createInitialState({
    pid: worker.pid,
    processStartTicks: readProcessStartTicks(worker.pid),
    configFile: files.configPath,
    jobClass: '*STD',
    logFile: null,
  }));
  return worker;
};

const stop = (timeoutMs: number, warnings: string[] = []) =>
  stopWorker({ home: lockTarget(), worker: files, timeoutMs, lockWaitMs: 1_000, note: () => undefined, warn: (line) => warnings.push(line), lockEvents: {} });

test('stop: SIGTERM ends the worker; its pid file and state file are gone afterwards', async () => {
  const worker = await startFakeWorker('obedient');
  try {
    const outcome = await stop(5_000);
    assert.deepEqual(outcome, { kind: 'stopped', pid: worker.pid, killed: false });
    assert.deepEqual(await worker.exited, { code: 0, signal: null });
    assert.equal(existsSync(files.pidPath), false);
    assert.equal(existsSync(files.statePath), false);
  } finally {
    await stopProcess(worker);
  }
});

test('stop: a worker that ignores SIGTERM is killed after the timeout, with a warning', async () => {
  const worker = await startFakeWorker('deaf');
  try {
    const warnings: string[] = [];
    const outcome = await stop(300, warnings);
    assert.deepEqual(outcome, { kind: 'stopped', pid: worker.pid, killed: true });
    assert.equal((await worker.exited).signal, 'SIGKILL');
    assert.match(warnings.join('\n'), /did not stop within 0\.3 s of SIGTERM; sent SIGKILL/);
    assert.equal(existsSync(files.pidPath), false);
  } finally {
    await stopProcess(worker);
  }
});

test('a request is done when the worker bumps its counter', async () => {
  const worker = await startFakeWorker('obedient');
  try {
    const state = readStateFile(files.statePath);
    assert.ok(state !== undefined);
    const answer = await requestFromWorker({ pid: worker.pid, state }, files.statePath, 'dumpConnections', 5_000);
    assert.equal(answer.connDumpSeq, 1);
  } finally {
    await stopProcess(worker);
  }
});

test('a worker that never acknowledges: SCTL_ERR_WORKER_NO_ANSWER after the timeout', async () => {
  const worker = await startFakeWorker('deaf');
  try {
    const state = readStateFile(files.statePath);
    assert.ok(state !== undefined);
    await assert.rejects(
      requestFromWorker({ pid: worker.pid, state }, files.statePath, 'dumpConnections', 200),
      (error: unknown) => error instanceof StunnelctlError && error.code === 'SCTL_ERR_WORKER_NO_ANSWER',
    );
  } finally {
    await stopProcess(worker, 1_000);
  }
});
