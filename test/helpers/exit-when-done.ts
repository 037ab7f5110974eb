// Loaded into every test file's process (`node --test --import ./dist/test/helpers/exit-when-done.js`,
// see package.json): once the process is exiting, it leaves by process.exit, as the worker, its engine
// processes and the CLI do. A process that ends by its event loop running empty goes through Node's
// environment teardown, and Node 20 can spin there for ever (node::Environment::CleanupHandles,
// 100% CPU) waiting for a write request on a destroyed TLS socket that never completes (the class of
// nodejs/node#47748). Seen in CI: the process of test/integration/verification.test.js, every subtest
// passed, still spinning 10 minutes later (gdb: uv_run under CleanupHandles under FreeEnvironment),
// and `node --test` waits for it without a limit. process.exit skips that teardown.
//
// The other `exit` listeners run first, once each, with the exit code; the code is kept.
const exitWhenDone = (code: number): void => {
  for (const listener of process.listeners('exit')) {
    if (listener !== exitWhenDone) (listener as (code: number) => void).call(process, code);
  }
  process.exit(code);
};

process.on('exit', exitWhenDone);
