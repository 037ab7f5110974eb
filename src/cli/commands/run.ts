// `stunnelctl run`: the worker in the foreground. main.ts starts it before commander is even loaded
// (see there why); it is declared here only so that help, the man page and completion list it.
import type { Command } from 'commander';
import { EXIT, StunnelctlError } from '../../errors.js';
import { addCommandHelp } from '../command-help.js';

export const registerRunCommand = (program: Command): void => {
  const command = program
    .command('run')
    .summary('run the TLS proxy in the foreground, stunnel-style (the worker)')
    .description(
      'The worker, with stunnel\'s command line: run [FILE] | -fd N | -help | -version | -sockets | -options. ' +
        'Serves the configuration FILE in the foreground; exits 0 on SIGTERM/SIGINT/SIGQUIT, non-zero with a ' +
        'clear error otherwise. `start` runs it detached through the home\'s job file.',
    )
    .argument('[args...]', 'FILE, or one of -fd N, -help, -version, -sockets, -options')
    .allowUnknownOption()
    .action(() => {
      // Reached only when `run` is not the first argument (e.g. after a global option).
      throw new StunnelctlError('SCTL_ERR_USAGE', '"run" must be the first argument: stunnelctl run [FILE]');
    });
  addCommandHelp(command, {
    examples: [
      { command: 'stunnelctl run /srv/stunnel/stunnel.conf', what: 'serve in the foreground (Ctrl-C stops it); the log goes where "output =" says' },
      { command: 'stunnelctl run -help', what: 'every configuration option with its default' },
    ],
    exitCodes: [
      { code: EXIT.OK, meaning: 'stopped cleanly by SIGTERM, SIGINT or SIGQUIT' },
      { code: EXIT.FAILURE, meaning: 'a configuration, TLS-context or bind error (on stderr, before anything serves)' },
    ],
  });
};
