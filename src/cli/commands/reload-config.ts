// `stunnelctl reload-config` (STUNNEL.RELOAD-CONFIG): validate, SIGHUP, report the worker's verdict.
import type { Command } from 'commander';
import { loadHome } from '../../control/home.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../control/worker-signals.js';
import { reloadWorker } from '../../control/worker-reload.js';
import type { CliContext } from '../context.js';
import { createLockEvents } from '../io.js';
import { addHomeOption, addTimeoutOption, createLockWaitMs, resolveHome, toMilliseconds, type HomeOptions, type TimeoutOptions } from '../options.js';

export const registerReloadConfigCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('reload-config'))
    .summary('make the worker load the edited configuration (STUNNEL.RELOAD-CONFIG)')
    .description(
      'STUNNEL.RELOAD-CONFIG: validate the configuration (errors as FILE:LINE, exit 6, the worker is not ' +
        'signalled), then SIGHUP and report whether the worker took it. Established connections stay; ' +
        'a configuration the worker rejects leaves the old one serving (exit 1). Not running: exit 7.',
    );
  addTimeoutOption(command, 'reload', DEFAULT_REQUEST_TIMEOUT_MS).action((options: HomeOptions & TimeoutOptions) => runReloadConfig(options, context));
};

const runReloadConfig = async (options: HomeOptions & TimeoutOptions, context: CliContext): Promise<void> => {
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
