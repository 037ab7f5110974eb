// `stunnelctl log-conn` (STUNNEL.LOG-CONN): its options, help and exit codes; the work is in
// actions/log-conn.ts, loaded only when the command runs.
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../control/defaults.js';
import { COMMON_EXIT_CODES, addCommandHelp } from '../command-help.js';
import type { CliContext } from '../context.js';
import { addHomeOption, addJsonOption, addTimeoutOption } from '../options.js';
import type { LogConnOptions } from '../actions/log-conn.js';

export const registerLogConnCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('log-conn'))
    .summary('write the current connections to the log and show them (STUNNEL.LOG-CONN)')
    .description(
      'STUNNEL.LOG-CONN: make the worker write its current connections to its log (SIGUSR2), and show ' +
        'them: service, id, peer, target, TLS version, cipher, bytes each way, age, idle time. ' +
        'Exit 7 when the worker is not running.',
    );
  addJsonOption(addTimeoutOption(command, 'write its connections', DEFAULT_REQUEST_TIMEOUT_MS)).action(async (options: LogConnOptions) => {
    const { runLogConn } = await import('../actions/log-conn.js');
    await runLogConn(options, context);
  });
  addCommandHelp(command, {
    examples: [
      { command: 'stunnelctl log-conn --home /srv/stunnel', what: 'the connections as a table (and in the log)' },
      { command: 'stunnelctl log-conn --home /srv/stunnel --json | jq ".connections | length"', what: 'how many connections are open' },
    ],
    exitCodes: [
      { code: EXIT.OK, meaning: 'the connections were written to the log and shown' },
      { code: EXIT.FAILURE, meaning: 'the worker did not answer in time' },
      COMMON_EXIT_CODES.usage,
      COMMON_EXIT_CODES.noHome,
      COMMON_EXIT_CODES.notRunning,
    ],
  });
};
