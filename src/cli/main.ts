#!/usr/bin/env node
// The stunnelctl executable: `run` starts the worker, anything else the operator CLI. No static
// imports, on purpose: Node keeps SIGUSR1 for its inspector until a listener for it exists, so the
// worker must install its signal handlers before anything heavy loads (a SIGUSR1 from
// switch-logfile arriving during start-up must reopen the log, not open a debugger port).
// This is the only module that decides the process's exit status (the worker's entry aside).

if (process.argv[2] === 'run') {
  const { runWorkerProcess } = await import('../worker/main.js');
  await runWorkerProcess(process.argv.slice(3));
} else {
  const { runCli } = await import('./program.js');
  process.exitCode = await runCli(process.argv);
}

export {};
