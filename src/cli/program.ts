// The operator CLI: commander wiring of every subcommand, and the one place that turns an outcome
// into an exit code and an error into its message (`stunnelctl CMD: what failed` + `hint: ...`).
// Only declarations load here; each command imports its work when it runs (commands/ -> actions/),
// so `status` or `--help` never load key generation, process launching or the lock.
import { Command, CommanderError } from 'commander';
import { EXIT, isStunnelctlError } from '../errors.js';
import { readPackageVersion } from '../control/package-files.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerInstallCommand } from './commands/install.js';
import { registerLogConnCommand } from './commands/log-conn.js';
import { registerMakeSelfSignedCertCommand } from './commands/make-self-signed-cert.js';
import { registerReloadConfigCommand } from './commands/reload-config.js';
import { registerRunCommand } from './commands/run.js';
import { registerStartCommand } from './commands/start.js';
import { registerStatusCommand } from './commands/status.js';
import { registerStopCommand } from './commands/stop.js';
import { registerSwitchLogfileCommand } from './commands/switch-logfile.js';
import type { CliContext } from './context.js';
import { createProcessIo, createReporter, type CliIo } from './io.js';
import { HOME_OPTION_HELP } from './options.js';

const DEBUG_ENV_VARIABLE = 'STUNNELCTL_DEBUG';

/** Exit codes of the whole program: shown by --help, and the man page's EXIT STATUS. */
export const EXIT_CODES_HELP = `Exit codes: 0 success (also start when already running, stop when not running), 1 failure,
2 usage error, 6 not configured (no home, or the configuration is missing or invalid),
7 worker not running (switch-logfile, log-conn, reload-config).
status: 0 running, 1 dead but the pid file exists, 3 not running, 4 unknown.
Each command's own codes: stunnelctl help COMMAND.`;

const HELP_FOOTER = `
Every subcommand takes --home DIR: ${HOME_OPTION_HELP}.
stunnelctl help COMMAND shows a command's options, examples and exit codes; man stunnelctl has them all.

${EXIT_CODES_HELP}
Set ${DEBUG_ENV_VARIABLE}=1 to see the stack of an unexpected error.`;

export const createProgram = (context: CliContext): Command => {
  const program = new Command('stunnelctl')
    .description('A TLS proxy that speaks stunnel\'s configuration language, run the BS2000 way (STUNNEL.* procedures).')
    .version(readPackageVersion(), '-V, --version')
    .addHelpText('after', HELP_FOOTER)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.io.writeOut(text),
      writeErr: (text) => context.io.writeErr(text),
      // Usage errors are printed by runCli in the house format; commander's own line would repeat it.
      outputError: () => undefined,
    });
  // Subcommands made with .command() inherit exitOverride and configureOutput from the program.
  registerInstallCommand(program, context);
  registerStartCommand(program, context);
  registerStopCommand(program, context);
  registerStatusCommand(program, context);
  registerSwitchLogfileCommand(program, context);
  registerLogConnCommand(program, context);
  registerReloadConfigCommand(program, context);
  registerMakeSelfSignedCertCommand(program, context);
  registerRunCommand(program);
  registerCompletionCommand(program, context);
  return program;
};

/** The program as documentation (man page): declared, never run, so its output goes nowhere. */
export const createDocumentationProgram = (): Command => {
  const io: CliIo = { writeOut: () => undefined, writeErr: () => undefined, env: {} };
  return createProgram({ io, report: createReporter(io), setExitCode: () => undefined });
};

const findCommandName = (program: Command, argv: readonly string[]): string | undefined => {
  const name = argv[2];
  return program.commands.some((command) => command.name() === name) ? name : undefined;
};

const reportFailure = (error: unknown, command: string | undefined, io: CliIo): number => {
  const prefix = command === undefined ? 'stunnelctl' : `stunnelctl ${command}`;
  const write = (line: string): void => io.writeErr(`${line}\n`);
  if (error instanceof CommanderError) {
    // --help and --version end this way too, with exit code 0.
    if (error.exitCode === 0) return EXIT.OK;
    // commander.help: help was printed because no subcommand was given; it speaks for itself.
    if (error.code !== 'commander.help') {
      write(`${prefix}: ${error.message.replace(/^error: /, '')}`);
      write(`hint: see ${prefix} --help`);
    }
    return EXIT.USAGE;
  }
  const debug = io.env[DEBUG_ENV_VARIABLE] === '1';
  if (isStunnelctlError(error)) {
    write(`${prefix}: ${error.message}`);
    if (error.hint !== undefined) write(`hint: ${error.hint}`);
    if (debug && error.stack !== undefined) write(error.stack);
    return error.exitCode;
  }
  write(`${prefix}: unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  if (debug) write(error instanceof Error && error.stack !== undefined ? error.stack : String(error));
  else write(`hint: run it again with ${DEBUG_ENV_VARIABLE}=1 to see where it happened, and report it`);
  return EXIT.FAILURE;
};

/** Runs the CLI on `argv` (node, script, args...) and returns the exit code; never exits itself. */
export const runCli = async (argv: readonly string[], io: CliIo = createProcessIo()): Promise<number> => {
  let exitCode: number = EXIT.OK;
  const context: CliContext = {
    io,
    report: createReporter(io),
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  const program = createProgram(context);
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    return reportFailure(error, findCommandName(program, argv), io);
  }
};
