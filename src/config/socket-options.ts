// The `socket = a|l|r:OPTION=VALUE` option: the subset Node's net module can honour. Anything else is
// a clear error rather than a silent no-op.
import { OptionValueError } from './diagnostics.js';

/** a = accepting (listening) socket, l = local (accepted) socket, r = remote (outgoing) socket. */
export type SocketSide = 'a' | 'l' | 'r';

export type SocketSetting =
  | { side: SocketSide; option: 'SO_KEEPALIVE'; enabled: boolean; intervalSeconds: number | null }
  | { side: SocketSide; option: 'TCP_KEEPIDLE'; seconds: number }
  | { side: SocketSide; option: 'TCP_NODELAY'; enabled: boolean }
  | { side: SocketSide; option: 'SO_REUSEADDR'; enabled: true }
  | { side: SocketSide; option: 'IPV6_V6ONLY'; enabled: boolean };

const KNOWN_STUNNEL_SOCKET_OPTIONS = new Set([
  'SO_DEBUG', 'SO_DONTROUTE', 'SO_KEEPALIVE', 'SO_LINGER', 'SO_OOBINLINE', 'SO_RCVBUF', 'SO_SNDBUF',
  'SO_RCVLOWAT', 'SO_SNDLOWAT', 'SO_RCVTIMEO', 'SO_SNDTIMEO', 'SO_REUSEADDR', 'SO_REUSEPORT',
  'SO_BINDTODEVICE', 'TCP_KEEPCNT', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'IP_TOS', 'IP_TTL', 'TCP_MAXSEG',
  'TCP_NODELAY', 'IP_FREEBIND', 'IP_BINDANY', 'IPV6_BINDANY', 'IPV6_V6ONLY',
]);

const parseFlag = (value: string): boolean => {
  const lower = value.toLowerCase();
  if (lower === 'yes' || lower === '1') return true;
  if (lower === 'no' || lower === '0') return false;
  throw new OptionValueError('Illegal socket option');
};

/**
 * Linux's limit for the keep-alive idle time (MAX_TCP_KEEPIDLE): a longer one is refused by the
 * kernel, and Node ignores that refusal: keep-alive would run with the system default (2 hours).
 */
const MAX_KEEPALIVE_SECONDS = 32767;

const parseKeepAliveSeconds = (argument: string, option: string, min: number): number => {
  const seconds = Number(argument);
  if (!Number.isSafeInteger(seconds) || seconds < min || seconds > MAX_KEEPALIVE_SECONDS) {
    throw new OptionValueError(`Illegal socket option: ${option} takes ${min} to ${MAX_KEEPALIVE_SECONDS} seconds (Linux's limit)`);
  }
  return seconds;
};

export const parseSocketOption = (value: string): SocketSetting => {
  const match = /^([alr]):([A-Za-z0-9_]+)=(.*)$/.exec(value);
  if (match === null) throw new OptionValueError('Illegal socket option');
  const side = match[1] as SocketSide;
  const option = match[2] ?? '';
  const argument = match[3] ?? '';
  switch (option) {
    case 'SO_KEEPALIVE': {
      // BS2000 documents `a:SO_KEEPALIVE=<120..32767>` as a keep-alive interval in seconds and 0 to
      // switch it off; yes/no are stunnel's own spelling.
      if (/^\d+$/.test(argument) && argument !== '1') {
        if (Number(argument) === 0) return { side, option, enabled: false, intervalSeconds: null };
        return { side, option, enabled: true, intervalSeconds: parseKeepAliveSeconds(argument, 'SO_KEEPALIVE', 2) };
      }
      return { side, option, enabled: parseFlag(argument), intervalSeconds: null };
    }
    case 'TCP_KEEPIDLE': {
      if (!/^\d+$/.test(argument)) throw new OptionValueError('Illegal socket option');
      return { side, option, seconds: parseKeepAliveSeconds(argument, 'TCP_KEEPIDLE', 1) };
    }
    case 'TCP_NODELAY':
      return { side, option, enabled: parseFlag(argument) };
    case 'SO_REUSEADDR':
      if (!parseFlag(argument)) {
        throw new OptionValueError('Illegal socket option: SO_REUSEADDR=no is not supported (Node.js always sets it on listeners)');
      }
      return { side, option, enabled: true };
    case 'IPV6_V6ONLY':
      if (side !== 'a') throw new OptionValueError('Illegal socket option: IPV6_V6ONLY applies to the accepting socket (a:) only');
      return { side, option, enabled: parseFlag(argument) };
    default:
      if (KNOWN_STUNNEL_SOCKET_OPTIONS.has(option)) {
        throw new OptionValueError(
          `Illegal socket option: ${option} is not supported by stunnelctl (Node.js cannot set it); supported: SO_KEEPALIVE, TCP_KEEPIDLE, TCP_NODELAY, SO_REUSEADDR, IPV6_V6ONLY`,
        );
      }
      throw new OptionValueError('Illegal socket option');
  }
};
