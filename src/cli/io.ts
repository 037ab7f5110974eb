// Where the CLI's words go: stdout for results (and notes on what was done), stderr for failures,
// warnings, diagnostics and progress. Injected, so runCli can be driven and read in tests.
import type { HomeLockEvents } from '../control/lock.js';
import { getSystemErrorCode } from '../errors.js';

export interface CliIo {
  writeOut(text: string): void;
  writeErr(text: string): void;
  env: NodeJS.ProcessEnv;
}

export interface Reporter {
  /** A result line (stdout). */
  line(text: string): void;
  /** Something done besides the result, e.g. a stale pid file removed (stdout, `note: `). */
  note(text: string): void;
  /** Something the operator should look at (stderr, `warning: `). */
  warn(text: string): void;
  /** A diagnostic or the worker's own output, verbatim (stderr). */
  problem(text: string): void;
  /** Progress while waiting (stderr). */
  progress(text: string): void;
}

/**
 * A reader that stops early (`stunnelctl status | head -1`) closes the pipe; what is left to write
 * has nowhere to go, which is not the command's failure.
 */
const ignoreClosedPipe = (stream: NodeJS.WriteStream): void => {
  stream.on('error', (error) => {
    if (getSystemErrorCode(error) !== 'EPIPE') throw error;
  });
};

export const createProcessIo = (): CliIo => {
  ignoreClosedPipe(process.stdout);
  ignoreClosedPipe(process.stderr);
  return {
    writeOut: (text) => {
      process.stdout.write(text);
    },
    writeErr: (text) => {
      process.stderr.write(text);
    },
    env: process.env,
  };
};

export const createReporter = (io: CliIo): Reporter => ({
  line: (text) => io.writeOut(`${text}\n`),
  note: (text) => io.writeOut(`note: ${text}\n`),
  warn: (text) => io.writeErr(`warning: ${text}\n`),
  problem: (text) => io.writeErr(`${text}\n`),
  progress: (text) => io.writeErr(`${text}\n`),
});

/** What the operator is told about the home lock. */
export const createLockEvents = (reporter: Reporter, homeDirectory: string): HomeLockEvents => ({
  onWait: () => reporter.progress(`waiting for another stunnelctl command to release the lock of ${homeDirectory}`),
  onStaleRecovered: (ageMs) =>
    reporter.note(`took over the lock of ${homeDirectory} left by a stunnelctl command that did not finish (untouched for ${Math.round(ageMs / 1000)} s)`),
  onCompromised: (error) => reporter.warn(`the lock of ${homeDirectory} was lost while held (${error.message}); check for another stunnelctl command`),
});
