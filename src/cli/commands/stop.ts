// `stunnelctl stop` (STUNNEL.STOP): SIGTERM, bounded wait, SIGKILL with a warning; no pid file left.
import type { Command } from 'commander';
import { locateWorkerFiles } from '../../control/configuration.js';
import { loadHome } from '../../control/home.js';
import { DEFAULT_STOP_TIMEOUT_MS, stopWorker } from '../../control/worker-stop.js';
import type { CliContext } from '../context.js';
import { createLockEvents } from '../io.js';
import {
  addHomeOption,
  addTimeoutOption,
  createLockWaitMs,
  parseTimeoutSeconds,
  resolveHome,
  toMilliseconds,
  type HomeOptions,
  type TimeoutOptions,
} from '../options.js';

export const registerStopCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('stop'))
    .summary('stop the worker (STUNNEL.STOP)')
    .description(
      'STUNNEL.STOP: send SIGTERM to the worker (only once it is proven to be this home\'s worker), wait ' +
        'for it to exit, and send SIGKILL with a warning if it has not within --timeout (plus the drain ' +
        'time). With --drain, the worker first stops accepting and lets live connections finish for up ' +
        'to that long. Not running: exit 0.',
    )
    .option('--drain <seconds>', 'let live connections finish for up to this long before closing them', parseTimeoutSeconds);
  addTimeoutOption(command, 'exit after SIGTERM', DEFAULT_STOP_TIMEOUT_MS).action((options: StopOptions) => runStop(options, context));
};

interface StopOptions extends HomeOptions, TimeoutOptions {
  drain?: number;
}

const runStop = async (options: StopOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  const directory = resolveHome(options, context.io);
  const { files } = loadHome(directory);
  const timeoutMs = toMilliseconds(options.timeout);
  const outcome = await stopWorker({
    home: { directory, files },
    worker: locateWorkerFiles(files.config, files),
    timeoutMs,
    ...(options.drain === undefined ? {} : { drainSeconds: options.drain }),
    lockWaitMs: createLockWaitMs(timeoutMs + toMilliseconds(options.drain ?? 0)),
    note: report.note,
    warn: report.warn,
    lockEvents: createLockEvents(report, directory),
  });
  if (outcome.kind === 'not-running') report.line('not running; nothing to do');
  else report.line(outcome.killed ? `stopped (pid ${outcome.pid}, killed with SIGKILL)` : `stopped (pid ${outcome.pid})`);
};
