// Workers for the reliability figures: installed homes started through the CLI with a job class (the
// operator's way), configuration edits on them, a foreground `run` worker with a raised open-file
// limit, and what the tests read back from a worker: its log files (current and archived), its
// SYSLST, its resident memory.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as assert from 'node:assert/strict';
import { createHome, isWorkerOf } from '../../helpers/home.js';
import type { TestHome } from '../../helpers/home.js';
import { CLI_PATH } from '../../helpers/paths.js';
import { getFreePorts } from '../../helpers/ports.js';
import { formatResult, startProcess } from '../../helpers/processes.js';
import type { StartedProcess } from '../../helpers/processes.js';
import { waitForPidFile } from '../../helpers/worker.js';

/** The job class with a large open-file limit (16384 in the installed table). */
export const HIGH_JOB_CLASS = '*HIGH';

/** Installs a home accepting on a free 127.0.0.1 port and forwarding to `connectPort`. */
export const installHome = async (connectPort: number): Promise<TestHome> => {
  const [acceptPort] = (await getFreePorts(1)) as [number];
  return createHome({ acceptPort, connectPort });
};

/** `stunnelctl start --job-class CLASS`; asserts it worked and returns the worker's pid. */
export const startHome = async (home: TestHome, jobClass = HIGH_JOB_CLASS): Promise<number> => {
  const result = await home.cli('start', ['--job-class', jobClass]);
  assert.equal(result.code, 0, formatResult(result));
  const pid = home.readPidFile();
  assert.ok(pid !== undefined && isWorkerOf(pid, home.files.config), `a worker of ${home.files.config} runs (pid file: ${pid})\n${formatResult(result)}`);
  return pid;
};

/** Rewrites the home's configuration file line by line. */
export const editConfig = (home: TestHome, edit: (lines: string[]) => string[]): void => {
  const lines = readFileSync(home.files.config, 'utf8').split('\n');
  writeFileSync(home.files.config, `${edit(lines).join('\n')}\n`);
};

/** Adds options to the global part (before the first section). */
export const withGlobalLines = (extra: readonly string[]) => (lines: string[]): string[] => {
  const first = lines.findIndex((line) => /^\s*\[/.test(line));
  const at = first < 0 ? lines.length : first;
  return [...lines.slice(0, at), ...extra, ...lines.slice(at)];
};

/** Adds options to the end of the file (the installed file's only section). */
export const withServiceLines = (extra: readonly string[]) => (lines: string[]): string[] => [...lines, ...extra];

/** Replaces `name = value` lines of an option (all of them) by `replacement` lines at the first one. */
export const replacingOption = (name: string, replacement: readonly string[]) => (lines: string[]): string[] => {
  const matches = (line: string): boolean => new RegExp(`^\\s*${name}\\s*=`, 'i').test(line);
  const first = lines.findIndex(matches);
  assert.ok(first >= 0, `the configuration has a "${name} =" line`);
  return [...lines.slice(0, first), ...replacement, ...lines.slice(first).filter((line) => !matches(line))];
};

/** The current log and every archived one (`LOG.<date>`), oldest archive first, current last. */
export const listLogFiles = (logPath: string): string[] => {
  const name = basename(logPath);
  const archives = readdirSync(dirname(logPath))
    .filter((entry) => entry.startsWith(`${name}.`))
    .sort()
    .map((entry) => join(dirname(logPath), entry));
  return [...archives, logPath];
};

export const readText = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
};

/** Lines of the worker's SYSLST that say it caught an internal error (each one is a defect). */
export const findInternalErrors = (home: TestHome): string[] =>
  readText(home.files.syslst).split('\n').filter((line) => /INTERNAL ERROR|uncaught|Unhandled/i.test(line));

/** Resident set size of a process in KiB (VmRSS of /proc/PID/status). */
export const readRssKiB = (pid: number): number => {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match?.[1] === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
};

// `ulimit -n 65536` needs CAP_SYS_RESOURCE above the hard limit; without it, the hard limit is the most.
const RAISE_NOFILE = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -H -n)"; exec "$0" "$@"';

/** `stunnelctl run CONF` in the foreground with a raised open-file limit; ready once its pid file names it. */
export const startRunWorker = async (configFile: string, pidFile: string): Promise<StartedProcess> => {
  const worker = startProcess('sh', ['-c', RAISE_NOFILE, process.execPath, CLI_PATH, 'run', configFile]);
  await waitForPidFile(worker, pidFile);
  return worker;
};
