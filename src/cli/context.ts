// What every subcommand gets: where to write, and how to set an exit code other than by throwing
// (only `status` does: its codes 1, 3 and 4 are answers, not failures).
import type { CliIo, Reporter } from './io.js';

export interface CliContext {
  io: CliIo;
  report: Reporter;
  setExitCode(code: number): void;
}
