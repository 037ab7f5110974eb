// `stunnelctl start` (STUNNEL.START): its options, help and exit codes; the work is in
// actions/start.ts, loaded only when the command runs.
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { DEFAULT_START_TIMEOUT_MS } from '../../control/defaults.js';
import { DEFAULT_JOB_CLASS } from '../../control/job-classes.js';
import { COMMON_EXIT_CODES, addCommandHelp } from '../command-help.js';
import type { CliContext } from '../context.js';
import { addHomeOption, addTimeoutOption } from '../options.js';
import type { StartOptions } from '../actions/start.js';

export const registerStartCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('start'))
    .summary('start the worker as a detached job (STUNNEL.START)')
    .description(
      'STUNNEL.START: launch the worker detached through the job file, its output appended to the SYSLST ' +
        'file, with the job class applied, after validating the configuration. Returns once the worker ' +
        'listens on every accept, or fails with the worker\'s own reason. Already running: exit 0, before ' +
        'the configuration is even read. A stale pid file is removed, with a note.',
    )
    .option('--job-class <class>', `job class from the home's job-class table (default: ${DEFAULT_JOB_CLASS})`);
  addTimeoutOption(command, 'listen', DEFAULT_START_TIMEOUT_MS).action(async (options: StartOptions) => {
    const { runStart } = await import('../actions/start.js');
    await runStart(options, context);
  });
  addCommandHelp(command, {
    examples: [
      { command: 'stunnelctl start --home /srv/stunnel', what: 'start with the standard job class *STD' },
      { command: "stunnelctl start --home /srv/stunnel --job-class '*BATCH'", what: 'lower priority, fewer open files (BS2000 JOB-CLASS=*BATCH; the * may be left out)' },
      { command: 'STUNNELCTL_HOME=/srv/stunnel stunnelctl start --timeout 30', what: 'the home from the environment; wait up to 30 s for the listeners' },
    ],
    exitCodes: [
      { code: EXIT.OK, meaning: 'started; also when the worker was running already (with a note)' },
      { code: EXIT.FAILURE, meaning: 'the worker did not come up (its own messages are shown), or the home is locked' },
      { ...COMMON_EXIT_CODES.usage, meaning: 'usage error, or a job class not in the table (the known ones are listed)' },
      { code: EXIT.NOT_CONFIGURED, meaning: 'no home, or the configuration or job-class table is missing or invalid (FILE:LINE)' },
    ],
  });
};
