// Processes the e2e tests start: spawn with captured output, run a command to completion under a
// deadline, and stop a process by its pid (SIGTERM, bounded wait, SIGKILL). Also the /proc probes the
// tests use to prove which processes exist.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { CLI_PATH } from './paths.js';
import { waitFor, withTimeout } from './wait.js';

export const DEFAULT_STOP_TIMEOUT_MS = 5_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
// After a command exits, its stdout/stderr must reach EOF promptly; if a descendant still holds
// them (a "detached" worker that inherited the pipes), the command would hang every shell pipeline.
const PIPE_DRAIN_TIMEOUT_MS = 2_000;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly description: string;
  readonly exited: Promise<ExitStatus>;
  /** Resolves once the process exited and its stdout/stderr reached EOF (all output captured). */
  readonly closed: Promise<ExitStatus>;
  /** Exit status once the process has exited, else undefined. */
  exitStatus(): ExitStatus | undefined;
  stdout(): Buffer;
  stderr(): Buffer;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const describeCommand = (command: string, args: readonly string[]): string =>
  [command, ...args].map((part) => (/\s/.test(part) ? JSON.stringify(part) : part)).join(' ');

/** Spawns `command` with piped stdio, capturing stdout and stderr in memory. */
export const startProcess = (command: string, args: readonly string[], options: StartOptions = {}): StartedProcess => {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const description = describeCommand(command, args);
  const stdoutChunks: Buffer[] = [];
  const stderrChunks: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => stdoutChunks.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderrChunks.push(chunk));
  // A peer that exits early makes our writes fail with EPIPE; the exit status tells the story.
  child.stdin?.on('error', () => undefined);
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
  });
  const closed = new Promise<ExitStatus>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // Only `exited` is awaited by most callers; a spawn error is reported there.
  closed.catch(() => undefined);
  if (child.pid === undefined) throw new Error(`could not spawn ${description}`);
  return {
    child,
    pid: child.pid,
    description,
    exited,
    closed,
    exitStatus: () => status,
    stdout: () => Buffer.concat(stdoutChunks),
    stderr: () => Buffer.concat(stderrChunks),
  };
};

/** Stops a process the test started: SIGTERM, a bounded wait, then SIGKILL. Safe to call twice. */
export const stopProcess = async (started: StartedProcess, timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<ExitStatus> => {
  const already = started.exitStatus();
  if (already !== undefined) return already;
  started.child.kill('SIGTERM');
  try {
    return await withTimeout(started.exited, timeoutMs, `${started.description} to exit after SIGTERM`);
  } catch {
    // It ignored SIGTERM for the whole grace period: escalate.
    started.child.kill('SIGKILL');
    return withTimeout(started.exited, timeoutMs, `${started.description} to exit after SIGKILL`);
  }
};

/** The one-letter state of /proc/PID/stat, or undefined when there is no such process. */
export const readProcessState = (pid: number): string | undefined => {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
};

/** True while `pid` is a live process; a zombie (exited, not yet reaped) counts as gone. */
export const isProcessAlive = (pid: number): boolean => {
  const state = readProcessState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
};

/** Fields of /proc/PID/stat after the command name; index 0 is field 3 (state). */
export const readProcessStatFields = (pid: number | 'self'): string[] => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
};

/** The argv of a process, from /proc/PID/cmdline; [] when it is gone. */
export const readProcessArgv = (pid: number): string[] => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
};

/**
 * Stops a process the test did not spawn itself (a detached worker) by its pid: SIGTERM, bounded
 * wait, SIGKILL. Returns how it ended: 'gone' (already), 'terminated' or 'killed'.
 */
export const stopPid = async (pid: number, timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<'gone' | 'terminated' | 'killed'> => {
  if (!signalIfAlive(pid, 'SIGTERM')) return 'gone';
  try {
    await waitFor(() => !isProcessAlive(pid), { what: `pid ${pid} to exit after SIGTERM`, timeoutMs });
    return 'terminated';
  } catch {
    // It ignored SIGTERM for the whole grace period: escalate.
    if (!signalIfAlive(pid, 'SIGKILL')) return 'terminated';
    await waitFor(() => !isProcessAlive(pid), { what: `pid ${pid} to exit after SIGKILL`, timeoutMs });
    return 'killed';
  }
};

/** Sends `signal` to `pid` unless it is gone; false when there was no live process to signal. */
const signalIfAlive = (pid: number, signal: NodeJS.Signals): boolean => {
  if (!isProcessAlive(pid)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
};

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary output. */
  stdoutBytes: Buffer;
  /** The command line, for assertion messages. */
  description: string;
}

export interface RunOptions extends StartOptions {
  input?: string | Buffer;
  timeoutMs?: number;
}

const waitForPipesClosed = async (started: StartedProcess): Promise<void> => {
  const closed = (stream: Readable | null): Promise<void> =>
    stream === null || stream.closed
      ? Promise.resolve()
      : new Promise((resolve) => stream.once('close', () => resolve()));
  await withTimeout(
    Promise.all([closed(started.child.stdout), closed(started.child.stderr)]),
    PIPE_DRAIN_TIMEOUT_MS,
    `stdout/stderr of "${started.description}" to close after it exited (a child process kept them open)`,
  );
};

/** Runs a command to completion under a deadline (killed and reported if it overruns). */
export const runCommand = async (command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> => {
  const started = startProcess(command, args, options);
  started.child.stdin?.end(options.input ?? '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  let status: ExitStatus;
  try {
    status = await withTimeout(started.exited, timeoutMs, `"${started.description}" to finish`);
  } catch (error) {
    await stopProcess(started);
    throw new Error(
      `${(error as Error).message}\nstdout: ${started.stdout().toString()}\nstderr: ${started.stderr().toString()}`,
      { cause: error },
    );
  }
  await waitForPipesClosed(started);
  return {
    ...status,
    stdout: started.stdout().toString('utf8'),
    stdoutBytes: started.stdout(),
    stderr: started.stderr().toString('utf8'),
    description: started.description,
  };
};

/** Runs the built CLI (`stunnelctl ARGS`) as an operator would. */
export const runCli = (args: readonly string[], options: RunOptions = {}): Promise<CommandResult> =>
  runCommand(process.execPath, [CLI_PATH, ...args], options);

/** Starts the built CLI without waiting for it (concurrent starts, foreground `run`). */
export const startCli = (args: readonly string[], options: StartOptions = {}): StartedProcess =>
  startProcess(process.execPath, [CLI_PATH, ...args], options);

/** A one-line summary of a command's outcome, for assertion messages. */
export const formatResult = (result: CommandResult): string =>
  `${result.description}\n  exit: ${result.code ?? result.signal}\n  stdout: ${result.stdout.trim()}\n  stderr: ${result.stderr.trim()}`;
