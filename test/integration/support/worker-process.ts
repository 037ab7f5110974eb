// A real worker process (`runWorkerProcess([CONF])`, or the built CLI's `run CONF` once it exists) for
// the tests that need real signals or a second engine, and a probe of which signals a process has
// installed handlers for (SigCgt in /proc/PID/status). No side effects on import.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI_PATH, PROJECT_ROOT } from '../../helpers/paths.js';
import { startProcess } from '../../helpers/processes.js';
import type { StartedProcess } from '../../helpers/processes.js';
import { waitFor } from '../../helpers/wait.js';
import { waitForPidFile } from '../../helpers/worker.js';

export const WORKER_ENTRY = join(PROJECT_ROOT, 'dist', 'src', 'worker', 'main.js');

/** How the worker is started: through the CLI when it has been built, else through the worker entry. */
export const workerLaunchDescription = (): string => (existsSync(CLI_PATH) ? `node ${CLI_PATH} run CONF` : `node -e import(${WORKER_ENTRY}).runWorkerProcess([CONF])`);

/** Spawns a worker on `configFile` without waiting for anything. */
export const spawnWorker = (configFile: string): StartedProcess => {
  if (existsSync(CLI_PATH)) return startProcess(process.execPath, [CLI_PATH, 'run', configFile]);
  const entry = JSON.stringify(pathToFileURL(WORKER_ENTRY).href);
  return startProcess(process.execPath, ['-e', `import(${entry}).then((worker) => worker.runWorkerProcess([${JSON.stringify(configFile)}]))`]);
};

/** Spawns a worker and waits until its pid file names it (it is bound and serving). */
export const startWorkerProcess = async (configFile: string, pidFile: string): Promise<StartedProcess> => {
  const worker = spawnWorker(configFile);
  await waitForPidFile(worker, pidFile);
  return worker;
};

/** The signal numbers a process has handlers for, from SigCgt; undefined when it is gone. */
export const readCaughtSignals = (pid: number): Set<number> | undefined => {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const hex = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (hex === undefined) return undefined;
  const mask = BigInt(`0x${hex}`);
  const caught = new Set<number>();
  for (let signal = 1; signal <= 64; signal += 1) if (((mask >> BigInt(signal - 1)) & 1n) === 1n) caught.add(signal);
  return caught;
};

export const SIGNAL_NUMBER: Readonly<Record<string, number>> = { SIGHUP: 1, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };

/**
 * Waits until `started` has handlers for every signal in `signals` (the worker's signal table is in
 * place). Node itself catches none of SIGHUP, SIGUSR2, SIGQUIT, so their bits prove the table exists.
 */
export const waitForSignalHandlers = (started: StartedProcess, signals: readonly string[]): Promise<true> =>
  waitFor(
    () => {
      const status = started.exitStatus();
      if (status !== undefined) throw new Error(`"${started.description}" exited (${status.code ?? status.signal}): ${started.stderr().toString()}`);
      const caught = readCaughtSignals(started.pid);
      return caught !== undefined && signals.every((signal) => caught.has(SIGNAL_NUMBER[signal] ?? -1));
    },
    { what: `"${started.description}" to install handlers for ${signals.join(', ')}`, intervalMs: 1, timeoutMs: 15_000 },
  );
