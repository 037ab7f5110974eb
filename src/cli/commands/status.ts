// `stunnelctl status`: its options, help and exit codes (LSB: 0 running, 1 dead but pid file exists,
// 3 not running, 4 unknown); the work is in actions/status.ts, loaded only when the command runs.
import type { Command } from 'commander';
import { EXIT, STATUS_EXIT } from '../../errors.js';
import { addCommandHelp } from '../command-help.js';
import type { CliContext } from '../context.js';
import { addHomeOption, addJsonOption } from '../options.js';
import type { StatusOptions } from '../actions/status.js';

export const registerStatusCommand = (program: Command, context: CliContext): void => {
  const command = addJsonOption(addHomeOption(program.command('status')))
    .summary('show whether the worker runs, its services, connections and certificates')
    .description(
      'Show whether the worker is running: pid, uptime, job class, services and listeners, connection ' +
        'counts, configuration generation, the last reload, and when each service\'s certificate expires ' +
        '(a warning on stderr when it is under 30 days, the exit code unchanged). --json prints the same ' +
        'as one JSON object (services[].certificate: {file, notAfter, daysLeft, problem}).',
    )
    .action(async (options: StatusOptions) => {
      const { runStatus } = await import('../actions/status.js');
      runStatus(options, context);
    });
  addCommandHelp(command, {
    examples: [
      { command: 'stunnelctl status --home /srv/stunnel', what: 'the report, for the operator' },
      { command: 'stunnelctl status --home /srv/stunnel --json | jq ".services[].certificate.daysLeft"', what: 'days left of each certificate, for a monitoring script' },
      { command: 'stunnelctl status --home /srv/stunnel >/dev/null; echo $?', what: 'the state as an LSB code only' },
    ],
    exitCodes: [
      { code: STATUS_EXIT.RUNNING, meaning: 'running' },
      { code: STATUS_EXIT.DEAD_PID_FILE_EXISTS, meaning: 'dead: the pid file names a process that is gone or not the worker' },
      { code: EXIT.USAGE, meaning: 'usage error' },
      { code: STATUS_EXIT.NOT_RUNNING, meaning: 'not running' },
      { code: STATUS_EXIT.UNKNOWN, meaning: 'unknown: no home, or its files cannot be read' },
    ],
  });
};
