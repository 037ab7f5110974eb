// `stop` (STUNNEL.STOP): under the home lock, SIGTERM to the proven worker (after a stop request
// asking it to drain, with --drain), a bounded wait, SIGKILL with a warning if it does not go, and no
// pid file, state file or stop request left behind either way.
import { StunnelctlError, isStunnelctlError } from '../errors.js';
import { readStateFile, removeFileIfPresent, stopRequestPathFor, writeFileAtomic, type StopRequest as WorkerStopRequest } from '../worker/state-file.js';
import { withHomeLock, type HomeLockEvents } from './lock.js';
import { removePidFileIfUnchanged } from './pid-file.js';
import { pollUntil } from './poll.js';
import { isProcessAlive } from './worker-identity.js';
import { clearStaleWorkerFiles, inspectWorker, type WorkerFiles } from './worker-presence.js';
import { signalWorker } from './worker-signals.js';

/** After SIGKILL the kernel ends a process at once; this only covers a loaded machine. */
const KILL_WAIT_MS = 5_000;

export interface StopRequest {
  home: { directory: string; files: { home: string; lock: string } };
  worker: WorkerFiles;
  timeoutMs: number;
  /** Let live connections finish for up to this long before they are closed (no new ones are accepted). */
  drainSeconds?: number;
  lockWaitMs: number;
  note: (line: string) => void;
  warn: (line: string) => void;
  lockEvents: HomeLockEvents;
}

export type StopOutcome = { kind: 'not-running' } | { kind: 'stopped'; pid: number; killed: boolean };

export const stopWorker = (request: StopRequest): Promise<StopOutcome> =>
  withHomeLock(request.home.files, { ...request.lockEvents, waitMs: request.lockWaitMs }, () => stopLocked(request));

const stopLocked = async (request: StopRequest): Promise<StopOutcome> => {
  const { worker } = request;
  const stopRequestPath = stopRequestPathFor(worker.pidPath);
  const presence = inspectWorker(worker);
  if (presence.kind !== 'running') {
    removeFileIfPresent(stopRequestPath);
    const cleared = clearStaleWorkerFiles(worker, presence);
    if (cleared !== undefined) request.note(cleared);
    return { kind: 'not-running' };
  }
  const { pid } = presence;
  const gone = (): true | undefined => (isProcessAlive(pid) ? undefined : true);
  const drainMs = (request.drainSeconds ?? 0) * 1000;
  // A signal carries no arguments: the worker reads this file when SIGTERM arrives.
  if (drainMs > 0) writeStopRequest(stopRequestPath, request.drainSeconds ?? 0);
  sendUnlessGone(pid, 'SIGTERM');
  let killed = false;
  // The worker closes its connections on SIGTERM (after draining them, if asked); one that has
  // not gone by the timeout is stuck, and SIGKILL (which it cannot catch) is the only way left to
  // free its ports. The drain time is the worker's to use, so it does not count against the timeout.
  const waitMs = request.timeoutMs + drainMs;
  if ((await pollUntil(gone, waitMs)) === undefined) {
    request.warn(`the worker (pid ${pid}) did not stop within ${waitMs / 1000} s of SIGTERM; sent SIGKILL`);
    sendUnlessGone(pid, 'SIGKILL');
    killed = true;
    if ((await pollUntil(gone, KILL_WAIT_MS)) === undefined) {
      throw new StunnelctlError('SCTL_ERR_STOP_FAILED', `the worker (pid ${pid}) is still there ${KILL_WAIT_MS / 1000} s after SIGKILL`, {
        hint: `check the process with ps -o pid,stat,cmd -p ${pid} (a process in D state waits for I/O)`,
      });
    }
  }
  // A worker ends by removing both; one that was killed cannot have.
  removePidFileIfUnchanged(worker.pidPath, { kind: 'pid', pid });
  if (readStateFile(worker.statePath)?.pid === pid) removeFileIfPresent(worker.statePath);
  removeFileIfPresent(stopRequestPath);
  return { kind: 'stopped', pid, killed };
};

/** A worker that exits on its own between the check and the signal has done what stop wanted. */
const sendUnlessGone = (pid: number, signal: NodeJS.Signals): void => {
  try {
    signalWorker(pid, signal);
  } catch (error) {
    if (!isStunnelctlError(error) || error.code !== 'SCTL_ERR_NOT_RUNNING') throw error;
  }
};

const writeStopRequest = (path: string, drainSeconds: number): void => {
  const stopRequest: WorkerStopRequest = { drainSeconds, requestedAt: new Date().toISOString() };
  writeFileAtomic(path, `${JSON.stringify(stopRequest)}\n`);
};
