// Defaults an operator sees in --help, apart from the modules that act on them: declaring the CLI
// (help, completion, the man page) must not load what starting a worker or making a key needs.

/** Where install's first service ([MT9750]) accepts TLS and connects in plain TCP. */
export const DEFAULT_ACCEPT = '994';
export const DEFAULT_CONNECT = '127.0.0.1:102';

/** How long start waits for the worker to listen on every accept. */
export const DEFAULT_START_TIMEOUT_MS = 10_000;
/** How long stop waits after SIGTERM before SIGKILL. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** How long reload-config, switch-logfile and log-conn wait for the worker to acknowledge a signal. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
