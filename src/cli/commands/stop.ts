// `stunnelctl stop` (STUNNEL.STOP): its options, help and exit codes; the work is in actions/stop.ts,
// loaded only when the command runs.
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { DEFAULT_STOP_TIMEOUT_MS } from '../../control/defaults.js';
import { COMMON_EXIT_CODES, addCommandHelp } from '../command-help.js';
import type { CliContext } from '../context.js';
import { addHomeOption, addTimeoutOption, parseTimeoutSeconds } from '../options.js';
import type { StopOptions } from '../actions/stop.js';

export const registerStopCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('stop'))
    .summary('stop the worker (STUNNEL.STOP)')
    .description(
      'STUNNEL.STOP: send SIGTERM to the worker (only once it is proven to be this home\'s worker), wait ' +
        'for it to exit, and send SIGKILL with a warning if it has not within --timeout (plus the drain ' +
        'time). With --drain, the worker first stops accepting and lets live connections finish for up ' +
        'to that long. Not running: exit 0. The configuration need not be valid.',
    )
    .option('--drain <seconds>', 'let live connections finish for up to this long before closing them', parseTimeoutSeconds);
  addTimeoutOption(command, 'exit after SIGTERM', DEFAULT_STOP_TIMEOUT_MS).action(async (options: StopOptions) => {
    const { runStop } = await import('../actions/stop.js');
    await runStop(options, context);
  });
  addCommandHelp(command, {
    examples: [
      { command: 'stunnelctl stop --home /srv/stunnel', what: 'stop now: open connections are closed, each with its "Connection closed" line' },
      { command: 'stunnelctl stop --home /srv/stunnel --drain 60', what: 'accept nothing new; give open connections up to a minute to finish' },
    ],
    exitCodes: [
      { code: EXIT.OK, meaning: 'stopped (with a warning if SIGKILL was needed); also when it was not running' },
      { code: EXIT.FAILURE, meaning: 'the worker is still there after SIGKILL, or the home is locked' },
      COMMON_EXIT_CODES.usage,
      COMMON_EXIT_CODES.noHome,
    ],
  });
};
