// Options shared by several subcommands (--home, --timeout, --json) and their parsers, which throw
// commander's InvalidArgumentError so that a bad value is a usage error (exit 2).
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_HOME_RELATIVE, HOME_ENV_VARIABLE, resolveHomeDirectory } from '../control/home.js';
import type { CliIo } from './io.js';

export const HOME_OPTION_HELP = `home directory (default: $${HOME_ENV_VARIABLE}, else ~/${DEFAULT_HOME_RELATIVE})`;
/** Longest --timeout accepted: an hour is already far beyond any sane wait for the worker. */
const MAX_TIMEOUT_SECONDS = 3600;
/** A command waiting for the lock waits this much longer than its own --timeout. */
const LOCK_WAIT_MARGIN_MS = 5_000;
export const MIN_LOCK_WAIT_MS = 15_000;

export interface HomeOptions {
  home?: string;
}

export interface TimeoutOptions {
  timeout: number;
}

export const addHomeOption = (command: Command): Command => command.option('--home <dir>', HOME_OPTION_HELP);

export const addTimeoutOption = (command: Command, what: string, defaultMs: number): Command =>
  command.option('--timeout <seconds>', `how long to wait for the worker to ${what}`, parseTimeoutSeconds, defaultMs / 1000);

export const addJsonOption = (command: Command): Command => command.option('--json', 'print the result as JSON on stdout');

export const resolveHome = (options: HomeOptions, io: CliIo): string => resolveHomeDirectory(options.home, io.env);

/** Seconds (decimals allowed), 0 < s <= 3600. */
export const parseTimeoutSeconds = (value: string): number => {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_TIMEOUT_SECONDS) {
    throw new InvalidArgumentError(`expected a number of seconds from 0 to ${MAX_TIMEOUT_SECONDS}`);
  }
  return seconds;
};

export const parsePositiveInteger = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive whole number');
  return Number(value);
};

export const toMilliseconds = (seconds: number): number => Math.round(seconds * 1000);

/** The lock wait of a command that itself waits `timeoutMs` for the worker. */
export const createLockWaitMs = (timeoutMs: number): number => Math.max(MIN_LOCK_WAIT_MS, timeoutMs + LOCK_WAIT_MARGIN_MS);
