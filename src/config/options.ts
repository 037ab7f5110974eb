// The one option table: every stunnel option name stunnelctl knows, its scope, how its value is
// parsed, its default and a summary. The parser, the validator and `run -options` all read it.
import { spawnSync } from 'node:child_process';
import { OptionValueError } from './diagnostics.js';
import {
  MAX_SESSION_TIMEOUT_SECONDS, MAX_TIMER_MS, parseChoice, parseDebug, parseEndpoint, parseInteger, parseSslVersion, parseTimeoutSeconds, parseYesNo,
  resolvePath,
} from './values.js';
import { parseSocketOption } from './socket-options.js';
import { parseTlsOption } from './tls-options.js';

export interface ParseContext {
  configDirectory: string;
  /** The line is in a section (not the global part). */
  inSection?: boolean;
}

/**
 * `global`: only before the first section. `service`: in a section, or in the global part as a
 * default copied into every section (stunnel's CMD_SET_COPY).
 */
export type OptionScope = 'global' | 'service';

export interface OptionSpec {
  name: string;
  aliases?: readonly string[];
  scope: OptionScope;
  /** Repeated lines accumulate instead of the last one winning. */
  repeatable?: boolean;
  parse: (value: string, context: ParseContext) => unknown;
  defaultText: string;
  summary: string;
  /** Recognised but cannot be honoured on Node: using it is an error with this reason. */
  unsupported?: string;
  /** Accepted, has no meaning here, and is logged once at info level. */
  noEffect?: string;
}

const text = (value: string): string => value;

const SYSLOG_FACILITIES: readonly string[] = [
  'auth', 'cron', 'daemon', 'kern', 'lpr', 'mail', 'news', 'syslog', 'user', 'uucp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7', 'authpriv', 'ftp',
];

/**
 * stunnel's ticket secrets: 16 or 32 bytes in hex, colons allowed. Anything else is refused with
 * stunnel's words: a value that is not all hex would otherwise give a shorter (even empty) key.
 */
const parseTicketSecret = (value: string, name: string): string => {
  const hex = value.replace(/:/g, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new OptionValueError(`Failed to read ${name}: Required ${name} is 16 or 32 byte hexadecimal key`);
  const bytes = hex.length / 2;
  if (bytes !== 16 && bytes !== 32) throw new OptionValueError(`Failed to read ${name}: ${name} value has ${bytes} bytes instead of required 16 or 32 bytes`);
  return value;
};

/**
 * setuid/setgid: a number is an id as it stands (stunnel takes any number); a name must exist, as
 * stunnel checks at load time (`Illegal UID` / `Illegal GID`), rather than failing later in every
 * engine process. Looked up with id(1)/getent(1), so NSS users (LDAP, ...) count.
 */
const parseAccountId = (value: string, kind: 'user' | 'group'): string | number => {
  if (/^\d+$/.test(value)) return Number(value);
  const lookup = kind === 'user' ? spawnSync('id', ['-u', '--', value], { stdio: 'ignore' }) : spawnSync('getent', ['group', value], { stdio: 'ignore' });
  if (lookup.status !== 0) throw new OptionValueError(kind === 'user' ? 'Illegal UID' : 'Illegal GID');
  return value;
};
const path = (value: string, context: ParseContext): string => resolvePath(value, context.configDirectory);
const optionalPath = (value: string, context: ParseContext): string | null =>
  value === '' ? null : resolvePath(value, context.configDirectory);
const unsupported = (name: string, scope: OptionScope, reason: string, summary: string): OptionSpec => ({
  name, scope, parse: text, defaultText: 'none', summary, unsupported: reason,
});

/** A bound well above any core count the worker would run on; more processes only cost memory. */
export const MAX_ENGINE_PROCESSES = 64;

const NOT_ON_NODE = 'is not supported by stunnelctl (Node.js TLS has no equivalent)';

export const OPTIONS: readonly OptionSpec[] = [
  // Global options
  { name: 'output', scope: 'global', parse: path, defaultText: 'none (stderr in the foreground)', summary: 'log file' },
  { name: 'pid', scope: 'global', parse: optionalPath, defaultText: 'none', summary: 'pid file (stunnelctl needs one to drive the worker)' },
  {
    name: 'foreground', scope: 'global', defaultText: 'no', summary: 'yes: also log to stderr; quiet: do not',
    parse: parseChoice(['yes', 'quiet', 'no'] as const, "The argument needs to be either 'yes', 'quiet' or 'no'"),
  },
  { name: 'log', scope: 'global', parse: parseChoice(['append', 'overwrite'] as const, 'Illegal log option'), defaultText: 'append', summary: 'how the log file is opened' },
  {
    name: 'syslog', scope: 'global', defaultText: 'no', summary: 'log to syslog',
    parse: (value) => {
      if (parseYesNo(value)) throw new OptionValueError("'syslog = yes' is not supported by stunnelctl: log to a file with 'output'");
      return false;
    },
  },
  { name: 'metrics', scope: 'global', parse: (value) => parseEndpoint(value, '127.0.0.1'), defaultText: 'none (off)', summary: 'Prometheus metrics listener [HOST:]PORT (loopback unless a host is given)' },
  { name: 'maxConnections', scope: 'global', parse: (value) => parseInteger(value, 'Illegal connection limit', 0), defaultText: '0 (no limit but the open-file limit)', summary: 'concurrent connections of the whole worker; more are refused and logged' },
  {
    name: 'processes', scope: 'global', defaultText: 'the number of cores', summary: 'engine processes serving connections (1: everything in the worker process itself)',
    parse: (value) => parseInteger(value, `Illegal number of engine processes: use 1 to ${MAX_ENGINE_PROCESSES}`, 1, MAX_ENGINE_PROCESSES),
  },
  { name: 'setuid', scope: 'global', parse: (value) => parseAccountId(value, 'user'), defaultText: 'none', summary: 'user to run as after binding' },
  { name: 'setgid', scope: 'global', parse: (value) => parseAccountId(value, 'group'), defaultText: 'none', summary: 'group to run as after binding' },
  { name: 'stack', scope: 'global', parse: (value) => parseInteger(value, 'Illegal thread stack size', 1), defaultText: '131072', summary: 'thread stack size', noEffect: 'the engine has no per-connection threads' },
  { name: 'RNDbytes', scope: 'global', parse: text, defaultText: '1024', summary: 'PRNG seed bytes', noEffect: 'Node.js seeds its PRNG from the kernel' },
  { name: 'RNDfile', scope: 'global', parse: text, defaultText: 'none', summary: 'PRNG seed file', noEffect: 'Node.js seeds its PRNG from the kernel' },
  { name: 'RNDoverwrite', scope: 'global', parse: text, defaultText: 'yes', summary: 'rewrite the PRNG seed file', noEffect: 'Node.js seeds its PRNG from the kernel' },
  {
    name: 'fips', scope: 'global', defaultText: 'no', summary: 'FIPS mode',
    parse: (value) => {
      if (parseYesNo(value)) throw new OptionValueError("'fips = yes' is not supported by stunnelctl");
      return false;
    },
  },
  unsupported('chroot', 'global', 'is not supported by stunnelctl (Node.js cannot chroot)', 'chroot jail'),
  unsupported('compression', 'global', 'is not supported by stunnelctl (TLS compression is insecure and unavailable)', 'TLS compression'),
  unsupported('EGD', 'global', NOT_ON_NODE, 'entropy gathering daemon'),
  unsupported('engine', 'global', NOT_ON_NODE, 'OpenSSL engine'),
  unsupported('engineCtrl', 'global', NOT_ON_NODE, 'OpenSSL engine control'),
  unsupported('engineDefault', 'global', NOT_ON_NODE, 'OpenSSL engine defaults'),
  unsupported('provider', 'global', NOT_ON_NODE, 'OpenSSL provider'),
  unsupported('providerParameter', 'global', NOT_ON_NODE, 'OpenSSL provider parameter'),
  unsupported('setEnv', 'global', 'is not supported by stunnelctl yet', 'environment for child processes'),
  unsupported('taskbar', 'global', 'is a Windows-only option', 'Windows taskbar icon'),
  unsupported('iconActive', 'global', 'is a Windows-only option', 'Windows icon'),
  unsupported('iconError', 'global', 'is a Windows-only option', 'Windows icon'),
  unsupported('iconIdle', 'global', 'is a Windows-only option', 'Windows icon'),

  // Service-level options
  {
    name: 'accept', scope: 'service', repeatable: true, defaultText: 'none', summary: '[HOST:]PORT to listen on',
    parse: (value) => {
      // `:PORT` is an empty host name to stunnel, which it cannot resolve; taking it for all
      // addresses would expose the service on every interface. A bare PORT means all addresses.
      if (/^:\d*$/.test(value)) throw new OptionValueError('Error resolving "": Cannot resolve accept target');
      return parseEndpoint(value, '0.0.0.0');
    },
  },
  { name: 'connect', scope: 'service', repeatable: true, parse: (value) => parseEndpoint(value, '127.0.0.1'), defaultText: 'none', summary: '[HOST:]PORT to connect to' },
  { name: 'redirect', scope: 'service', repeatable: true, parse: (value) => parseEndpoint(value, '127.0.0.1'), defaultText: 'none', summary: 'where unauthenticated clients are sent' },
  { name: 'client', scope: 'service', parse: parseYesNo, defaultText: 'no', summary: 'yes: plain in, TLS out' },
  { name: 'cert', scope: 'service', parse: path, defaultText: 'none', summary: 'certificate chain (PEM, may hold the key too)' },
  { name: 'key', scope: 'service', parse: path, defaultText: 'the cert file', summary: 'private key (PEM)' },
  { name: 'CAfile', scope: 'service', parse: path, defaultText: 'none', summary: 'trusted CA certificates (PEM)' },
  { name: 'CApath', scope: 'service', parse: path, defaultText: 'none', summary: 'directory of trusted CA certificates' },
  { name: 'CRLfile', scope: 'service', parse: path, defaultText: 'none', summary: 'certificate revocation lists (PEM)' },
  { name: 'CRLpath', scope: 'service', parse: path, defaultText: 'none', summary: 'directory of CRLs' },
  { name: 'verify', scope: 'service', parse: (value) => parseInteger(value, 'Bad verify level', 0, 4), defaultText: 'none', summary: 'obsolete verification level 0-4' },
  { name: 'verifyChain', scope: 'service', parse: parseYesNo, defaultText: 'no', summary: 'verify the peer certificate chain' },
  { name: 'verifyPeer', scope: 'service', parse: parseYesNo, defaultText: 'no', summary: 'the peer certificate must be in CAfile/CApath' },
  { name: 'requireCert', scope: 'service', parse: parseYesNo, defaultText: 'no', summary: 'require a client certificate' },
  { name: 'checkHost', scope: 'service', repeatable: true, parse: text, defaultText: 'none', summary: 'peer certificate host name' },
  { name: 'checkIP', scope: 'service', repeatable: true, parse: text, defaultText: 'none', summary: 'peer certificate IP address' },
  { name: 'checkEmail', scope: 'service', repeatable: true, parse: text, defaultText: 'none', summary: 'peer certificate email address' },
  { name: 'ciphers', scope: 'service', parse: text, defaultText: 'forward-secret AEAD suites only (see README)', summary: 'TLS 1.2 and lower cipher list' },
  { name: 'ciphersuites', scope: 'service', parse: text, defaultText: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256', summary: 'TLS 1.3 cipher suites' },
  { name: 'curves', aliases: ['curve'], scope: 'service', parse: text, defaultText: 'X25519:P-256:X448:P-521:P-384', summary: 'ECDH groups' },
  { name: 'securityLevel', scope: 'service', parse: (value) => parseInteger(value, 'Illegal security level', 0, 5), defaultText: '2', summary: 'OpenSSL security level' },
  { name: 'options', scope: 'service', repeatable: true, parse: parseTlsOption, defaultText: 'NO_SSLv2, NO_SSLv3', summary: 'OpenSSL SSL_OP_* flags (-NAME clears)' },
  { name: 'sslVersion', scope: 'service', parse: parseSslVersion, defaultText: 'none', summary: 'sets sslVersionMin and sslVersionMax' },
  { name: 'sslVersionMin', scope: 'service', parse: parseSslVersion, defaultText: 'TLSv1.2', summary: 'lowest TLS version' },
  { name: 'sslVersionMax', scope: 'service', parse: parseSslVersion, defaultText: 'all', summary: 'highest TLS version' },
  { name: 'sni', scope: 'service', parse: text, defaultText: 'client: the connect host', summary: 'server name indication' },
  { name: 'failover', scope: 'service', parse: parseChoice(['rr', 'prio'] as const, 'Invalid failover strategy'), defaultText: 'prio', summary: 'how multiple connect targets are used' },
  { name: 'delay', scope: 'service', parse: parseYesNo, defaultText: 'no', summary: 'resolve connect targets per connection' },
  { name: 'local', scope: 'service', parse: text, defaultText: 'none', summary: 'source address for outgoing connections' },
  { name: 'protocol', scope: 'service', parse: text, defaultText: 'none', summary: 'protocol negotiation (proxy: PROXY v1 header to the backend)' },
  { name: 'PSKsecrets', scope: 'service', parse: path, defaultText: 'none', summary: 'file of IDENTITY:KEY lines' },
  { name: 'PSKidentity', scope: 'service', parse: text, defaultText: 'the first identity', summary: 'client PSK identity' },
  { name: 'sessionCacheSize', scope: 'service', parse: (value) => parseInteger(value, 'Illegal session cache size', 0), defaultText: '1000', summary: 'session cache entries (0 = unlimited)' },
  { name: 'sessionCacheTimeout', aliases: ['session'], scope: 'service', parse: (value) => parseInteger(value, `Illegal session cache timeout: use 0 to ${MAX_SESSION_TIMEOUT_SECONDS} seconds`, 0, MAX_SESSION_TIMEOUT_SECONDS), defaultText: '300', summary: 'session cache timeout in seconds' },
  { name: 'sessionResume', scope: 'service', parse: parseYesNo, defaultText: 'yes', summary: 'allow session resumption' },
  { name: 'ticketKeySecret', scope: 'service', parse: (value) => parseTicketSecret(value, 'ticketKeySecret'), defaultText: 'random', summary: 'session ticket encryption key (hex)' },
  { name: 'ticketMacSecret', scope: 'service', parse: (value) => parseTicketSecret(value, 'ticketMacSecret'), defaultText: 'random', summary: 'session ticket MAC key (hex)' },
  { name: 'renegotiation', scope: 'service', parse: parseYesNo, defaultText: 'yes', summary: 'allow TLS renegotiation' },
  { name: 'reset', scope: 'service', parse: parseYesNo, defaultText: 'yes', summary: 'send TCP RST on errors' },
  { name: 'TIMEOUTbusy', scope: 'service', parse: parseTimeoutSeconds('busy'), defaultText: '300', summary: 'seconds to wait for expected data (handshake)' },
  { name: 'TIMEOUTclose', scope: 'service', parse: parseTimeoutSeconds('close'), defaultText: '60', summary: 'seconds to wait for close_notify' },
  { name: 'TIMEOUTconnect', scope: 'service', parse: parseTimeoutSeconds('connect'), defaultText: '10', summary: 'seconds to connect a target' },
  { name: 'TIMEOUThandshake', scope: 'service', parse: parseTimeoutSeconds('handshake'), defaultText: '60', summary: 'seconds a TLS handshake may take (negative: TIMEOUTbusy alone)' },
  { name: 'serviceMaxConnections', scope: 'service', parse: (value) => parseInteger(value, 'Illegal connection limit', 0), defaultText: '0 (no limit)', summary: 'concurrent connections of this service; more are refused and logged' },
  { name: 'TIMEOUTidle', scope: 'service', parse: parseTimeoutSeconds('idle'), defaultText: '43200', summary: 'seconds a connection may be idle (negative: never)' },
  { name: 'socket', scope: 'service', repeatable: true, parse: parseSocketOption, defaultText: 'l:TCP_NODELAY=yes r:TCP_NODELAY=yes', summary: 'socket options a|l|r:OPTION=VALUE' },
  {
    name: 'debug', scope: 'service', defaultText: 'notice', summary: 'log level [FACILITY.]LEVEL',
    parse: (value, context) => {
      // stunnel takes a facility in the global part only, and only one syslog knows.
      const setting = parseDebug(value);
      if (setting.facility !== null && context.inSection === true) throw new OptionValueError('Illegal debug level');
      if (setting.facility !== null && !SYSLOG_FACILITIES.includes(setting.facility)) throw new OptionValueError('Illegal syslog facility');
      return setting;
    },
  },
  { name: 'logId', scope: 'service', parse: parseChoice(['sequential', 'unique', 'thread', 'process'] as const, 'Invalid connection identifier type'), defaultText: 'sequential', summary: 'connection id in log lines' },
  { name: 'service', scope: 'service', parse: text, defaultText: 'stunnel', summary: 'service name for syslog' },
  { name: 'exec', scope: 'service', parse: path, defaultText: 'none', summary: 'local program to run per connection' },
  { name: 'execArgs', scope: 'service', parse: text, defaultText: '$0 = exec', summary: 'arguments of the exec program' },
  {
    name: 'retry', scope: 'service', defaultText: 'no', summary: 'restart exec+connect services: yes (1000 ms), no, or a delay in ms',
    parse: (value) => {
      const lower = value.toLowerCase();
      if (lower === 'yes') return 1000;
      if (lower === 'no') return null;
      return parseInteger(value, `The argument needs to be either 'yes', 'no' or a number of milliseconds up to ${MAX_TIMER_MS}`, 0, MAX_TIMER_MS);
    },
  },
  {
    name: 'transparent', scope: 'service', defaultText: 'none', summary: 'transparent proxy',
    parse: (value) => {
      if (['none', 'no'].includes(value.toLowerCase())) return 'none';
      throw new OptionValueError("'transparent' is not supported by stunnelctl (Node.js cannot set IP_TRANSPARENT)");
    },
  },
  {
    name: 'libwrap', scope: 'service', defaultText: 'no', summary: 'TCP wrappers',
    parse: (value) => {
      if (parseYesNo(value)) throw new OptionValueError("'libwrap = yes' is not supported by stunnelctl");
      return false;
    },
  },
  {
    name: 'pty', scope: 'service', defaultText: 'no', summary: 'pseudo-terminal for exec',
    parse: (value) => {
      if (parseYesNo(value)) throw new OptionValueError("'pty = yes' is not supported by stunnelctl (Node.js has no pty support)");
      return false;
    },
  },
  unsupported('engineId', 'service', NOT_ON_NODE, 'engine for the private key'),
  unsupported('engineNum', 'service', NOT_ON_NODE, 'engine for the private key'),
  unsupported('CAengine', 'service', NOT_ON_NODE, 'engine trust store'),
  unsupported('CAstore', 'service', NOT_ON_NODE, 'OpenSSL store URI'),
  unsupported('OCSP', 'service', 'is not supported by stunnelctl yet', 'OCSP responder'),
  unsupported('OCSPaia', 'service', 'is not supported by stunnelctl yet', 'OCSP AIA'),
  unsupported('OCSPflag', 'service', 'is not supported by stunnelctl yet', 'OCSP flags'),
  unsupported('OCSPnonce', 'service', 'is not supported by stunnelctl yet', 'OCSP nonce'),
  unsupported('OCSPrequire', 'service', 'is not supported by stunnelctl yet', 'OCSP required'),
  unsupported('TIMEOUTocsp', 'service', 'is not supported by stunnelctl yet', 'OCSP timeout'),
  unsupported('ident', 'service', 'is not supported by stunnelctl', 'RFC 1413 ident check'),
  unsupported('sessiond', 'service', 'is not supported by stunnelctl', 'external session cache'),
  unsupported('config', 'service', NOT_ON_NODE, 'SSL_CONF_cmd'),
  unsupported('protocolAuthentication', 'service', 'is not supported by stunnelctl (only protocol = proxy is)', 'protocol authentication'),
  unsupported('protocolHost', 'service', 'is not supported by stunnelctl (only protocol = proxy is)', 'protocol host'),
  unsupported('protocolUsername', 'service', 'is not supported by stunnelctl (only protocol = proxy is)', 'protocol user'),
  unsupported('protocolPassword', 'service', 'is not supported by stunnelctl (only protocol = proxy is)', 'protocol password'),
  unsupported('protocolDomain', 'service', 'is not supported by stunnelctl (only protocol = proxy is)', 'protocol domain'),
  unsupported('protocolHeader', 'service', 'is not supported by stunnelctl (only protocol = proxy is)', 'protocol header'),
];

const OPTIONS_BY_LOWER_NAME = new Map<string, OptionSpec>(
  OPTIONS.flatMap((spec) => [spec.name, ...(spec.aliases ?? [])].map((name) => [name.toLowerCase(), spec] as const)),
);

/** Option names are case-insensitive, as in stunnel. */
export const findOption = (name: string): OptionSpec | undefined => OPTIONS_BY_LOWER_NAME.get(name.toLowerCase());
