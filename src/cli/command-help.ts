// What `stunnelctl help CMD` (and `CMD --help`) adds below commander's option list: examples and the
// exit codes of that command. Kept as data on the command, so the man page is made from the same text.
import type { Command } from 'commander';
import { EXIT } from '../errors.js';

export interface HelpExample {
  /** The command line, starting with `stunnelctl`. */
  command: string;
  /** What it does, in a few words. */
  what: string;
}

export interface ExitCodeRow {
  code: number;
  meaning: string;
}

export interface CommandHelp {
  examples: readonly HelpExample[];
  exitCodes: readonly ExitCodeRow[];
}

/** Exit code rows most commands share. */
export const COMMON_EXIT_CODES = {
  usage: { code: EXIT.USAGE, meaning: 'usage error: an unknown option or a bad value' },
  noHome: { code: EXIT.NOT_CONFIGURED, meaning: 'no home here (run stunnelctl install)' },
  notRunning: { code: EXIT.NOT_RUNNING, meaning: 'the worker is not running' },
} as const satisfies Record<string, ExitCodeRow>;

const helpByCommand = new WeakMap<Command, CommandHelp>();

/** Attaches examples and exit codes to `command`: shown by its --help, read by the man page. */
export const addCommandHelp = (command: Command, help: CommandHelp): Command => {
  helpByCommand.set(command, help);
  return command.addHelpText('after', formatCommandHelp(help));
};

export const getCommandHelp = (command: Command): CommandHelp | undefined => helpByCommand.get(command);

export const formatCommandHelp = (help: CommandHelp): string => {
  const lines = ['', 'Examples:'];
  for (const example of help.examples) lines.push(`  $ ${example.command}`, `      ${example.what}`);
  lines.push('', 'Exit codes:');
  for (const row of help.exitCodes) lines.push(`  ${String(row.code).padStart(2)}  ${row.meaning}`);
  return lines.join('\n');
};
