// The two implementations under test and how one of them is run on a generated configuration:
// the same stunnel-language file for both (foreground, absolute pid file, log file, debug = notice),
// started through the fd-limit wrapper and ready once the pid file names the process.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildPaths } from './build-snapshot.js';
import { LOOPBACK } from './ports.js';
import { startProcess, type BenchProcess } from './processes.js';

export type ImplementationName = 'stunnel' | 'stunnelctl';
export const IMPLEMENTATIONS: readonly ImplementationName[] = ['stunnel', 'stunnelctl'];

/** The project root, from dist/bench/proxies.js. */
export const PROJECT_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const STUNNEL_BINARY = '/usr/bin/stunnel4';

const READY_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 20;

export type TlsVersion = 'TLSv1.3' | 'TLSv1.2';

export interface TlsSettings {
  version: TlsVersion;
  /** TLS 1.2 cipher list (`ciphers`). */
  ciphers?: string;
  /** TLS 1.3 suites (`ciphersuites`). */
  ciphersuites?: string;
}

export interface ServiceSpec {
  name: string;
  acceptPort: number;
  connectPort: number;
  client: boolean;
  /** PEM with key and certificate (server mode). */
  cert?: string;
  tls: TlsSettings;
}

export interface ProxyStartOptions {
  /** Run directory; the configuration, pid file and log of this start go there. */
  dir: string;
  /** The stunnelctl build under test. */
  build: BuildPaths;
  /** Unique within the run: names the files. */
  tag: string;
  services: readonly ServiceSpec[];
  /** stunnelctl only: write a V8 CPU profile of every worker process into this directory. */
  cpuProfileDir?: string;
  /** stunnelctl only: its `processes` line (stunnel has no such option); undefined: none. */
  processes?: number;
}

export interface RunningProxy {
  implementation: ImplementationName;
  process: BenchProcess;
  logFile: string;
  /** TERM, `graceMs` (default 5 s) to exit, then KILL. */
  stop: (graceMs?: number) => Promise<void>;
}

/** One configuration text, read by both implementations. */
export const formatProxyConfig = (pidFile: string, logFile: string, services: readonly ServiceSpec[], extraGlobal: readonly string[] = []): string => {
  const lines = [
    `pid = ${pidFile}`,
    `output = ${logFile}`,
    'foreground = yes',
    'debug = notice',
    ...extraGlobal,
  ];
  for (const service of services) {
    lines.push('', `[${service.name}]`, `accept = ${LOOPBACK}:${service.acceptPort}`, `connect = ${LOOPBACK}:${service.connectPort}`);
    if (service.client) lines.push('client = yes');
    if (service.cert !== undefined) lines.push(`cert = ${service.cert}`);
    lines.push(`sslVersion = ${service.tls.version}`);
    if (service.tls.ciphers !== undefined) lines.push(`ciphers = ${service.tls.ciphers}`);
    if (service.tls.ciphersuites !== undefined) lines.push(`ciphersuites = ${service.tls.ciphersuites}`);
  }
  return `${lines.join('\n')}\n`;
};

/** `stunnelctl run CONF` through the CLI once it exists, else through the worker's entry. */
const stunnelctlCommand = (build: BuildPaths, configFile: string, cpuProfileDir: string | undefined): string[] => {
  const profile = cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`];
  if (existsSync(build.cliEntry)) return [...profile, build.cliEntry, 'run', configFile];
  const script = `import(${JSON.stringify(build.workerEntry)}).then((m) => m.runWorkerProcess([${JSON.stringify(configFile)}]))`;
  return [...profile, '--input-type=module', '-e', script];
};

const readPid = (pidFile: string): number | undefined => {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

/** Both write the pid file after every `accept` is bound: it is the readiness signal. */
const waitUntilReady = async (proxy: BenchProcess, pidFile: string, logFile: string): Promise<void> => {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proxy.hasExited) throw new Error(`${proxy.name} exited during start-up (${JSON.stringify(proxy.status)}); see ${logFile}`);
    if (readPid(pidFile) === proxy.pid) return;
    await new Promise((resolveWait) => setTimeout(resolveWait, READY_POLL_MS));
  }
  throw new Error(`${proxy.name} did not write its pid file ${pidFile} within ${READY_TIMEOUT_MS} ms; see ${logFile}`);
};

export const startProxy = async (implementation: ImplementationName, options: ProxyStartOptions): Promise<RunningProxy> => {
  const base = join(options.dir, `${implementation}-${options.tag}`);
  const configFile = `${base}.conf`;
  const pidFile = `${base}.pid`;
  const logFile = `${base}.log`;
  const extraGlobal = implementation === 'stunnelctl' && options.processes !== undefined ? [`processes = ${options.processes}`] : [];
  writeFileSync(configFile, formatProxyConfig(pidFile, logFile, options.services, extraGlobal));
  const [file, args] = implementation === 'stunnel'
    ? [STUNNEL_BINARY, [configFile]]
    : [process.execPath, stunnelctlCommand(options.build, configFile, options.cpuProfileDir)];
  const proxy = startProcess(`${implementation}[${options.tag}]`, file, args, { logFile: `${base}.stderr` });
  try {
    await waitUntilReady(proxy, pidFile, `${base}.stderr`);
  } catch (error) {
    await proxy.stop();
    throw error;
  }
  return { implementation, process: proxy, logFile, stop: (graceMs) => proxy.stop(graceMs) };
};
