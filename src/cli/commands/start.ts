// `stunnelctl start` (STUNNEL.START): launch the worker as a detached job and wait until it listens.
import type { Command } from 'commander';
import { loadHome } from '../../control/home.js';
import { DEFAULT_JOB_CLASS } from '../../control/job-classes.js';
import { DEFAULT_START_TIMEOUT_MS, startWorker } from '../../control/worker-start.js';
import type { ServiceState } from '../../worker/state-file.js';
import type { CliContext } from '../context.js';
import { createLockEvents } from '../io.js';
import { addHomeOption, addTimeoutOption, createLockWaitMs, resolveHome, toMilliseconds, type HomeOptions, type TimeoutOptions } from '../options.js';

interface StartOptions extends HomeOptions, TimeoutOptions {
  jobClass?: string;
}

export const registerStartCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('start'))
    .summary('start the worker as a detached job (STUNNEL.START)')
    .description(
      'STUNNEL.START: validate the configuration, then launch the worker detached through the job file, ' +
        'its output appended to the SYSLST file, with the job class applied. Returns once the worker ' +
        'listens on every accept, or fails with the worker\'s own reason. Already running: exit 0.',
    )
    .option('--job-class <class>', `job class from the home's job-class table (default: ${DEFAULT_JOB_CLASS})`);
  addTimeoutOption(command, 'listen', DEFAULT_START_TIMEOUT_MS).action((options: StartOptions) => runStart(options, context));
};

/** `[name] TLS 0.0.0.0:994 -> 127.0.0.1:102` (server) or `[name] 127.0.0.1:8044 -> TLS host:8044` (client). */
export const formatServiceRoute = (service: ServiceState): string => {
  const accept = (service.listeners.length > 0 ? service.listeners : service.accept).join(', ');
  const connect = service.connect.join(', ');
  return service.mode === 'client' ? `[${service.name}] ${accept} -> TLS ${connect}` : `[${service.name}] TLS ${accept} -> ${connect}`;
};

const runStart = async (options: StartOptions, context: CliContext): Promise<void> => {
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
