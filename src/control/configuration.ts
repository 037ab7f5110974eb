// The home's stunnel configuration as the control commands need it: validated with the worker's own
// loader (so start and reload-config refuse exactly what the worker would), with a `pid =` to find it by.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import { formatDiagnostic, loadConfiguration } from '../config/load.js';
import { lexConfiguration } from '../config/lexer.js';
import type { Configuration } from '../config/types.js';
import { resolvePath } from '../config/values.js';
import { stateFilePathFor } from '../worker/state-file.js';

/**
 * Loads and validates `path`. Each diagnostic goes to `reportDiagnostic` as `FILE:LINE: "raw": message`,
 * then SCTL_ERR_CONFIG_INVALID (exit 6) is thrown; a missing file is SCTL_ERR_CONFIG_MISSING.
 */
export const loadValidConfiguration = (path: string, reportDiagnostic: (line: string) => void): Configuration => {
  if (!existsSync(path)) {
    throw new StunnelctlError('SCTL_ERR_CONFIG_MISSING', `the configuration file ${path} does not exist`, {
      hint: 'restore it, or write a fresh one with stunnelctl install --force (existing files are backed up)',
    });
  }
  const { config, diagnostics } = loadConfiguration(path);
  if (config === undefined) {
    diagnostics.map(formatDiagnostic).forEach(reportDiagnostic);
    const count = Math.max(diagnostics.length, 1);
    throw new StunnelctlError('SCTL_ERR_CONFIG_INVALID', `the configuration ${path} has ${count} error${count === 1 ? '' : 's'}`, {
      hint: 'fix the lines above, then run the command again',
    });
  }
  return config;
};

/** The configuration's `pid =` file: stunnelctl cannot find or signal a worker without one. */
export const requirePidFile = (config: Configuration, defaultPidPath: string): string => {
  if (config.global.pid !== null) return config.global.pid;
  throw new StunnelctlError('SCTL_ERR_CONFIG_INVALID', `the configuration ${config.file} has no "pid =" line; stunnelctl finds the worker through it`, {
    hint: `add "pid = ${defaultPidPath}" to its global part (before the first [service])`,
  });
};

export interface WorkerLocation {
  configPath: string;
  pidPath: string;
  statePath: string;
  /** The configuration's `output =`, or null when the worker logs to SYSLST only. */
  logPath: string | null;
}

/**
 * Where the worker's pid file and log are, without requiring a valid configuration: stop, status,
 * log-conn and switch-logfile must work while the operator is half-way through an edit. A file that
 * does not validate is read for its global `pid =` and `output =` lines only.
 */
export const locateWorkerFiles = (configPath: string, defaults: { pid: string; log: string }): WorkerLocation => {
  const { config } = loadConfiguration(configPath);
  const globals = config === undefined ? readGlobalPaths(configPath) : { pid: config.global.pid, output: config.global.output };
  const pidPath = globals.pid ?? defaults.pid;
  return { configPath, pidPath, statePath: stateFilePathFor(pidPath), logPath: globals.output };
};

const readGlobalPaths = (configPath: string): { pid: string | null; output: string | null } => {
  let file: string;
  let text: string;
  try {
    // Relative paths are resolved as the loader does: against the real file's directory.
    file = realpathSync(configPath);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') return { pid: null, output: null };
    throw error;
  }
  const found: { pid: string | null; output: string | null } = { pid: null, output: null };
  for (const line of lexConfiguration(text, file)) {
    if (line.kind === 'section') break;
    if (line.kind !== 'option' || line.value === '') continue;
    const name = line.name.toLowerCase();
    if (name === 'pid' || name === 'output') found[name] = resolvePath(line.value, dirname(file));
  }
  return found;
};
