// Proof that a pid is this home's worker, required before any signal is sent: its command line is
// `... run <this home's configuration>` and its start time matches the one the worker published.
// A pid file can outlive its worker and the pid be reused by anything; signalling that is never OK.
import { readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { getSystemErrorCode } from '../errors.js';
import { readProcessStartTicks, readStateFile, type WorkerState } from '../worker/state-file.js';

export type IdentityVerdict =
  | { proven: true; state: WorkerState }
  | { proven: false; alive: boolean; reason: string };

export interface WorkerIdentityClaim {
  pid: number;
  /** The home's configuration file: the worker was started as `run <this>`. */
  configPath: string;
  /** The state file beside the pid file. */
  statePath: string;
}

/** The one-letter state field of /proc/PID/stat, or undefined when there is no such process. */
const readProcessState = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT' || getSystemErrorCode(error) === 'ESRCH') return undefined;
    throw error;
  }
};

/** True while `pid` runs; a zombie (exited, not yet reaped by its parent) counts as gone. */
export const isProcessAlive = (pid: number): boolean => {
  const state = readProcessState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
};

/** The argv of a process from /proc/PID/cmdline (NUL-separated), or undefined when it is gone. */
export const readProcessArguments = (pid: number): string[] | undefined => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '');
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT' || getSystemErrorCode(error) === 'ESRCH') return undefined;
    throw error;
  }
};

/** The spellings of the configuration path a worker's command line may carry. */
const createConfigPathSpellings = (configPath: string): Set<string> => {
  const spellings = new Set([resolve(configPath)]);
  try {
    spellings.add(realpathSync(configPath));
  } catch (error) {
    // A configuration removed since the worker started: the absolute spelling still identifies it.
    if (getSystemErrorCode(error) !== 'ENOENT') throw error;
  }
  return spellings;
};

/** Whether argv is that of `stunnelctl run <configPath>`. */
export const isWorkerCommandLine = (argv: readonly string[], configPath: string): boolean => {
  const spellings = createConfigPathSpellings(configPath);
  return argv.includes('run') && argv.some((argument) => spellings.has(argument));
};

const formatArgv = (argv: readonly string[]): string => {
  const text = argv.join(' ');
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
};

export const proveWorkerIdentity = (claim: WorkerIdentityClaim): IdentityVerdict => {
  const { pid } = claim;
  const argv = readProcessArguments(pid);
  if (argv === undefined || !isProcessAlive(pid)) return { proven: false, alive: false, reason: `process ${pid} does not exist` };
  if (!isWorkerCommandLine(argv, claim.configPath)) {
    return { proven: false, alive: true, reason: `process ${pid} is not "stunnelctl run ${claim.configPath}" (it is: ${formatArgv(argv)})` };
  }
  const state = readStateFile(claim.statePath);
  if (state === undefined) return { proven: false, alive: true, reason: `process ${pid} has published no state file ${claim.statePath}` };
  if (state.pid !== pid) return { proven: false, alive: true, reason: `the state file belongs to pid ${state.pid}, not ${pid}` };
  const ticks = readProcessStartTicks(pid);
  if (ticks === null || state.processStartTicks === null || ticks !== state.processStartTicks) {
    return { proven: false, alive: true, reason: `process ${pid} started at another time than the worker that wrote the state file (the pid was reused)` };
  }
  return { proven: true, state };
};
