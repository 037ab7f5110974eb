// `stunnelctl switch-logfile` (STUNNEL.SWITCH-LOGFILE): archive the log under a timestamped name and
// make the worker reopen it.
import type { Command } from 'commander';
import { loadHome } from '../../control/home.js';
import { switchWorkerLog } from '../../control/log-switch.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../control/worker-signals.js';
import type { CliContext } from '../context.js';
import { createLockEvents } from '../io.js';
import {
  addHomeOption,
  addJsonOption,
  addTimeoutOption,
  createLockWaitMs,
  resolveHome,
  toMilliseconds,
  type HomeOptions,
  type TimeoutOptions,
} from '../options.js';

interface SwitchLogfileOptions extends HomeOptions, TimeoutOptions {
  json?: boolean;
}

export const registerSwitchLogfileCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('switch-logfile'))
    .summary('archive the log and make the worker start a new one (STUNNEL.SWITCH-LOGFILE)')
    .description(
      'STUNNEL.SWITCH-LOGFILE: rename the log to <log>.<yyyy-MM-dd.HHmmss> (never over an existing file), ' +
        'then make the worker reopen its log (SIGUSR1). No line is lost or written twice. ' +
        'Exit 7 when the worker is not running.',
    );
  addJsonOption(addTimeoutOption(command, 'reopen its log', DEFAULT_REQUEST_TIMEOUT_MS)).action((options: SwitchLogfileOptions) =>
    runSwitchLogfile(options, context),
  );
};

const runSwitchLogfile = async (options: SwitchLogfileOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  const directory = resolveHome(options, context.io);
  const { files } = loadHome(directory);
  const timeoutMs = toMilliseconds(options.timeout);
  const outcome = await switchWorkerLog({
    homeDirectory: directory,
    lock: files,
    lockWaitMs: createLockWaitMs(timeoutMs),
    lockEvents: createLockEvents(report, directory),
    configPath: files.config,
    defaults: files,
    timeoutMs,
  });
  if (options.json === true) {
    report.line(JSON.stringify({ pid: outcome.pid, log: outcome.logPath, archived: outcome.archivedPath ?? null }, null, 2));
    return;
  }
  if (outcome.archivedPath === undefined) report.line(`there was no log file yet; the worker (pid ${outcome.pid}) reopened ${outcome.logPath}`);
  else report.line(`log switched: earlier lines are in ${outcome.archivedPath}, new ones go to ${outcome.logPath}`);
};
