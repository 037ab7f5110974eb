// `stunnelctl stop` (STUNNEL.STOP): SIGTERM, bounded wait, SIGKILL with a warning; no pid file left.
import type { Command } from 'commander';
import { locateWorkerFiles } from '../../control/configuration.js';
import { loadHome } from '../../control/home.js';
import { DEFAULT_STOP_TIMEOUT_MS, stopWorker } from '../../control/worker-stop.js';
import type { CliContext } from '../context.js';
import { createLockEvents } from '../io.js';
import { addHomeOption, addTimeoutOption, createLockWaitMs, resolveHome, toMilliseconds, type HomeOptions, type TimeoutOptions } from '../options.js';

export const registerStopCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('stop'))
    .summary('stop the worker (STUNNEL.STOP)')
    .description(
      'STUNNEL.STOP: send SIGTERM to the worker (only once it is proven to be this home\'s worker), wait\n' +
        'for it to exit, and send SIGKILL with a warning if it has not within --timeout. Not running: exit 0.',
    );
  addTimeoutOption(command, 'exit after SIGTERM', DEFAULT_STOP_TIMEOUT_MS).action((options: HomeOptions & TimeoutOptions) => runStop(options, context));
};

const runStop = async (options: HomeOptions & TimeoutOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  const directory = resolveHome(options, context.io);
  const { files } = loadHome(directory);
  const timeoutMs = toMilliseconds(options.timeout);
  const outcome = await stopWorker({
    home: { directory, files },
    worker: locateWorkerFiles(files.config, files),
    timeoutMs,
    lockWaitMs: createLockWaitMs(timeoutMs),
    note: report.note,
    warn: report.warn,
    lockEvents: createLockEvents(report, directory),
  });
  if (outcome.kind === 'not-running') report.line('not running; nothing to do');
  else report.line(outcome.killed ? `stopped (pid ${outcome.pid}, killed with SIGKILL)` : `stopped (pid ${outcome.pid})`);
};
