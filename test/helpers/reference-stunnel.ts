// The real stunnel (Debian's stunnel4) as the reference: the same configuration file must mean the
// same thing to it and to `stunnelctl run` (SPEC.md §4).
import { existsSync } from 'node:fs';
import { startProcess } from './processes.js';
import type { StartedProcess } from './processes.js';
import { waitForPidFile } from './worker.js';

const STUNNEL_CANDIDATES = ['/usr/bin/stunnel4', '/usr/bin/stunnel', '/usr/local/bin/stunnel'];

/** The stunnel binary, or undefined when none is installed. */
export const findStunnel = (): string | undefined => STUNNEL_CANDIDATES.find((path) => existsSync(path));

/** Starts stunnel on a configuration with `foreground = yes` and `pid = pidFile`; waits for the pid file. */
export const startStunnel = async (binary: string, configFile: string, pidFile: string): Promise<StartedProcess> => {
  const started = startProcess(binary, [configFile]);
  await waitForPidFile(started, pidFile);
  return started;
};
