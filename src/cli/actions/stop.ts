// What `stunnelctl stop` does (STUNNEL.STOP), loaded only when it runs.
import { locateWorkerFiles } from '../../control/configuration.js';
import { loadHome } from '../../control/home.js';
import { stopWorker } from '../../control/worker-stop.js';
import type { CliContext } from '../context.js';
import { createLockEvents } from '../io.js';
import { createLockWaitMs, resolveHome, toMilliseconds, type HomeOptions, type TimeoutOptions } from '../options.js';

export interface StopOptions extends HomeOptions, TimeoutOptions {
  drain?: number;
}

export const runStop = async (options: StopOptions, context: CliContext): Promise<void> => {
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
