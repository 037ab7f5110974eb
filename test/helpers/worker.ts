// A foreground worker (`stunnelctl run CONF`) with a configuration file the test writes: start it,
// wait until it is ready (its pid file exists and names it), and find workers of a config in /proc.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { startCli, isProcessAlive, readProcessArgv, stopProcess } from './processes.js';
import type { StartedProcess } from './processes.js';
import { waitFor } from './wait.js';

const WORKER_READY_TIMEOUT_MS = 15_000;

/** Writes a stunnel configuration file from lines (one option or `[section]` per line). */
export const writeConfig = (path: string, lines: readonly string[]): void => {
  writeFileSync(path, `${lines.join('\n')}\n`);
};

export const readPid = (pidFile: string): number | undefined => {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
};

/**
 * Waits until `started` has written `pidFile` (written only once every `accept` is bound); fails with
 * its stderr if it exits first, and stops it on any failure.
 */
export const waitForPidFile = async (started: StartedProcess, pidFile: string): Promise<number> => {
  try {
    return await waitFor(
      () => {
        const status = started.exitStatus();
        if (status !== undefined) {
          throw new Error(`"${started.description}" exited (${status.code ?? status.signal}) before it was ready: ${started.stderr().toString()}`);
        }
        return readPid(pidFile);
      },
      { what: `the pid file ${pidFile} of "${started.description}"`, timeoutMs: WORKER_READY_TIMEOUT_MS },
    );
  } catch (error) {
    await stopProcess(started);
    throw error;
  }
};

/** Starts `stunnelctl run CONFIG` in the foreground and waits until it is ready. */
export const startWorker = async (configFile: string, pidFile: string): Promise<{ worker: StartedProcess; pid: number }> => {
  const worker = startCli(['run', configFile]);
  return { worker, pid: await waitForPidFile(worker, pidFile) };
};

/** Pids of every live process whose argv has `run` and satisfies `matches`. */
const findRunProcesses = (matches: (argv: string[]) => boolean): number[] =>
  readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const argv = readProcessArgv(pid);
      return argv.includes('run') && matches(argv) && isProcessAlive(pid);
    });

/** Pids of every live worker of the configuration file `configFile` (`... run ... CONFIGFILE`). */
export const findWorkersOf = (configFile: string): number[] => findRunProcesses((argv) => argv.includes(configFile));

/** Pids of every live worker with an argument inside `dir` (a home's configuration). */
export const findWorkersUnder = (dir: string): number[] =>
  findRunProcesses((argv) => argv.some((arg) => arg.startsWith(`${dir}/`)));
