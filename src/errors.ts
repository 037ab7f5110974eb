// The one error type of stunnelctl: a stable code, the exit code it maps to, and a hint that names
// the next thing to do. Only cli/main.ts and the worker's entry turn these into process exits.

/** LSB / systemd exit statuses used by every subcommand (README "Exit codes"). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_CONFIGURED: 6,
  NOT_RUNNING: 7,
} as const;

/** `status` has its own LSB table. */
export const STATUS_EXIT = {
  RUNNING: 0,
  DEAD_PID_FILE_EXISTS: 1,
  NOT_RUNNING: 3,
  UNKNOWN: 4,
} as const;

/** The catalogue of error codes: code -> [exit code, one-line meaning]. The README documents each. */
export const ERROR_CODES = {
  SCTL_ERR_USAGE: [EXIT.USAGE, 'the command line is wrong'],
  SCTL_ERR_HOME_MISSING: [EXIT.NOT_CONFIGURED, 'the home has not been installed'],
  SCTL_ERR_HOME_EXISTS: [EXIT.OK, 'install found an existing home and left it as it is'],
  SCTL_ERR_CONFIG_INVALID: [EXIT.NOT_CONFIGURED, 'the configuration file has errors'],
  SCTL_ERR_CONFIG_MISSING: [EXIT.NOT_CONFIGURED, 'the configuration file does not exist'],
  SCTL_ERR_JOB_CLASS_UNKNOWN: [EXIT.USAGE, 'the job class is not in the home\'s job-class table'],
  SCTL_ERR_JOB_CLASSES_INVALID: [EXIT.NOT_CONFIGURED, 'the job-class table has errors'],
  SCTL_ERR_LOCKED: [EXIT.FAILURE, 'another stunnelctl command holds the home lock'],
  SCTL_ERR_NOT_RUNNING: [EXIT.NOT_RUNNING, 'no worker is running for this home'],
  SCTL_ERR_START_FAILED: [EXIT.FAILURE, 'the worker did not come up'],
  SCTL_ERR_STOP_FAILED: [EXIT.FAILURE, 'the worker did not stop'],
  SCTL_ERR_SIGNAL_FAILED: [EXIT.FAILURE, 'the worker could not be signalled'],
  SCTL_ERR_WORKER_NO_ANSWER: [EXIT.FAILURE, 'the worker did not acknowledge the request in time'],
  SCTL_ERR_RELOAD_REJECTED: [EXIT.FAILURE, 'the worker kept its old configuration'],
  SCTL_ERR_PID_FILE_FOREIGN: [EXIT.FAILURE, 'the pid file names a process that is not this home\'s worker'],
  SCTL_ERR_FILE_EXISTS: [EXIT.FAILURE, 'a file would be overwritten; pass --force to replace it (a backup is kept)'],
  SCTL_ERR_CERT: [EXIT.FAILURE, 'a key or certificate could not be made or read'],
  SCTL_ERR_LOG_SWITCH: [EXIT.FAILURE, 'the log file could not be switched'],
  SCTL_ERR_IO: [EXIT.FAILURE, 'a file could not be read or written'],
  SCTL_ERR_INTERNAL: [EXIT.FAILURE, 'an unexpected internal error'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface StunnelctlErrorOptions {
  hint?: string;
  cause?: unknown;
  exitCode?: number;
}

export class StunnelctlError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: StunnelctlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StunnelctlError';
    this.code = code;
    this.exitCode = options.exitCode ?? ERROR_CODES[code][0];
    this.hint = options.hint;
  }
}

export const isStunnelctlError = (value: unknown): value is StunnelctlError =>
  value instanceof StunnelctlError;

/** The `code` of a Node system error (`EADDRINUSE`, `ESRCH`, ...), or undefined. */
export const getSystemErrorCode = (error: unknown): string | undefined => {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error as { code: unknown };
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
};
