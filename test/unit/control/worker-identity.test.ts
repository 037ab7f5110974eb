// Proof of a worker's identity before any signal: an unrelated live process (this test, a `sleep`)
// is never proven, nor a look-alike whose start time differs from the state file's; the real
// shape (`... run <conf>` + matching start ticks) is.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive, isWorkerCommandLine, proveWorkerIdentity } from '../../../src/control/worker-identity.js';
import { clearStaleWorkerFiles, inspectWorker, type WorkerFiles } from '../../../src/control/worker-presence.js';
import { createInitialState, readProcessStartTicks, writeStateFile, type WorkerState } from '../../../src/worker/state-file.js';
import { readProcessArgv, startProcess, stopProcess, type StartedProcess } from '../../helpers/processes.js';
import { waitFor } from '../../helpers/wait.js';

let directory = '';
let files: WorkerFiles;

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'stunnelctl-identity-'));
  const pidPath = join(directory, 'stunnel.pid');
  files = { configPath: join(directory, 'stunnel.conf'), pidPath, statePath: `${pidPath}.state` };
  writeFileSync(files.configPath, '; test\n');
});

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

const createState = (pid: number, processStartTicks: string | null): WorkerState =>
  createInitialState({ pid, processStartTicks, configFile: files.configPath, jobClass: '*STD', logFile: null });

/** A process whose command line looks like `node ... run <conf>`, as the job file's worker does. */
const startLookAlike = async (): Promise<StartedProcess> => {
  const started = startProcess(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'run', files.configPath]);
  await waitFor(() => readProcessArgv(started.pid).includes(files.configPath), { what: 'the look-alike to exec' });
  return started;
};

test('the test process itself is alive but not proven, and the reason says why', () => {
  writeStateFile(files.statePath, createState(process.pid, readProcessStartTicks(process.pid)));
  const verdict = proveWorkerIdentity({ pid: process.pid, configPath: files.configPath, statePath: files.statePath });
  assert.equal(verdict.proven, false);
  assert.ok(!verdict.proven && verdict.alive);
  assert.match(!verdict.proven ? verdict.reason : '', /is not "stunnelctl run/);
});

test('a live `sleep` named by the pid file is foreign: the pid file is removed, the process untouched', async () => {
  const sleeper = startProcess('sleep', ['30']);
  try {
    writeFileSync(files.pidPath, `${sleeper.pid}\n`);
    writeStateFile(files.statePath, createState(sleeper.pid, readProcessStartTicks(sleeper.pid)));
    const presence = inspectWorker(files);
    assert.equal(presence.kind, 'foreign');
    const note = clearStaleWorkerFiles(files, presence);
    assert.match(note ?? '', /removed stale pid file .* was not signalled/);
    assert.equal(existsSync(files.pidPath), false);
    assert.equal(existsSync(files.statePath), false);
    assert.equal(isProcessAlive(sleeper.pid), true);
    assert.equal(sleeper.exitStatus(), undefined);
  } finally {
    await stopProcess(sleeper);
  }
});

test('a look-alike `run <conf>` whose start time differs from the state file (pid reuse) is not proven', async () => {
  const lookAlike = await startLookAlike();
  try {
    writeStateFile(files.statePath, createState(lookAlike.pid, '1'));
    const verdict = proveWorkerIdentity({ pid: lookAlike.pid, configPath: files.configPath, statePath: files.statePath });
    assert.equal(verdict.proven, false);
    assert.match(!verdict.proven ? verdict.reason : '', /pid was reused/);
  } finally {
    await stopProcess(lookAlike);
  }
});

test('`run <conf>` with the start ticks of the state file is proven, and inspectWorker says running', async () => {
  const worker = await startLookAlike();
  try {
    writeFileSync(files.pidPath, `${worker.pid}\n`);
    writeStateFile(files.statePath, createState(worker.pid, readProcessStartTicks(worker.pid)));
    assert.equal(proveWorkerIdentity({ pid: worker.pid, configPath: files.configPath, statePath: files.statePath }).proven, true);
    const presence = inspectWorker(files);
    assert.equal(presence.kind, 'running');
    assert.equal(clearStaleWorkerFiles(files, presence), undefined);
    assert.equal(existsSync(files.pidPath), true);
  } finally {
    await stopProcess(worker);
  }
});

test('the pid of a process that has exited is dead, and its pid file is cleared with a note', async () => {
  const gone = startProcess('true', []);
  await gone.exited;
  writeFileSync(files.pidPath, `${gone.pid}\n`);
  const presence = inspectWorker(files);
  assert.deepEqual(presence.kind, 'dead');
  assert.equal(clearStaleWorkerFiles(files, presence), `removed stale pid file of pid ${gone.pid} (the process is gone)`);
  assert.equal(existsSync(files.pidPath), false);
});

test('a pid file without a pid is invalid, and removed', () => {
  writeFileSync(files.pidPath, 'TSN 1A2B\n');
  const presence = inspectWorker(files);
  assert.equal(presence.kind, 'invalid');
  assert.match(clearStaleWorkerFiles(files, presence) ?? '', /held no pid/);
  assert.equal(existsSync(files.pidPath), false);
});

test('no pid file and no state file: stopped', () => {
  assert.equal(inspectWorker(files).kind, 'stopped');
});

test('the command line must carry both `run` and the configuration path', () => {
  assert.equal(isWorkerCommandLine(['node', 'main.js', 'run', files.configPath], files.configPath), true);
  assert.equal(isWorkerCommandLine(['node', 'main.js', 'status', files.configPath], files.configPath), false);
  assert.equal(isWorkerCommandLine(['node', 'main.js', 'run', '/other/stunnel.conf'], files.configPath), false);
});
