// The worker's state file: the protocol between the detached worker and the CLI. The worker writes it
// atomically on every lifecycle event; the CLI reads it to report and to know a signal was handled.
import { readFileSync, writeFileSync, renameSync, unlinkSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { getSystemErrorCode } from '../errors.js';

export const STATE_FILE_VERSION = 1;

export interface ConnectionInfo {
  id: string;
  service: string;
  peer: string;
  target: string | null;
  tlsVersion: string | null;
  cipher: string | null;
  bytesToTls: number;
  bytesToSocket: number;
  ageMs: number;
  idleMs: number;
}

export interface ServiceState {
  name: string;
  mode: 'server' | 'client';
  accept: string[];
  connect: string[];
  /** Addresses actually bound, as `host:port`. */
  listeners: string[];
  cert: string | null;
  active: number;
  total: number;
}

export interface ReloadResult {
  seq: number;
  at: string;
  ok: boolean;
  message: string;
}

export type WorkerStatus = 'starting' | 'running' | 'stopping';

export interface WorkerState {
  version: number;
  pid: number;
  /** Field 22 of /proc/PID/stat: with the pid, identifies this process across pid reuse. */
  processStartTicks: string | null;
  startedAt: string;
  updatedAt: string;
  configFile: string;
  jobClass: string | null;
  status: WorkerStatus;
  logFile: string | null;
  configGeneration: number;
  reloadSeq: number;
  lastReload: ReloadResult | null;
  logReopenSeq: number;
  connDumpSeq: number;
  connections: ConnectionInfo[];
  connectionsAt: string | null;
  services: ServiceState[];
  /** Pids of the engine processes serving connections; empty when the worker serves alone (`processes = 1`). */
  engineProcesses: number[];
}

/** The state of a worker that has just started: counters at zero, generation 1. */
export const createInitialState = (fields: {
  pid: number;
  processStartTicks: string | null;
  configFile: string;
  jobClass: string | null;
  logFile: string | null;
}): WorkerState => {
  const now = new Date().toISOString();
  return {
    version: STATE_FILE_VERSION,
    ...fields,
    startedAt: now,
    updatedAt: now,
    status: 'running',
    configGeneration: 1,
    reloadSeq: 0,
    lastReload: null,
    logReopenSeq: 0,
    connDumpSeq: 0,
    connections: [],
    connectionsAt: null,
    services: [],
    engineProcesses: [],
  };
};

export const stateFilePathFor = (pidFilePath: string): string => `${pidFilePath}.state`;

/** Field 22 (starttime, clock ticks since boot) of /proc/PID/stat, or null when the process is gone. */
export const readProcessStartTicks = (pid: number): string | null => {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT' || getSystemErrorCode(error) === 'ESRCH') return null;
    throw error;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  return fields[19] ?? null;
};

/** A file's text, or undefined when it does not exist. */
const readTextIfPresent = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
};

/** Reads the state file; undefined when it does not exist or is not (yet) complete JSON. */
export const readStateFile = (path: string): WorkerState | undefined => {
  const text = readTextIfPresent(path);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as WorkerState;
    return parsed.version === STATE_FILE_VERSION ? parsed : undefined;
  } catch {
    // Written by rename, so a torn file means a foreign writer; treat as absent.
    return undefined;
  }
};

/** Writes `content` to `path` atomically: temp file in the same directory, fsync, rename. */
export const writeFileAtomic = (path: string, content: string, mode = 0o644, durable = true): void => {
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w', mode);
  try {
    writeFileSync(fd, content);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
};

/**
 * Not fsync'ed: readers only need the rename's atomicity, and the worker rewrites the file every
 * second under load; an fsync on the event loop stalls every connection for milliseconds.
 */
export const writeStateFile = (path: string, state: WorkerState): void => {
  writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, 0o644, false);
};

export const removeFileIfPresent = (path: string): void => {
  try {
    unlinkSync(path);
  } catch (error) {
    if (getSystemErrorCode(error) !== 'ENOENT') throw error;
  }
};

/** How the CLI asks for a draining stop: this file, then SIGTERM (a signal carries no arguments). */
export interface StopRequest {
  drainSeconds: number;
  requestedAt: string;
}

export const stopRequestPathFor = (pidFilePath: string): string => `${pidFilePath}.stop-request`;

/** Reads and removes the stop request; undefined when there is none (a plain SIGTERM). */
export const takeStopRequest = (path: string): StopRequest | undefined => {
  const text = readTextIfPresent(path);
  if (text === undefined) return undefined;
  removeFileIfPresent(path);
  try {
    const parsed = JSON.parse(text) as Partial<StopRequest>;
    return typeof parsed.drainSeconds === 'number' && parsed.drainSeconds >= 0
      ? { drainSeconds: parsed.drainSeconds, requestedAt: String(parsed.requestedAt ?? '') }
      : undefined;
  } catch {
    // Not JSON: not ours to honour; the stop goes ahead without draining.
    return undefined;
  }
};
