// What the pid file and the state file say about a home's worker: running (proven), dead (the pid
// is gone), foreign (the pid now names another process), invalid, or stopped; and clearing the
// leftovers of a worker that is no longer there.
import { removeFileIfPresent, readStateFile } from '../worker/state-file.js';
import { readPidFile, removePidFileIfUnchanged, type PidFileContent } from './pid-file.js';
import { proveWorkerIdentity } from './worker-identity.js';
import type { WorkerState } from '../worker/state-file.js';

export interface WorkerFiles {
  configPath: string;
  pidPath: string;
  statePath: string;
}

export type WorkerPresence =
  | { kind: 'running'; pid: number; state: WorkerState; pidFileMissing: boolean }
  | { kind: 'dead'; pid: number; pidFile: PidFileContent }
  | { kind: 'foreign'; pid: number; reason: string; pidFile: PidFileContent }
  | { kind: 'invalid'; text: string; pidFile: PidFileContent }
  | { kind: 'stopped' };

export const inspectWorker = (files: WorkerFiles): WorkerPresence => {
  const pidFile = readPidFile(files.pidPath);
  if (pidFile.kind === 'invalid') return { kind: 'invalid', text: pidFile.text, pidFile };
  if (pidFile.kind === 'pid') {
    const verdict = proveWorkerIdentity({ pid: pidFile.pid, configPath: files.configPath, statePath: files.statePath });
    if (verdict.proven) return { kind: 'running', pid: pidFile.pid, state: verdict.state, pidFileMissing: false };
    return verdict.alive
      ? { kind: 'foreign', pid: pidFile.pid, reason: verdict.reason, pidFile }
      : { kind: 'dead', pid: pidFile.pid, pidFile };
  }
  // No pid file: a worker still binding has none yet, and one whose pid file was deleted by hand
  // is still running; the state file names it either way.
  const state = readStateFile(files.statePath);
  if (state === undefined) return { kind: 'stopped' };
  const verdict = proveWorkerIdentity({ pid: state.pid, configPath: files.configPath, statePath: files.statePath });
  return verdict.proven ? { kind: 'running', pid: state.pid, state: verdict.state, pidFileMissing: true } : { kind: 'stopped' };
};

/**
 * Removes the pid file and state file of a worker that is not running (dead, foreign or invalid
 * pid file) and says what was done; never signals anything. Returns undefined when nothing was stale.
 */
export const clearStaleWorkerFiles = (files: WorkerFiles, presence: WorkerPresence): string | undefined => {
  if (presence.kind === 'running') return undefined;
  if (presence.kind === 'stopped') {
    // A state file without a proven worker is what a kill -9 leaves; it says nothing true any more.
    removeFileIfPresent(files.statePath);
    return undefined;
  }
  const removed = removePidFileIfUnchanged(files.pidPath, presence.pidFile);
  removeFileIfPresent(files.statePath);
  if (!removed) return undefined;
  if (presence.kind === 'dead') return `removed stale pid file of pid ${presence.pid} (the process is gone)`;
  if (presence.kind === 'foreign') {
    return `removed stale pid file ${files.pidPath}: ${presence.reason}; that process was not signalled`;
  }
  return `removed pid file ${files.pidPath}, which held no pid (${JSON.stringify(presence.text)})`;
};
