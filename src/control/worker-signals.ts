// Talking to a running worker: the signal table (SPEC.md §4), sending a signal only to a pid proven
// to be this home's worker, and waiting for the state-file counter that acknowledges it.
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import { readStateFile, type WorkerState } from '../worker/state-file.js';
import { pollUntil } from './poll.js';
import { isProcessAlive } from './worker-identity.js';
import { inspectWorker, type WorkerFiles } from './worker-presence.js';

/** What each request is, the signal that makes it, and the counter the worker bumps once it is done. */
export const WORKER_REQUESTS = {
  reload: { signal: 'SIGHUP', counter: 'reloadSeq', what: 'reload its configuration' },
  reopenLog: { signal: 'SIGUSR1', counter: 'logReopenSeq', what: 'reopen its log file' },
  dumpConnections: { signal: 'SIGUSR2', counter: 'connDumpSeq', what: 'write its connections to the log' },
} as const;
export type WorkerRequest = keyof typeof WORKER_REQUESTS;

export interface RunningWorker {
  pid: number;
  state: WorkerState;
}

/** The proven running worker, or SCTL_ERR_NOT_RUNNING (exit 7) saying why there is none. */
export const requireRunningWorker = (worker: WorkerFiles, homeDirectory: string): RunningWorker => {
  const presence = inspectWorker(worker);
  if (presence.kind === 'running') return { pid: presence.pid, state: presence.state };
  const why =
    presence.kind === 'stopped'
      ? 'there is no pid file'
      : presence.kind === 'dead'
        ? `the pid file names pid ${presence.pid}, which is gone`
        : presence.kind === 'foreign'
          ? `the pid file names pid ${presence.pid}, but ${presence.reason}; it was not signalled`
          : `the pid file ${worker.pidPath} holds no pid`;
  throw new StunnelctlError('SCTL_ERR_NOT_RUNNING', `the worker of ${homeDirectory} is not running (${why})`, {
    hint: 'start it with stunnelctl start',
  });
};

/** Sends `signal` to a pid already proven to be the worker. */
export const signalWorker = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(pid, signal);
  } catch (error) {
    const code = getSystemErrorCode(error);
    if (code === 'ESRCH') {
      throw new StunnelctlError('SCTL_ERR_NOT_RUNNING', `the worker (pid ${pid}) exited before it could be sent ${signal}`, {
        hint: 'start it with stunnelctl start',
        cause: error,
      });
    }
    throw new StunnelctlError('SCTL_ERR_SIGNAL_FAILED', `cannot send ${signal} to the worker (pid ${pid}): ${code ?? String(error)}`, {
      hint: code === 'EPERM' ? 'run the command as the user that started the worker' : undefined,
      cause: error,
    });
  }
};

/**
 * Sends the request's signal and waits until the worker's state file shows its counter past the
 * value it had before: only then has the worker handled it (a signal is delivered at once, but
 * handled when the worker's event loop gets to it). Returns the state that acknowledged it.
 */
export const requestFromWorker = async (
  worker: RunningWorker,
  statePath: string,
  request: WorkerRequest,
  timeoutMs: number,
): Promise<WorkerState> => {
  const { signal, counter, what } = WORKER_REQUESTS[request];
  const before = (readStateFile(statePath) ?? worker.state)[counter];
  signalWorker(worker.pid, signal);
  const answer = await pollUntil<WorkerState | 'gone'>(() => {
    const state = readStateFile(statePath);
    if (state !== undefined && state.pid === worker.pid && state[counter] > before) return state;
    return isProcessAlive(worker.pid) ? undefined : 'gone';
  }, timeoutMs);
  if (answer === 'gone') {
    throw new StunnelctlError('SCTL_ERR_NOT_RUNNING', `the worker (pid ${worker.pid}) exited instead of being able to ${what}`, {
      hint: 'see its log and the SYSLST file, then start it with stunnelctl start',
    });
  }
  if (answer === undefined) {
    throw new StunnelctlError('SCTL_ERR_WORKER_NO_ANSWER', `the worker (pid ${worker.pid}) was sent ${signal} but did not ${what} within ${timeoutMs / 1000} s`, {
      hint: 'check its log; if it hangs, stunnelctl stop (it escalates to SIGKILL) and start it again',
    });
  }
  return answer;
};
