// Parsers for option values (yes/no, levels, timeouts, addresses, socket options). Each throws an
// OptionValueError carrying stunnel's reason text; the parser attaches file and line.
import { isAbsolute, resolve } from 'node:path';
import { OptionValueError } from './diagnostics.js';

export const parseYesNo = (value: string): boolean => {
  const lower = value.toLowerCase();
  if (lower === 'yes') return true;
  if (lower === 'no') return false;
  throw new OptionValueError("The argument needs to be either 'yes' or 'no'");
};

export const parseChoice =
  <T extends string>(choices: readonly T[], reason: string) =>
  (value: string): T => {
    const found = choices.find((choice) => choice.toLowerCase() === value.toLowerCase());
    if (found === undefined) throw new OptionValueError(reason);
    return found;
  };

export const parseInteger = (value: string, reason: string, min = -Infinity, max = Infinity): number => {
  if (!/^-?\d+$/.test(value)) throw new OptionValueError(reason);
  // "-0" is 0 (as atoi reads it), not JavaScript's -0: Node takes -0 for no 32-bit integer, and
  // createSecureContext({ sessionTimeout: -0 }) aborted the whole process (found by the fuzzer).
  const number = Number(value) + 0;
  if (!Number.isSafeInteger(number) || number < min || number > max) throw new OptionValueError(reason);
  return number;
};

/**
 * The longest delay a Node timer honours (2^31-1 ms, about 24.8 days): a longer one fires after 1 ms
 * (Node's TimeoutOverflowWarning), so a TIMEOUTbusy of 30 days would end every handshake at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const MAX_TIMEOUT_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
/** Node's TLS session timeout is a 32-bit signed number of seconds (a larger one aborts the process). */
export const MAX_SESSION_TIMEOUT_SECONDS = 2 ** 31 - 1;

/** A timeout in seconds; negative means "never" (BS2000 manual: TIMEOUTidle = -1). */
export const parseTimeoutSeconds = (what: string) => (value: string): number => {
  const seconds = parseInteger(value, `Illegal ${what} timeout`);
  if (seconds > MAX_TIMEOUT_SECONDS) {
    throw new OptionValueError(`Illegal ${what} timeout: at most ${MAX_TIMEOUT_SECONDS} seconds (24 days); a negative value means none`);
  }
  return seconds;
};

export const SYSLOG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

export interface DebugSetting {
  level: number;
  facility: string | null;
}

export const parseDebug = (value: string): DebugSetting => {
  const dot = value.indexOf('.');
  const facility = dot === -1 ? null : value.slice(0, dot).toLowerCase();
  const levelText = (dot === -1 ? value : value.slice(dot + 1)).toLowerCase();
  const byName = SYSLOG_LEVELS.indexOf(levelText as (typeof SYSLOG_LEVELS)[number]);
  if (byName !== -1) return { level: byName, facility };
  if (/^[0-7]$/.test(levelText)) return { level: Number(levelText), facility };
  if (levelText === 'warn') return { level: 4, facility };
  if (levelText === 'error') return { level: 3, facility };
  throw new OptionValueError('Illegal debug level');
};

/** Paths in the file are resolved against the configuration file's directory. */
export const resolvePath = (value: string, configDirectory: string): string =>
  isAbsolute(value) ? value : resolve(configDirectory, value);

export type Endpoint =
  /** `name`: the host name `host` was resolved from, for a target resolved at connect time (SNI uses it). */
  | { kind: 'inet'; text: string; host: string; port: number; name?: string }
  | { kind: 'unix'; text: string; path: string };

const parsePort = (text: string, original: string): number => {
  if (!/^\d+$/.test(text)) throw new OptionValueError(`Unknown TCP service "${text === '' ? original : text}"`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new OptionValueError(`Invalid port number "${text}"`);
  return port;
};

/**
 * `PORT` | `HOST:PORT` (split at the last `:`, so `::1:443` is IPv6) | `[HOST]:PORT` | an absolute
 * Unix-socket path. `defaultHost` is 0.0.0.0 for accept and 127.0.0.1 for connect, as in stunnel.
 */
export const parseEndpoint = (value: string, defaultHost: string): Endpoint => {
  if (value.startsWith('/')) return { kind: 'unix', text: value, path: value };
  const bracketed = /^\[([^\]]+)\]:([^:]+)$/.exec(value);
  if (bracketed !== null) {
    return { kind: 'inet', text: value, host: bracketed[1] ?? '', port: parsePort(bracketed[2] ?? '', value) };
  }
  const colon = value.lastIndexOf(':');
  if (colon === -1) return { kind: 'inet', text: value, host: defaultHost, port: parsePort(value, value) };
  let host = value.slice(0, colon);
  // `:::443` means all IPv6 addresses, `::443`-style trailing colon forms leave "::".
  if (host === '' || host === '::' || host === ':') host = host === '' ? defaultHost : '::';
  return { kind: 'inet', text: value, host, port: parsePort(value.slice(colon + 1), value) };
};

/** `HOST:PORT` as stunnel writes addresses (IPv6 without brackets), or the Unix path. */
export const formatEndpoint = (endpoint: Endpoint): string =>
  endpoint.kind === 'unix' ? endpoint.path : `${endpoint.host}:${endpoint.port}`;

export type SslVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
const SSL_VERSION_NAMES = ['all', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;

/** `all` -> null (library default). SSLv3 is accepted by the name check but no longer exists here. */
export const parseSslVersion = (value: string): SslVersion | 'all' => {
  const found = SSL_VERSION_NAMES.find((name) => name.toLowerCase() === value.toLowerCase());
  if (found === undefined) throw new OptionValueError('Invalid protocol version');
  if (found === 'SSLv3') throw new OptionValueError('Invalid protocol version: SSLv3 is not supported by this TLS library');
  return found;
};
