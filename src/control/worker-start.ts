// `start` (STUNNEL.START): under the home lock, report a worker that is already running, validate
// the configuration, clear a stale pid file, launch the job detached and wait until it is listening.
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import { readStateFile, removeFileIfPresent, stateFilePathFor, type WorkerState } from '../worker/state-file.js';
import { loadValidConfiguration, locateWorkerFiles, requirePidFile } from './configuration.js';
import type { Home } from './home.js';
import { loadJobClasses, resolveJobClass, type JobClass } from './job-classes.js';
import { launchJob, readSyslstSince, type JobExit, type LaunchedJob } from './job-launch.js';
import { withHomeLock, type HomeLockEvents } from './lock.js';
import { isPresent } from './operator-file.js';
import { readPidFile, removePidFileIfUnchanged } from './pid-file.js';
import { pollUntil } from './poll.js';
import { isProcessAlive } from './worker-identity.js';
import { clearStaleWorkerFiles, inspectWorker, type WorkerFiles } from './worker-presence.js';

/** After a failed start, how long the job gets to exit on SIGTERM before SIGKILL. */
const FAILED_JOB_TERM_WAIT_MS = 3_000;
const FAILED_JOB_KILL_WAIT_MS = 2_000;

export interface StartRequest {
  home: Home;
  jobClassName: string | undefined;
  timeoutMs: number;
  lockWaitMs: number;
  /** Notes on what was done besides starting (stdout). */
  note: (line: string) => void;
  /** Diagnostics and the worker's own output when it fails (stderr). */
  problem: (line: string) => void;
  lockEvents: HomeLockEvents;
}

export type StartOutcome =
  | { kind: 'already-running'; pid: number; state: WorkerState }
  | { kind: 'started'; pid: number; jobClass: JobClass; state: WorkerState };

export const startWorker = (request: StartRequest): Promise<StartOutcome> =>
  withHomeLock(request.home.files, { ...request.lockEvents, waitMs: request.lockWaitMs }, () => startLocked(request));

const startLocked = async (request: StartRequest): Promise<StartOutcome> => {
  const { files } = request.home;
  // A running worker is reported before the file is validated: it serves the configuration it
  // loaded, and an operator half-way through an edit must hear "already running" (exit 0), not exit 6.
  const running = inspectWorker(locateWorkerFiles(files.config, files));
  if (running.kind === 'running') return { kind: 'already-running', pid: running.pid, state: running.state };
  const config = loadValidConfiguration(files.config, request.problem);
  const pidPath = requirePidFile(config, files.pid);
  const worker: WorkerFiles = { configPath: files.config, pidPath, statePath: stateFilePathFor(pidPath) };
  // Again with the validated file's pid path: the file may have changed since the look above.
  const presence = inspectWorker(worker);
  if (presence.kind === 'running') return { kind: 'already-running', pid: presence.pid, state: presence.state };
  const cleared = clearStaleWorkerFiles(worker, presence);
  if (cleared !== undefined) request.note(cleared);
  const jobClass = resolveJobClass(loadJobClasses(files.jobClasses, request.problem), request.jobClassName);
  if (!isPresent(files.jobFile)) {
    throw new StunnelctlError('SCTL_ERR_HOME_MISSING', `the job file ${files.jobFile} does not exist`, {
      hint: 'recreate it with stunnelctl install --force (existing files are backed up)',
    });
  }
  const job = launchJob({ jobFile: files.jobFile, syslstPath: files.syslst, cwd: files.home, jobClass });
  const ready = await waitUntilReady(job, worker, request.timeoutMs);
  if (ready.kind === 'ready') return { kind: 'started', pid: job.pid, jobClass, state: ready.state };
  await abandonJob(job, worker);
  const lines = readSyslstSince(files.syslst, job.syslstOffset);
  lines.forEach(request.problem);
  throw new StunnelctlError('SCTL_ERR_START_FAILED', formatFailure(ready, request.timeoutMs), {
    hint:
      lines.length > 0
        ? `the worker's own messages are above (from ${files.syslst}); fix the cause, then run stunnelctl start again`
        : `the worker wrote nothing to ${files.syslst}; check the job file ${files.jobFile}`,
  });
};

type Readiness = { kind: 'ready'; state: WorkerState } | { kind: 'exited'; exit: JobExit } | { kind: 'timeout' };

/**
 * Ready means: the pid file names the job's pid (the worker writes it only after binding every
 * accept) and the state file of that pid says "running". The job is our child, so its exit is
 * seen at once and the wait ends then, not at the timeout.
 */
const waitUntilReady = async (job: LaunchedJob, worker: WorkerFiles, timeoutMs: number): Promise<Readiness> => {
  const outcome = await pollUntil<Readiness>(() => {
    const exit = job.exitStatus();
    if (exit !== undefined) return { kind: 'exited', exit };
    const pidFile = readPidFile(worker.pidPath);
    if (pidFile.kind !== 'pid' || pidFile.pid !== job.pid) return undefined;
    const state = readStateFile(worker.statePath);
    return state?.pid === job.pid && state.status === 'running' ? { kind: 'ready', state } : undefined;
  }, timeoutMs);
  return outcome ?? { kind: 'timeout' };
};

const formatFailure = (readiness: Exclude<Readiness, { kind: 'ready' }>, timeoutMs: number): string => {
  if (readiness.kind === 'timeout') return `the worker was not listening within ${timeoutMs / 1000} s and has been stopped`;
  const { code, signal } = readiness.exit;
  if (signal !== undefined) return `the worker was ended by ${signal} before it was listening`;
  return code === undefined ? 'the job could not be run' : `the worker exited with status ${code} before it was listening`;
};

/** Stops a job that did not come up (its whole process group) and removes anything it left. */
const abandonJob = async (job: LaunchedJob, worker: WorkerFiles): Promise<void> => {
  const gone = (): true | undefined => (job.exitStatus() !== undefined || !isProcessAlive(job.pid) ? true : undefined);
  if (gone() === undefined) {
    signalGroup(job.pid, 'SIGTERM');
    if ((await pollUntil(gone, FAILED_JOB_TERM_WAIT_MS)) === undefined) {
      signalGroup(job.pid, 'SIGKILL');
      await pollUntil(gone, FAILED_JOB_KILL_WAIT_MS);
    }
  }
  removePidFileIfUnchanged(worker.pidPath, { kind: 'pid', pid: job.pid });
  if (readStateFile(worker.statePath)?.pid === job.pid) removeFileIfPresent(worker.statePath);
};

/** Signals the job's process group (it is the group leader: detached = a new session). */
const signalGroup = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    // ESRCH: the group is already gone, which is what was wanted.
    if (getSystemErrorCode(error) !== 'ESRCH') throw error;
  }
};
