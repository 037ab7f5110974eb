// `stunnelctl reload-config` (STUNNEL.RELOAD-CONFIG): its options, help and exit codes; the work is
// in actions/reload-config.ts, loaded only when the command runs.
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../control/defaults.js';
import { COMMON_EXIT_CODES, addCommandHelp } from '../command-help.js';
import type { CliContext } from '../context.js';
import { addHomeOption, addTimeoutOption, type HomeOptions, type TimeoutOptions } from '../options.js';

export const registerReloadConfigCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('reload-config'))
    .summary('make the worker load the edited configuration (STUNNEL.RELOAD-CONFIG)')
    .description(
      'STUNNEL.RELOAD-CONFIG: validate the configuration (errors as FILE:LINE, exit 6, the worker is not ' +
        'signalled), then SIGHUP and report whether the worker took it. Established connections stay; ' +
        'a configuration the worker rejects leaves the old one serving (exit 1). Not running: exit 7.',
    );
  addTimeoutOption(command, 'reload', DEFAULT_REQUEST_TIMEOUT_MS).action(async (options: HomeOptions & TimeoutOptions) => {
    const { runReloadConfig } = await import('../actions/reload-config.js');
    await runReloadConfig(options, context);
  });
  addCommandHelp(command, {
    examples: [
      { command: 'stunnelctl reload-config --home /srv/stunnel', what: 'after editing the configuration: check it, then have the worker take it' },
      { command: 'systemctl reload stunnel-001', what: 'the same through the systemd unit (its ExecReload)' },
    ],
    exitCodes: [
      { code: EXIT.OK, meaning: 'the worker serves the new configuration' },
      { code: EXIT.FAILURE, meaning: 'the worker kept the old configuration (it says why), or did not answer in time' },
      COMMON_EXIT_CODES.usage,
      { code: EXIT.NOT_CONFIGURED, meaning: 'no home, or the configuration is missing or invalid (FILE:LINE; the worker was not signalled)' },
      COMMON_EXIT_CODES.notRunning,
    ],
  });
};
