// What `stunnelctl switch-logfile` does (STUNNEL.SWITCH-LOGFILE), loaded only when it runs.
import { switchWorkerLog } from '../../control/log-switch.js';
import type { CliContext } from '../context.js';
import type { HomeOptions, TimeoutOptions } from '../options.js';
import { createWorkerRequest } from './worker-request.js';

export interface SwitchLogfileOptions extends HomeOptions, TimeoutOptions {
  json?: boolean;
}

export const runSwitchLogfile = async (options: SwitchLogfileOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  const outcome = await switchWorkerLog(createWorkerRequest(options, context));
  if (options.json === true) {
    report.line(JSON.stringify({ pid: outcome.pid, log: outcome.logPath, archived: outcome.archivedPath ?? null }, null, 2));
    return;
  }
  if (outcome.archivedPath === undefined) {
    // No log under its name: none written yet, or moved away already (logrotate renames it before
    // calling switch-logfile); either way the worker now writes a new one.
    report.line(`no log file to archive at ${outcome.logPath} (none yet, or already moved away); the worker (pid ${outcome.pid}) reopened it`);
  } else {
    report.line(`log switched: earlier lines are in ${outcome.archivedPath}, new ones go to ${outcome.logPath}`);
  }
};
