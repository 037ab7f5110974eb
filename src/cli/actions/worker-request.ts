// The request shared by the commands that act on a running worker under the home lock
// (reload-config, switch-logfile): the home, its lock, and the timeouts derived from --timeout.
import { loadHome } from '../../control/home.js';
import type { CliContext } from '../context.js';
import { createLockEvents } from '../io.js';
import { createLockWaitMs, resolveHome, toMilliseconds, type HomeOptions, type TimeoutOptions } from '../options.js';

export const createWorkerRequest = (options: HomeOptions & TimeoutOptions, context: CliContext) => {
  const directory = resolveHome(options, context.io);
  const { files } = loadHome(directory);
  const timeoutMs = toMilliseconds(options.timeout);
  return {
    homeDirectory: directory,
    lock: files,
    lockWaitMs: createLockWaitMs(timeoutMs),
    lockEvents: createLockEvents(context.report, directory),
    configPath: files.config,
    defaults: files,
    timeoutMs,
  };
};
