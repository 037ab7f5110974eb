// Raw sections -> the immutable Configuration: applies stunnel's defaults, copies service options of
// the global part into every section, and checks each section as stunnel does when it is complete.
import type { Diagnostic } from './diagnostics.js';
import type { RawConfiguration, RawOptions, RawSection, RawValue } from './parse.js';
import type { SocketSetting } from './socket-options.js';
import type { Configuration, GlobalConfig, ServiceConfig, VerifySettings } from './types.js';
import type { DebugSetting, Endpoint, SslVersion } from './values.js';
import { findOption, MAX_ENGINE_PROCESSES, OPTIONS } from './options.js';
import { availableParallelism } from 'node:os';
import {
  DEFAULT_CIPHERS, DEFAULT_CIPHERSUITES, DEFAULT_CURVES, DEFAULT_DEBUG_LEVEL, DEFAULT_HANDSHAKE_TIMEOUT_SECONDS, DEFAULT_MIN_VERSION,
} from './defaults.js';
import { checkTlsMaterial } from './tls-material.js';
import type { TlsOptionSetting } from './tls-options.js';

const SUPPORTED_PROTOCOLS = new Set(['proxy']);
const STUNNEL_PROTOCOLS = new Set(['cifs', 'capwin', 'capwinctrl', 'connect', 'imap', 'ldap', 'nntp', 'pgsql', 'pop3', 'proxy', 'smtp', 'socks']);
const VERSION_ORDER: readonly SslVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** A section's options with the global part's service options underneath (stunnel's CMD_SET_COPY). */
class SectionView {
  private readonly own: RawOptions;
  private readonly inherited: RawOptions;

  constructor(own: RawOptions, inherited: RawOptions) {
    this.own = own;
    this.inherited = inherited;
  }

  entries(name: string): RawValue[] {
    const spec = findOption(name);
    const own = this.own.get(name) ?? [];
    const inherited = this.inherited.get(name) ?? [];
    if (spec?.repeatable === true) return [...inherited, ...own];
    return own.length > 0 ? own : inherited;
  }

  last<T>(name: string): T | undefined {
    const entries = this.entries(name);
    return entries.length === 0 ? undefined : (entries[entries.length - 1]?.value as T);
  }

  all<T>(name: string): T[] {
    return this.entries(name).map((entry) => entry.value as T);
  }

  has(name: string): boolean {
    return this.entries(name).length > 0;
  }
}

export const validateConfiguration = (
  raw: RawConfiguration,
  file: string,
): { config: Configuration | undefined; diagnostics: Diagnostic[] } => {
  const diagnostics: Diagnostic[] = [];
  const global = buildGlobal(raw.global);
  if (raw.sections.length === 0) {
    diagnostics.push({
      file, line: null, raw: null, scope: 'Inetd mode',
      message: 'a configuration without any [service] section (inetd mode) is not supported by stunnelctl; add a section with accept and connect',
    });
  }
  const services = raw.sections.map((section) => buildService(section, raw.global, global, diagnostics));
  for (const service of services) {
    if (service.sniRoute === null) continue;
    const primary = services.find((candidate) => candidate.name === service.sniRoute?.primary && candidate.sniRoute === null);
    const at = { file: service.file, line: service.line, raw: `[${service.name}]` };
    if (primary === undefined) diagnostics.push({ ...at, message: `Service [${service.name}]: SNI section name not found` });
    else if (primary.client) diagnostics.push({ ...at, message: `Service [${service.name}]: SNI primary service is a TLS client` });
  }
  return { config: diagnostics.length === 0 ? { file, global, services } : undefined, diagnostics };
};

const globalValue = <T>(options: RawOptions, name: string): T | undefined => {
  const entries = options.get(name);
  return entries === undefined || entries.length === 0 ? undefined : (entries[entries.length - 1]?.value as T);
};

const buildGlobal = (options: RawOptions): GlobalConfig => {
  const noEffect = OPTIONS.filter((spec) => spec.noEffect !== undefined && options.has(spec.name)).map((spec) => ({
    option: spec.name,
    reason: spec.noEffect ?? '',
  }));
  return {
    output: globalValue<string>(options, 'output') ?? null,
    pid: globalValue<string | null>(options, 'pid') ?? null,
    foreground: globalValue<'yes' | 'quiet' | 'no'>(options, 'foreground') ?? 'no',
    log: globalValue<'append' | 'overwrite'>(options, 'log') ?? 'append',
    maxConnections: globalValue<number>(options, 'maxConnections') ?? 0,
    metrics: globalValue<Endpoint>(options, 'metrics') ?? null,
    processes: globalValue<number>(options, 'processes') ?? Math.min(availableParallelism(), MAX_ENGINE_PROCESSES),
    setuid: globalValue<string | number>(options, 'setuid') ?? null,
    setgid: globalValue<string | number>(options, 'setgid') ?? null,
    debugLevel: globalValue<DebugSetting>(options, 'debug')?.level ?? DEFAULT_DEBUG_LEVEL,
    noEffect,
  };
};

const resolveVersion = (value: SslVersion | 'all' | undefined, fallback: SslVersion): SslVersion =>
  value === undefined ? fallback : value === 'all' ? (fallback === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1') : value;

const buildVerify = (view: SectionView): VerifySettings => {
  const level = view.last<number>('verify');
  const byLevel = {
    request: level !== undefined,
    requireCert: level !== undefined && level >= 2,
    verifyChain: level !== undefined && level >= 1 && level <= 3,
    verifyPeer: level !== undefined && level >= 3,
  };
  const verifyChain = view.last<boolean>('verifyChain') ?? byLevel.verifyChain;
  const verifyPeer = view.last<boolean>('verifyPeer') ?? byLevel.verifyPeer;
  // verifyChain / verifyPeer given as options imply requireCert, as in stunnel 5.
  const impliedRequire = view.last<boolean>('verifyChain') === true || view.last<boolean>('verifyPeer') === true;
  const requireCert = view.last<boolean>('requireCert') ?? (byLevel.requireCert || impliedRequire);
  return {
    request: byLevel.request || verifyChain || verifyPeer || requireCert,
    requireCert,
    verifyChain,
    verifyPeer,
    checkHost: view.all<string>('checkHost'),
    checkIP: view.all<string>('checkIP'),
    checkEmail: view.all<string>('checkEmail'),
  };
};

const buildService = (
  section: RawSection,
  inherited: RawOptions,
  global: GlobalConfig,
  diagnostics: Diagnostic[],
): ServiceConfig => {
  const view = new SectionView(section.options, inherited);
  const fail = (message: string): void => {
    diagnostics.push({ file: section.file, line: section.line, raw: `[${section.name}]`, message: `Service [${section.name}]: ${message}` });
  };
  const client = view.last<boolean>('client') ?? false;
  const sslVersion = view.last<SslVersion | 'all'>('sslVersion');
  const minVersion = resolveVersion(view.last('sslVersionMin') ?? sslVersion, DEFAULT_MIN_VERSION);
  const maxVersion = resolveVersion(view.last('sslVersionMax') ?? sslVersion, 'TLSv1.3');
  const verify = buildVerify(view);
  const protocolText = view.last<string>('protocol');
  const protocol = protocolText === undefined ? null : protocolText.toLowerCase();
  const cert = view.last<string>('cert') ?? null;
  const accept = view.all<Endpoint>('accept');
  const connect = view.all<Endpoint>('connect');
  const exec = view.last<string>('exec') ?? null;
  const debug = view.last<DebugSetting>('debug') ?? { level: global.debugLevel, facility: null };
  const socketOptions: SocketSetting[] = [
    { side: 'l', option: 'TCP_NODELAY', enabled: true },
    { side: 'r', option: 'TCP_NODELAY', enabled: true },
    ...view.all<SocketSetting>('socket'),
  ];
  const execArgsText = view.last<string>('execArgs');

  const sniText = view.last<string>('sni');
  let sniRoute: ServiceConfig['sniRoute'] = null;
  if (!client && sniText !== undefined) {
    const colon = sniText.indexOf(':');
    if (colon <= 0 || colon === sniText.length - 1) fail('Invalid SNI parameter format');
    else sniRoute = { primary: sniText.slice(0, colon), pattern: sniText.slice(colon + 1) };
  }
  // A server-mode SNI secondary is reached through its primary's listener: it needs no accept.
  // stunnel counts endpoints: any two of accept, connect, exec, SNI secondary.
  const endpoints = (accept.length > 0 ? 1 : 0) + (sniRoute === null ? 0 : 1) + (connect.length > 0 ? 1 : 0) + (exec === null ? 0 : 1);
  if (endpoints < 2) fail('Each service must define two endpoints');
  if (!client && cert === null && !view.has('PSKsecrets')) fail('TLS server needs a certificate');
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) fail('Invalid protocol version range');
  if ((verify.verifyChain || verify.verifyPeer) && !view.has('CAfile') && !view.has('CApath')) {
    fail('Either "CAfile" or "CApath" has to be configured');
  }
  const hasSubjectChecks = verify.checkHost.length + verify.checkIP.length + verify.checkEmail.length > 0;
  if (hasSubjectChecks && !verify.verifyChain && !verify.verifyPeer) fail('Either "verifyChain" or "verifyPeer" has to be enabled');
  if (view.has('redirect') && client) fail('"redirect" is unsupported in client sections');
  if (view.has('redirect') && !client && !verify.verifyChain && !verify.verifyPeer) {
    fail('Either "verifyChain" or "verifyPeer" has to be enabled for "redirect" to work');
  }
  if (view.has('ticketKeySecret') !== view.has('ticketMacSecret')) fail('"ticketKeySecret" and "ticketMacSecret" must be set together');
  if (protocol !== null) {
    if (!STUNNEL_PROTOCOLS.has(protocol)) fail('Protocol not supported');
    else if (!SUPPORTED_PROTOCOLS.has(protocol)) fail(`"protocol = ${protocol}" is not supported by stunnelctl (only "proxy" is)`);
    else if (client) fail('The configured protocol is not supported in the client mode');
  }
  if (endpoints > 2) fail('Each service must define two endpoints');
  if (exec !== null && connect.length === 0 && client) fail('"exec" with "accept" is supported in server sections only (TLS in, local program out)');

  const service: ServiceConfig = {
    name: section.name,
    file: section.file,
    line: section.line,
    client,
    accept,
    connect,
    redirect: view.all<Endpoint>('redirect'),
    // stunnel: "Delayed resolver inflicts failover = prio".
    failover: view.last<boolean>('delay') === true ? 'prio' : view.last<'rr' | 'prio'>('failover') ?? 'prio',
    delay: view.last<boolean>('delay') ?? false,
    local: view.last<string>('local') ?? null,
    cert,
    key: view.last<string>('key') ?? cert,
    caFile: view.last<string>('CAfile') ?? null,
    caPath: view.last<string>('CApath') ?? null,
    crlFile: view.last<string>('CRLfile') ?? null,
    crlPath: view.last<string>('CRLpath') ?? null,
    verify,
    ciphers: view.last<string>('ciphers') ?? DEFAULT_CIPHERS,
    ciphersuites: view.last<string>('ciphersuites') ?? DEFAULT_CIPHERSUITES,
    curves: view.last<string>('curves') ?? DEFAULT_CURVES,
    securityLevel: view.last<number>('securityLevel') ?? 2,
    minVersion,
    maxVersion,
    tlsOptions: view.all<TlsOptionSetting>('options'),
    sni: client ? (view.last<string>('sni') ?? null) : null,
    sniRoute,
    protocol: protocol === 'proxy' ? 'proxy' : null,
    pskSecrets: view.last<string>('PSKsecrets') ?? null,
    pskIdentity: view.last<string>('PSKidentity') ?? null,
    sessionCacheSize: view.last<number>('sessionCacheSize') ?? 1000,
    sessionCacheTimeoutSeconds: view.last<number>('sessionCacheTimeout') ?? 300,
    sessionResume: view.last<boolean>('sessionResume') ?? true,
    ticketKeySecret: view.last<string>('ticketKeySecret') ?? null,
    ticketMacSecret: view.last<string>('ticketMacSecret') ?? null,
    renegotiation: view.last<boolean>('renegotiation') ?? true,
    reset: view.last<boolean>('reset') ?? true,
    timeouts: {
      busy: view.last<number>('TIMEOUTbusy') ?? 300,
      close: view.last<number>('TIMEOUTclose') ?? 60,
      connect: view.last<number>('TIMEOUTconnect') ?? 10,
      idle: view.last<number>('TIMEOUTidle') ?? 43200,
      handshake: view.last<number>('TIMEOUThandshake') ?? DEFAULT_HANDSHAKE_TIMEOUT_SECONDS,
    },
    maxConnections: view.last<number>('serviceMaxConnections') ?? 0,
    socketOptions,
    debug,
    logId: view.last<ServiceConfig['logId']>('logId') ?? 'sequential',
    exec,
    execArgs: execArgsText === undefined ? (exec === null ? [] : [exec]) : execArgsText.split(/\s+/).filter(Boolean),
    retryDelayMs: view.last<number | null>('retry') ?? null,
  };
  for (const problem of checkTlsMaterial(service)) {
    const entry = problem.option === null ? undefined : view.entries(problem.option).at(-1);
    if (entry === undefined) fail(problem.message);
    else diagnostics.push({ file: entry.file, line: entry.line, raw: entry.raw, message: problem.message });
  }
  return service;
};
