// Entry of an engine process (`processes` > 1), forked by the worker. Signals first: the operator
// signals the worker, and a signal that reaches an engine process as well (a terminal's Ctrl-C, a
// systemd stop of the whole control group) must not end it behind the worker's back; Node would
// otherwise die of SIGHUP/USR2 or open its inspector on SIGUSR1.
import { WORKER_SIGNALS } from './engine-protocol.js';
import { tuneV8 } from './v8-tuning.js';

for (const signal of WORKER_SIGNALS) process.on(signal, () => undefined);
tuneV8();
const { runEngineProcess } = await import('./engine-process-main.js');
runEngineProcess();
