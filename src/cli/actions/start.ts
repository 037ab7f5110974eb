// What `stunnelctl start` does (STUNNEL.START), loaded only when it runs.
import { loadHome } from '../../control/home.js';
import { startWorker } from '../../control/worker-start.js';
import type { CliContext } from '../context.js';
import { formatServiceRoute } from '../format.js';
import { createLockEvents } from '../io.js';
import { createLockWaitMs, resolveHome, toMilliseconds, type HomeOptions, type TimeoutOptions } from '../options.js';

export interface StartOptions extends HomeOptions, TimeoutOptions {
  jobClass?: string;
}

export const runStart = async (options: StartOptions, context: CliContext): Promise<void> => {
  const { report } = context;
  const directory = resolveHome(options, context.io);
  const home = loadHome(directory);
  const timeoutMs = toMilliseconds(options.timeout);
  const outcome = await startWorker({
    home,
    jobClassName: options.jobClass,
    timeoutMs,
    lockWaitMs: createLockWaitMs(timeoutMs),
    note: report.note,
    problem: report.problem,
    lockEvents: createLockEvents(report, directory),
  });
  if (outcome.kind === 'already-running') {
    report.line(`already running (pid ${outcome.pid}, job class ${outcome.state.jobClass ?? 'none'}); nothing to do`);
    return;
  }
  report.line(`started (pid ${outcome.pid}, job class ${outcome.jobClass.name})`);
  outcome.state.services.forEach((service) => report.line(`  ${formatServiceRoute(service)}`));
};
