// Entry of the worker process (`stunnelctl run ...`). Installs the signal table first, then loads the
// engine lazily, so that no signal can hit Node's default handling while modules load.
import { tuneV8 } from './v8-tuning.js';
import { installSignalHandlers } from './signals.js';

export const runWorkerProcess = async (args: readonly string[]): Promise<void> => {
  installSignalHandlers();
  tuneV8();
  const { runWorkerCommandLine } = await import('./command-line.js');
  const exitCode = await runWorkerCommandLine(args);
  // The worker's own entry is the one place besides cli/main.ts that ends the process.
  process.exit(exitCode);
};
