// The two programs under comparison: Debian's stunnel4 (the reference) and `stunnelctl run`, started
// on the same rendered configuration. A started engine is ready once its pid file names it (both write
// it only after every `accept` is bound); its log file is read back as stunnel-format lines.
// No side effects on import.
import { join } from 'node:path';
import { CLI_PATH } from '../../helpers/paths.js';
import { runCommand, startProcess, stopProcess } from '../../helpers/processes.js';
import type { CommandResult, ExitStatus, StartedProcess } from '../../helpers/processes.js';
import { findStunnel } from '../../helpers/reference-stunnel.js';
import { readLogLines } from '../../helpers/stunnel-log.js';
import type { LogLine } from '../../helpers/stunnel-log.js';
import { waitFor } from '../../helpers/wait.js';
import { readPid } from '../../helpers/worker.js';
import { groupConnections } from './log-events.js';
import type { ConnectionRecord } from './log-events.js';

export type EngineKind = 'stunnel4' | 'stunnelctl';

/** The reference first: its outcome is what stunnelctl is compared with. */
export const ENGINE_KINDS: readonly EngineKind[] = ['stunnel4', 'stunnelctl'];

const CONFIG_RUN_TIMEOUT_MS = 15_000;
const LOG_WAIT_TIMEOUT_MS = 10_000;

/** The stunnel binary; the compatibility suite has no meaning without it, so its absence fails. */
export const stunnelBinary = (): string => {
  const binary = findStunnel();
  if (binary === undefined) throw new Error('Debian stunnel4 is not installed (apt-get install stunnel4): the compatibility suite needs it');
  return binary;
};

/** argv of `kind` running `configFile` (stunnel4 FILE, or node dist/src/cli/main.js run FILE). */
export const engineArgv = (kind: EngineKind, args: readonly string[]): { command: string; args: string[] } =>
  kind === 'stunnel4'
    ? { command: stunnelBinary(), args: [...args] }
    : { command: process.execPath, args: [CLI_PATH, 'run', ...args] };

/** Where one engine's files of one scenario live: `<dir>/<label>-<kind>.{conf,log,pid}`. */
export interface EngineFiles {
  readonly config: string;
  readonly log: string;
  readonly pid: string;
}

export const engineFiles = (dir: string, label: string, kind: EngineKind): EngineFiles => ({
  config: join(dir, `${label}-${kind}.conf`),
  log: join(dir, `${label}-${kind}.log`),
  pid: join(dir, `${label}-${kind}.pid`),
});

/** Runs an engine on arguments until it exits by itself (broken configurations, -version, ...). */
export const runEngineToExit = (kind: EngineKind, args: readonly string[], options: { cwd?: string } = {}): Promise<CommandResult> => {
  const { command, args: argv } = engineArgv(kind, args);
  return runCommand(command, argv, { timeoutMs: CONFIG_RUN_TIMEOUT_MS, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
};

export interface RunningEngine {
  readonly kind: EngineKind;
  readonly files: EngineFiles;
  readonly process: StartedProcess;
  readonly pid: number;
  /** Every stunnel-format line of the log file so far. */
  lines(): LogLine[];
  /** The connections in the log, in the order they were accepted. */
  connections(): ConnectionRecord[];
  /** Waits for a line whose text matches `pattern`, counting only lines after the first `skip`. */
  waitForLine(pattern: RegExp, options?: { skip?: number; timeoutMs?: number }): Promise<LogLine>;
  /** Waits until `count` connections have their close summary in the log; returns all connections. */
  waitForClosed(count: number, timeoutMs?: number): Promise<ConnectionRecord[]>;
  /**
   * Waits (once) until the engine logged `Accepting new connections` (needs debug = info): stunnel
   * writes its pid file before it installs its signal handlers, so an earlier signal would kill it.
   */
  accepting(): Promise<void>;
  /** Sends `signal` once `accepting()` resolved. */
  signal(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM, bounded wait, SIGKILL. Safe to call twice. */
  stop(): Promise<ExitStatus>;
}

export type StartAttempt =
  | { ok: true; engine: RunningEngine }
  | { ok: false; code: number | null; stderr: string };

const READY_TIMEOUT_MS = 15_000;

/**
 * Starts `kind` on `files.config` (which must set `pid` and `output` to `files`) and waits until it
 * is ready (its pid file names it) or has exited: a scenario may expect either (a file one program
 * accepts and the other refuses).
 */
export const tryStartEngine = async (kind: EngineKind, files: EngineFiles, options: { cwd?: string } = {}): Promise<StartAttempt> => {
  const { command, args } = engineArgv(kind, [files.config]);
  const started = startProcess(command, args, options.cwd === undefined ? {} : { cwd: options.cwd });
  let ready: 'ready' | 'exited';
  try {
    ready = await waitFor<'ready' | 'exited'>(
      () => (started.exitStatus() !== undefined ? 'exited' : readPid(files.pid) === started.pid ? 'ready' : undefined),
      { what: `the pid file ${files.pid} of "${started.description}"`, timeoutMs: READY_TIMEOUT_MS },
    );
  } catch (error) {
    await stopProcess(started);
    throw new Error(`${(error as Error).message}\nstderr: ${started.stderr().toString()}`, { cause: error });
  }
  if (ready === 'exited') {
    const status = await started.closed;
    return { ok: false, code: status.code, stderr: started.stderr().toString('utf8') };
  }
  const lines = (): LogLine[] => readLogLines(files.log);
  const connections = (): ConnectionRecord[] => groupConnections(lines());
  let accepting: Promise<void> | undefined;
  const engine: RunningEngine = {
    kind,
    files,
    process: started,
    pid: started.pid,
    lines,
    connections,
    waitForLine: (pattern, waitOptions = {}) =>
      waitFor(() => lines().slice(waitOptions.skip ?? 0).find((line) => pattern.test(line.text)), {
        what: `a line matching ${pattern} in the ${kind} log ${files.log}`,
        timeoutMs: waitOptions.timeoutMs ?? LOG_WAIT_TIMEOUT_MS,
      }),
    waitForClosed: (count, timeoutMs = LOG_WAIT_TIMEOUT_MS) =>
      waitFor(
        () => {
          const all = connections();
          return all.filter((connection) => connection.close !== null).length >= count ? all : undefined;
        },
        { what: `${count} connection close summaries in the ${kind} log ${files.log}`, timeoutMs },
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n--- ${kind} log ---\n${lines().map((line) => line.raw).join('\n')}`, { cause: error });
      }),
    accepting: async () => {
      accepting ??= engine.waitForLine(/^Accepting new connections$/).then(() => undefined);
      await accepting;
    },
    signal: async (signal) => {
      await engine.accepting();
      process.kill(started.pid, signal);
    },
    stop: () => stopProcess(started),
  };
  return { ok: true, engine };
};

/** Starts `kind` and waits until it is ready; its exit before that is an error carrying its stderr. */
export const startEngine = async (kind: EngineKind, files: EngineFiles, options: { cwd?: string } = {}): Promise<RunningEngine> => {
  const attempt = await tryStartEngine(kind, files, options);
  if (!attempt.ok) throw new Error(`${kind} exited (${attempt.code}) instead of starting on ${files.config}:\n${attempt.stderr}`);
  return attempt.engine;
};

/**
 * Runs `body` with `kind` started on its configuration and always stops it afterwards. `prepare`
 * writes the configuration file (and anything else the scenario needs) before the start.
 */
export const withEngine = async <T>(
  kind: EngineKind,
  files: EngineFiles,
  body: (engine: RunningEngine) => Promise<T>,
  options: { cwd?: string } = {},
): Promise<T> => {
  const engine = await startEngine(kind, files, options);
  try {
    return await body(engine);
  } finally {
    await engine.stop();
  }
};

/** The log of an engine, for assertion messages. */
export const describeLog = (engine: RunningEngine): string =>
  `--- ${engine.kind} log ${engine.files.log} ---\n${engine.lines().map((line) => line.raw).join('\n')}`;
