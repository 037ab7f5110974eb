// What `stunnelctl reload-config` does (STUNNEL.RELOAD-CONFIG), loaded only when it runs.
import { reloadWorker } from '../../control/worker-reload.js';
import type { CliContext } from '../context.js';
import type { HomeOptions, TimeoutOptions } from '../options.js';
import { createWorkerRequest } from './worker-request.js';

export const runReloadConfig = async (options: HomeOptions & TimeoutOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  const outcome = await reloadWorker({ ...createWorkerRequest(options, context), problem: report.problem });
  report.line(`configuration reloaded (generation ${outcome.generation}, worker pid ${outcome.pid})`);
  if (outcome.result.message !== '') report.line(`  ${outcome.result.message}`);
};
