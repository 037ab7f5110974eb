// An installed stunnelctl home in a temp directory, driven through the built CLI: install, the
// `status --json` view of its files, and a cleanup that always stops the worker (CLI `stop`, then
// SIGTERM/SIGKILL by pid if that did not do it) and removes the directory.
import { join } from 'node:path';
import { formatResult, isProcessAlive, readProcessArgv, runCli, stopPid } from './processes.js';
import type { CommandResult, RunOptions } from './processes.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';
import type { StatusFiles } from '../../src/control/status-report.js';
import { readPid } from './worker.js';

const CLEANUP_STOP_TIMEOUT_MS = 15_000;

/** The home's files as `status --json` reports them (the product's own type). */
export type HomeFiles = StatusFiles;

export interface StatusServiceJson {
  name: string;
  mode: string;
  accept: string[];
  connect: string[];
  listeners: string[];
  cert: string | null;
  active: number;
  total: number;
}

/** `status --json`, as issue 2 / the brief define it. */
export interface StatusJson {
  state: string;
  pid: number | null;
  uptimeSeconds: number | null;
  jobClass: string | null;
  configFile: string;
  configGeneration: number | null;
  engineProcesses: number[] | null;
  lastReload: { seq: number; at: string; ok: boolean; message: string } | null;
  services: StatusServiceJson[];
  connections: { active: number; total: number };
  files: HomeFiles;
}

export interface TestHome {
  /** The temp directory holding the home (and anything else the test puts beside it). */
  readonly dir: string;
  readonly home: string;
  readonly acceptPort: number;
  readonly connectPort: number;
  /** Paths from `status --json` right after install. */
  readonly files: HomeFiles;
  /** Runs `stunnelctl SUBCOMMAND --home HOME ARGS...`. */
  cli(subcommand: string, args?: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** `status --json`: the command's result and its parsed stdout. */
  status(): Promise<{ result: CommandResult; json: StatusJson }>;
  /** The pid in the pid file, or undefined when there is none. */
  readPidFile(): number | undefined;
  /** Stops any worker of this home and removes the temp directory. Never throws for a missing worker. */
  cleanup(): Promise<void>;
}

export interface CreateHomeOptions {
  acceptPort: number;
  connectPort: number;
  /** More `install` arguments (`--naming posix`, `--level 042`). */
  installArgs?: readonly string[];
  /** An existing directory to create the home in (default: a new temp dir). */
  dir?: string;
}

export const parseStatusJson = (result: CommandResult): StatusJson => {
  try {
    return JSON.parse(result.stdout) as StatusJson;
  } catch (error) {
    throw new Error(`status --json did not print JSON\n${formatResult(result)}`, { cause: error });
  }
};

/** True when `pid` is a live `run` process of the configuration file `configFile`. */
export const isWorkerOf = (pid: number, configFile: string): boolean => {
  const argv = readProcessArgv(pid);
  return argv.includes('run') && argv.includes(configFile) && isProcessAlive(pid);
};

/** Installs a home with its first service accepting on 127.0.0.1:acceptPort -> 127.0.0.1:connectPort. */
export const createHome = async (options: CreateHomeOptions): Promise<TestHome> => {
  const dir = options.dir ?? makeTempDir('home');
  const home = join(dir, 'home');
  const cli = (subcommand: string, args: readonly string[] = [], runOptions: RunOptions = {}) =>
    runCli([subcommand, '--home', home, ...args], runOptions);
  try {
    const install = await cli('install', [
      '--accept', `127.0.0.1:${options.acceptPort}`,
      '--connect', `127.0.0.1:${options.connectPort}`,
      ...(options.installArgs ?? []),
    ]);
    if (install.code !== 0) throw new Error(`install failed\n${formatResult(install)}`);
    const statusResult = await cli('status', ['--json']);
    const { files } = parseStatusJson(statusResult);
    if (files === undefined) throw new Error(`status --json has no "files"\n${formatResult(statusResult)}`);
    const readPidFile = () => readPid(files.pid);
    return {
      dir,
      home,
      acceptPort: options.acceptPort,
      connectPort: options.connectPort,
      files,
      cli,
      status: async () => {
        const result = await cli('status', ['--json']);
        return { result, json: parseStatusJson(result) };
      },
      readPidFile,
      cleanup: async () => {
        const pidBefore = readPidFile();
        try {
          await cli('stop', ['--timeout', '10'], { timeoutMs: CLEANUP_STOP_TIMEOUT_MS });
        } finally {
          // Whatever `stop` did, no worker of this home may outlive the test.
          if (pidBefore !== undefined && isWorkerOf(pidBefore, files.config)) await stopPid(pidBefore);
          const pidAfter = readPidFile();
          if (pidAfter !== undefined && isWorkerOf(pidAfter, files.config)) await stopPid(pidAfter);
          removeTempDir(dir);
        }
      },
    };
  } catch (error) {
    if (options.dir === undefined) removeTempDir(dir);
    throw error;
  }
};
