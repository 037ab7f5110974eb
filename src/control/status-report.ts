// `status`: what an operator (or a monitoring script, with --json) needs to know about a home's
// worker, read from the pid file, the state file and /proc; never from a signal.
import { getSystemErrorCode, isStunnelctlError } from '../errors.js';
import type { ReloadResult, ServiceState } from '../worker/state-file.js';
import { readCertificateExpiry, type CertificateExpiry } from './certificate-expiry.js';
import { locateWorkerFiles, type WorkerLocation } from './configuration.js';
import { findHome, type Home } from './home.js';
import { DEFAULT_LEVEL, DEFAULT_NAMING_SCHEME, createHomeFiles, type HomeFiles } from './home-naming.js';
import { inspectWorker, type WorkerPresence } from './worker-presence.js';

export type StatusState = 'running' | 'dead' | 'stopped' | 'unknown';

/** A service as the worker publishes it, with its certificate's expiry (null: no certificate, e.g. client mode). */
export interface ServiceStatus extends ServiceState {
  certificate: CertificateExpiry | null;
}

export interface StatusFiles {
  home: string;
  config: string;
  pid: string;
  state: string;
  log: string;
  syslst: string;
  jobFile: string;
  jobClasses: string;
  testPem: string;
  serverPem: string;
}

export interface StatusReport {
  state: StatusState;
  /** Why the state is what it is, in words (for dead / unknown, and notes on a running worker). */
  detail: string | null;
  pid: number | null;
  uptimeSeconds: number | null;
  jobClass: string | null;
  configFile: string;
  configGeneration: number | null;
  /** Pids of the engine processes; empty when the worker serves alone; null when not running. */
  engineProcesses: number[] | null;
  lastReload: ReloadResult | null;
  services: ServiceStatus[];
  connections: { active: number; total: number };
  files: StatusFiles;
}

const createStatusFiles = (files: HomeFiles, pid: string, state: string, log: string | null): StatusFiles => ({
  home: files.home,
  config: files.config,
  pid,
  state,
  log: log ?? files.log,
  syslst: files.syslst,
  jobFile: files.jobFile,
  jobClasses: files.jobClasses,
  testPem: files.testPem,
  serverPem: files.serverPem,
});

const createIdleReport = (files: StatusFiles, state: StatusState, detail: string | null, pid: number | null): StatusReport => ({
  state,
  detail,
  pid,
  uptimeSeconds: null,
  jobClass: null,
  configFile: files.config,
  configGeneration: null,
  engineProcesses: null,
  lastReload: null,
  services: [],
  connections: { active: 0, total: 0 },
  files,
});

const describePresence = (presence: Exclude<WorkerPresence, { kind: 'running' | 'stopped' }>, pidPath: string): string => {
  if (presence.kind === 'dead') return `the pid file ${pidPath} names pid ${presence.pid}, which is gone`;
  if (presence.kind === 'foreign') return `the pid file ${pidPath} names pid ${presence.pid}, but ${presence.reason}`;
  return `the pid file ${pidPath} holds no pid (${JSON.stringify(presence.text)})`;
};

/** Each service with the expiry of its certificate; a file shared by several services is read once. */
const addCertificateExpiry = (services: readonly ServiceState[], now: Date): ServiceStatus[] => {
  const byFile = new Map<string, CertificateExpiry>();
  const expiryOf = (file: string): CertificateExpiry => {
    const known = byFile.get(file) ?? readCertificateExpiry(file, now);
    byFile.set(file, known);
    return known;
  };
  return services.map((service) => ({ ...service, certificate: service.cert === null ? null : expiryOf(service.cert) }));
};

export const collectStatus = (homeDirectory: string, now: Date = new Date()): StatusReport => {
  const defaultFiles = createHomeFiles(homeDirectory, { scheme: DEFAULT_NAMING_SCHEME, level: DEFAULT_LEVEL });
  const unknown = (detail: string): StatusReport =>
    createIdleReport(createStatusFiles(defaultFiles, defaultFiles.pid, defaultFiles.state, null), 'unknown', detail, null);
  let home: Home | undefined;
  try {
    home = findHome(homeDirectory);
  } catch (error) {
    if (!isStunnelctlError(error)) throw error;
    return unknown(error.message);
  }
  if (home === undefined) return unknown(`no stunnelctl home in ${homeDirectory}`);
  const { files } = home;
  let location: WorkerLocation;
  let presence: WorkerPresence;
  try {
    location = locateWorkerFiles(files.config, { pid: files.pid, log: files.log });
    presence = inspectWorker(location);
  } catch (error) {
    // The configuration, the pid file or /proc unreadable (EACCES...): the state cannot be known (exit 4).
    const reason = isStunnelctlError(error) ? error.message : `${getSystemErrorCode(error) ?? String(error)}`;
    return createIdleReport(createStatusFiles(files, files.pid, files.state, null), 'unknown', `cannot inspect the worker: ${reason}`, null);
  }
  const statusFiles = createStatusFiles(files, location.pidPath, location.statePath, location.logPath);
  if (presence.kind === 'stopped') return createIdleReport(statusFiles, 'stopped', null, null);
  if (presence.kind === 'dead' || presence.kind === 'foreign') {
    return createIdleReport(statusFiles, 'dead', describePresence(presence, location.pidPath), presence.pid);
  }
  if (presence.kind === 'invalid') return createIdleReport(statusFiles, 'unknown', describePresence(presence, location.pidPath), null);
  const { state } = presence;
  const startedAt = Date.parse(state.startedAt);
  return {
    state: 'running',
    detail: presence.pidFileMissing ? `the pid file ${location.pidPath} is missing; the worker was found through its state file` : null,
    pid: presence.pid,
    uptimeSeconds: Number.isNaN(startedAt) ? null : Math.max(0, Math.floor((now.getTime() - startedAt) / 1000)),
    jobClass: state.jobClass,
    configFile: files.config,
    configGeneration: state.configGeneration,
    // A state file written before engine processes existed has no such field.
    engineProcesses: state.engineProcesses ?? [],
    lastReload: state.lastReload,
    services: addCertificateExpiry(state.services, now),
    connections: {
      active: state.services.reduce((sum, service) => sum + service.active, 0),
      total: state.services.reduce((sum, service) => sum + service.total, 0),
    },
    files: statusFiles,
  };
};
