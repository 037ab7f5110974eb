// The validated configuration: immutable, fully defaulted, paths absolute. A reload builds a new one.
import type { DebugSetting, Endpoint, SslVersion } from './values.js';
import type { SocketSetting } from './socket-options.js';
import type { TlsOptionSetting } from './tls-options.js';

export interface GlobalConfig {
  output: string | null;
  pid: string | null;
  foreground: 'yes' | 'quiet' | 'no';
  log: 'append' | 'overwrite';
  /** 0 = no limit of its own. */
  maxConnections: number;
  /** Engine processes serving connections (1 = the worker alone); not reloaded. */
  processes: number;
  /** The opt-in metrics listener; not reloaded. */
  metrics: Endpoint | null;
  setuid: string | number | null;
  setgid: string | number | null;
  /** Level of the global part (`debug` before the first section); used for non-connection lines. */
  debugLevel: number;
  /** Options accepted with no effect, to be logged once at info level. */
  noEffect: ReadonlyArray<{ option: string; reason: string }>;
}

export interface VerifySettings {
  /** Ask the peer for a certificate (server side). */
  request: boolean;
  requireCert: boolean;
  verifyChain: boolean;
  verifyPeer: boolean;
  checkHost: readonly string[];
  checkIP: readonly string[];
  checkEmail: readonly string[];
}

export interface TimeoutSettings {
  /** Seconds; negative means never. */
  busy: number;
  close: number;
  connect: number;
  idle: number;
  /** Deadline of the TLS handshake; negative = only TIMEOUTbusy applies. */
  handshake: number;
}

export interface ServiceConfig {
  name: string;
  /** Where the section starts, for messages. */
  file: string;
  line: number;
  client: boolean;
  accept: readonly Endpoint[];
  connect: readonly Endpoint[];
  redirect: readonly Endpoint[];
  failover: 'rr' | 'prio';
  delay: boolean;
  local: string | null;
  cert: string | null;
  key: string | null;
  caFile: string | null;
  caPath: string | null;
  crlFile: string | null;
  crlPath: string | null;
  verify: VerifySettings;
  ciphers: string;
  ciphersuites: string;
  curves: string;
  securityLevel: number;
  minVersion: SslVersion;
  maxVersion: SslVersion;
  tlsOptions: readonly TlsOptionSetting[];
  /** Client mode: the server name sent (null: the connect host; '' disables SNI). */
  sni: string | null;
  /** Server mode: this section is a secondary of `primary` for server names matching `pattern`. */
  sniRoute: { primary: string; pattern: string } | null;
  protocol: 'proxy' | null;
  pskSecrets: string | null;
  pskIdentity: string | null;
  sessionCacheSize: number;
  sessionCacheTimeoutSeconds: number;
  sessionResume: boolean;
  ticketKeySecret: string | null;
  ticketMacSecret: string | null;
  renegotiation: boolean;
  reset: boolean;
  timeouts: TimeoutSettings;
  /** 0 = no limit of its own. */
  maxConnections: number;
  socketOptions: readonly SocketSetting[];
  debug: DebugSetting;
  logId: 'sequential' | 'unique' | 'thread' | 'process';
  exec: string | null;
  execArgs: readonly string[];
  /** exec+connect: restart the program this long after its connection ends; null = never. */
  retryDelayMs: number | null;
}

export interface Configuration {
  /** Absolute path of the main configuration file. */
  file: string;
  global: GlobalConfig;
  services: readonly ServiceConfig[];
}
