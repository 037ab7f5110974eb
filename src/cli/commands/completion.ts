// `stunnelctl completion bash`: prints the bash completion script. Its hidden --job-classes lists a
// home's job classes for that script; the work is in actions/completion.ts.
import { Argument, Option, type Command } from 'commander';
import { EXIT } from '../../errors.js';
import { COMMON_EXIT_CODES, addCommandHelp } from '../command-help.js';
import { COMPLETION_SHELLS } from '../completion.js';
import type { CliContext } from '../context.js';
import { addHomeOption } from '../options.js';
import type { CompletionOptions } from '../actions/completion.js';

export const registerCompletionCommand = (program: Command, context: CliContext): void => {
  const command = addHomeOption(program.command('completion'))
    .summary('print the bash completion script (subcommands, options, the home\'s job classes)')
    .description(
      'Print a bash completion script for stunnelctl: subcommands, their options and choices, directories ' +
        'for --home, and for --job-class the classes in the job-class table of the home on the line ' +
        '(--home, else $STUNNELCTL_HOME, else the default home).',
    )
    .addArgument(new Argument('[shell]', 'the shell').choices(COMPLETION_SHELLS))
    .addOption(new Option('--job-classes', "list the home's job classes, one per line (used by the script)").hideHelp())
    .action(async (shell: string | undefined, options: CompletionOptions) => {
      const { runCompletion } = await import('../actions/completion.js');
      runCompletion(shell, options, program, context);
    });
  addCommandHelp(command, {
    examples: [
      { command: 'source <(stunnelctl completion bash)', what: 'completion in this shell' },
      { command: 'stunnelctl completion bash > ~/.local/share/bash-completion/completions/stunnelctl', what: 'completion in every new shell (bash-completion loads it on first use)' },
    ],
    exitCodes: [
      { code: EXIT.OK, meaning: 'the script was printed' },
      { ...COMMON_EXIT_CODES.usage, meaning: 'usage error, e.g. a shell other than bash' },
    ],
  });
};
