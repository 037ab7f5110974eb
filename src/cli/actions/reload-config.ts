// What `stunnelctl reload-config` does (STUNNEL.RELOAD-CONFIG), loaded only when it runs.
import { loadHome } from '../../control/home.js';
import { reloadWorker } from '../../control/worker-reload.js';
import type { CliContext } from '../context.js';
import { createLockEvents } from '../io.js';
import { createLockWaitMs, resolveHome, toMilliseconds, type HomeOptions, type TimeoutOptions } from '../options.js';

export const runReloadConfig = async (options: HomeOptions & TimeoutOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  const directory = resolveHome(options, context.io);
  const { files } = loadHome(directory);
  const timeoutMs = toMilliseconds(options.timeout);
  const outcome = await reloadWorker({
    homeDirectory: directory,
    lock: files,
    lockWaitMs: createLockWaitMs(timeoutMs),
    lockEvents: createLockEvents(report, directory),
    configPath: files.config,
    defaults: files,
    timeoutMs,
    problem: report.problem,
  });
  report.line(`configuration reloaded (generation ${outcome.generation}, worker pid ${outcome.pid})`);
  if (outcome.result.message !== '') report.line(`  ${outcome.result.message}`);
};
