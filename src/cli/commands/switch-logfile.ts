// `stunnelctl switch-logfile` (STUNNEL.SWITCH-LOGFILE): its options, help and exit codes; the work
// is in actions/switch-logfile.ts, loaded only when the command runs.
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../control/defaults.js';
import { COMMON_EXIT_CODES, addCommandHelp } from '../command-help.js';
import type { CliContext } from '../context.js';
import { addHomeOption, addJsonOption, addTimeoutOption } from '../options.js';
import type { SwitchLogfileOptions } from '../actions/switch-logfile.js';

export const registerSwitchLogfileCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('switch-logfile'))
    .summary('archive the log and make the worker start a new one (STUNNEL.SWITCH-LOGFILE)')
    .description(
      'STUNNEL.SWITCH-LOGFILE: rename the log to <log>.<yyyy-MM-dd.HHmmss> (never over an existing file), ' +
        'then make the worker reopen its log (SIGUSR1). No line is lost or written twice. When the log ' +
        'has been moved away already (by logrotate), only the reopen is done. Exit 7 when the worker is ' +
        'not running.',
    );
  addJsonOption(addTimeoutOption(command, 'reopen its log', DEFAULT_REQUEST_TIMEOUT_MS)).action(async (options: SwitchLogfileOptions) => {
    const { runSwitchLogfile } = await import('../actions/switch-logfile.js');
    await runSwitchLogfile(options, context);
  });
  addCommandHelp(command, {
    examples: [
      { command: 'stunnelctl switch-logfile --home /srv/stunnel', what: 'archive the log now; prints the archived file\'s name' },
      { command: 'stunnelctl switch-logfile --home /srv/stunnel --json | jq -r .archived', what: 'the archived file\'s name only, for a script' },
      { command: 'logrotate -s ~/.logrotate.state /srv/stunnel/SYSDAT.TCP-IP-AP.001.STUNNEL.LOGROTATE', what: 'the same, on logrotate\'s schedule and retention (the snippet install writes)' },
    ],
    exitCodes: [
      { code: EXIT.OK, meaning: 'switched: the worker writes a new log' },
      { code: EXIT.FAILURE, meaning: 'the log could not be renamed, or the worker did not reopen it in time' },
      COMMON_EXIT_CODES.usage,
      COMMON_EXIT_CODES.noHome,
      COMMON_EXIT_CODES.notRunning,
    ],
  });
};
