// The worker's life: configure, bind, open the log, write the pid file, serve, and handle the signal
// table (reload, reopen log, dump connections, stop) one at a time. Publishes the state file that
// the CLI reads.
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { setDefaultHighWaterMark } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { formatDiagnostic } from '../config/load.js';
import type { Configuration } from '../config/types.js';
import { getSystemErrorCode } from '../errors.js';
import { Logger } from '../log/logger.js';
import { EngineError, ProxyEngine } from '../proxy/engine.js';
import { formatSystemError } from '../proxy/system-error.js';
import { setSignalDispatcher, type WorkerAction } from './signals.js';
import {
  createInitialState, readProcessStartTicks, removeFileIfPresent, stateFilePathFor, stopRequestPathFor, takeStopRequest, writeFileAtomic,
  writeStateFile, type WorkerState,
} from './state-file.js';
import { ENGINE_BANNER, TLS_BANNER } from './version.js';
import { loadFrom, type ConfigSource } from './config-source.js';
import { EnginePool } from './engine-pool.js';
import { RELAY_HIGH_WATER_MARK_BYTES } from './relay-tuning.js';
import type { ConnectionInfo } from './state-file.js';
import { startMetricsListener } from './metrics.js';
import type { Server } from 'node:http';
import { formatEndpoint, type Endpoint } from '../config/values.js';

const formatNullableEndpoint = (endpoint: Endpoint | null): string => (endpoint === null ? 'none' : formatEndpoint(endpoint));

export type { ConfigSource } from './config-source.js';

/** Any long period: the interval only holds the event loop open. */
const KEEP_ALIVE_INTERVAL_MS = 60 * 60 * 1000;
/** The reload result in the state file is for the operator's eyes: a bounded summary. */
const MAX_RELOAD_MESSAGE_LENGTH = 4096;
/** Counters change with every connection; the state file is rewritten at most this often for them. */
const STATE_PUBLISH_INTERVAL_MS = 1000;

/** `file <realpath>` as stunnel logs it, or `descriptor N`. */
const describeSource = (source: ConfigSource): string => {
  if (source.kind === 'text') return source.name;
  try {
    return `file ${realpathSync(source.path)}`;
  } catch (error) {
    if (getSystemErrorCode(error) === undefined) throw error;
    return `file ${source.path}`;
  }
};

/** A pid file that names a live `stunnelctl run` process belongs to another worker: never take it over. */
const findLiveOwner = (pidPath: string): number | undefined => {
  let text: string;
  try {
    text = readFileSync(pidPath, 'utf8');
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes('run') ? pid : undefined;
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
};

class Worker {
  private readonly source: ConfigSource;
  private readonly logger = new Logger();
  private readonly engine: ProxyEngine;
  /** The worker's secret for session tickets, shared with its engine processes. */
  private readonly ticketSeed = randomBytes(32);
  /** The engine processes (`processes` > 1); undefined when the worker serves alone. */
  private pool: EnginePool | undefined;
  private config!: Configuration;
  private state!: WorkerState;
  private statePath: string | null = null;
  private pidPath: string | null = null;
  private logId = 'ui';
  private publishTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private keepAlive: NodeJS.Timeout | undefined;
  private metricsServer: Server | undefined;
  private actions: Promise<void> = Promise.resolve();
  private resolveStopped!: (code: number) => void;
  readonly stopped = new Promise<number>((resolve) => {
    this.resolveStopped = resolve;
  });

  constructor(source: ConfigSource) {
    this.source = source;
    this.engine = new ProxyEngine(this.logger, { ticketSeed: this.ticketSeed });
    this.engine.onActivity = () => this.schedulePublish();
  }

  private log(level: number, text: string): void {
    this.logger.log(level, this.logId, text);
  }

  /** Returns an exit code when start-up fails, undefined once serving. */
  async start(): Promise<number | undefined> {
    this.log(5, ENGINE_BANNER);
    this.log(5, TLS_BANNER);
    this.log(5, `Reading configuration from ${describeSource(this.source)}`);
    const loaded = loadFrom(this.source);
    if (loaded.config === undefined) {
      for (const diagnostic of loaded.diagnostics) this.log(3, formatDiagnostic(diagnostic));
      this.log(3, 'Configuration failed');
      this.logger.dumpStartupLinesToStderr();
      return 1;
    }
    const config = loaded.config;
    this.config = config;
    this.logger.globalLevel = config.global.debugLevel;
    this.logId = config.global.foreground === 'no' ? 'main' : 'ui';
    this.engine.logId = this.logId;
    this.log(5, 'Configuration successful');
    for (const { option, reason } of config.global.noEffect) this.log(6, `Option "${option}" accepted with no effect: ${reason}`);

    const owner = config.global.pid === null ? undefined : findLiveOwner(config.global.pid);
    if (owner !== undefined) {
      this.log(3, `Pid file ${config.global.pid ?? ''} belongs to the running worker ${owner}: stop it first`);
      this.logger.dumpStartupLinesToStderr();
      return 1;
    }
    // The state exists before the engine starts (exec+connect services count from the first moment);
    // it is published once the pid and state paths are known.
    this.state = createInitialState({
      pid: process.pid,
      processStartTicks: readProcessStartTicks(process.pid),
      configFile: config.file,
      jobClass: process.env.STUNNELCTL_JOB_CLASS ?? null,
      logFile: config.global.output,
    });
    if (config.global.processes > 1) {
      const failed = await this.startPool(config);
      if (failed !== undefined) return failed;
    }
    try {
      await this.engine.start(config);
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      // The engine has logged the reason in stunnel's words already.
      await this.pool?.stop();
      this.logger.dumpStartupLinesToStderr();
      return 1;
    }
    if (config.global.metrics !== null) {
      try {
        this.metricsServer = await startMetricsListener(config.global.metrics, { engine: this.engine, state: () => this.state });
        this.log(6, `Metrics listener bound to ${formatEndpoint(config.global.metrics)}`);
      } catch (error) {
        this.log(3, `Binding the metrics listener to ${formatEndpoint(config.global.metrics)}: ${formatSystemError(error)}`);
        return this.abortStart();
      }
    }
    this.dropPrivileges(config);
    this.logger.open({ file: config.global.output, mode: config.global.log, stderr: config.global.foreground === 'yes' || config.global.output === null });
    this.pidPath = config.global.pid;
    this.statePath = this.pidPath === null ? null : stateFilePathFor(this.pidPath);
    // The state file first, then the pid file: the CLI treats the pid file as "ready", and by then
    // the state it will read to prove the pid must already exist.
    this.publishState();
    if (this.pidPath !== null) {
      try {
        writeFileAtomic(this.pidPath, `${process.pid}\n`);
      } catch (error) {
        // As stunnel: no pid file, no worker (the operator's procedures find the worker by it).
        this.log(3, `Cannot create pid file ${this.pidPath}`);
        this.log(3, `create: ${formatSystemError(error)}`);
        return this.abortStart();
      }
      this.log(7, `Created pid file ${this.pidPath}`);
    }
    this.log(6, 'Accepting new connections');
    this.logger.flush();
    // Signal handlers do not keep Node's loop alive: a worker whose services are all exec+connect
    // has no listener, and would exit when its last connection ended. It lives until told to stop.
    this.keepAlive = setInterval(() => undefined, KEEP_ALIVE_INTERVAL_MS);
    setSignalDispatcher((signal, action) => this.enqueue(signal, action));
    return undefined;
  }

  /** A start that failed after binding: everything started so far stops, the lines go to stderr, exit 1. */
  private async abortStart(): Promise<number> {
    this.engine.stop();
    await this.pool?.stop();
    await new Promise((resolve) => (this.metricsServer === undefined ? resolve(undefined) : this.metricsServer.close(resolve)));
    if (this.statePath !== null) rmSync(this.statePath, { force: true });
    this.logger.dumpStartupLinesToStderr();
    return 1;
  }

  /** Forks the engine processes; they are ready (configuration loaded) before any listener is bound. */
  private async startPool(config: Configuration): Promise<number | undefined> {
    const pool = new EnginePool({
      count: config.global.processes,
      logger: this.logger,
      logId: this.logId,
      ticketSeed: this.ticketSeed,
      counters: this.engine.counters,
      nextSequentialId: () => this.engine.nextSequentialId(),
      onActivity: () => this.schedulePublish(),
      currentServices: () => this.engine.currentServices(),
    });
    this.pool = pool;
    this.engine.placer = pool;
    try {
      await pool.start(this.source, this.state.configGeneration);
    } catch (error) {
      this.log(3, `Starting ${config.global.processes} engine processes failed: ${error instanceof Error ? error.message : String(error)}`);
      this.logger.dumpStartupLinesToStderr();
      return 1;
    }
    this.log(6, `${config.global.processes} engine processes serve the connections: pids ${pool.pids.join(', ')}`);
    return undefined;
  }

  private dropPrivileges(config: Configuration): void {
    if (config.global.setgid !== null) process.setgid?.(config.global.setgid);
    if (config.global.setuid !== null) process.setuid?.(config.global.setuid);
  }

  /** Signals are handled strictly one after another: a reload never overlaps a stop. */
  private enqueue(signal: NodeJS.Signals, action: WorkerAction): void {
    // A second stop signal during a drain must not wait behind it: it ends the drain now.
    if (action === 'stop' && this.draining) {
      this.log(5, `Received ${signal} while draining: ending the remaining connections now`);
      this.engine.stop();
      this.pool?.stopNow();
      return;
    }
    this.actions = this.actions.then(() => this.handle(signal, action)).catch((error: unknown) => {
      this.log(3, `Handling ${signal} failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  private async handle(signal: NodeJS.Signals, action: WorkerAction): Promise<void> {
    switch (action) {
      case 'reload':
        await this.reload();
        return;
      case 'reopen-log':
        this.logger.reopen();
        this.log(5, 'Log file reopened');
        this.logger.flush();
        this.state.logReopenSeq += 1;
        this.publishState();
        return;
      case 'dump-connections':
        await this.dumpConnections();
        return;
      case 'stop':
        await this.stop(signal);
        return;
    }
  }

  private async reload(): Promise<void> {
    const seq = this.state.reloadSeq + 1;
    const result = (ok: boolean, message: string): void => {
      this.state.reloadSeq = seq;
      this.state.lastReload = { seq, at: new Date().toISOString(), ok, message };
      if (ok) this.state.configGeneration += 1;
      this.publishState();
    };
    this.log(5, `Reading configuration from ${describeSource(this.source)}`);
    if (this.source.kind === 'text') {
      this.log(3, 'Failed to reload the configuration file: it was read from a descriptor');
      result(false, 'the configuration was read from a file descriptor and cannot be re-read');
      return;
    }
    const loaded = loadFrom(this.source);
    if (loaded.config === undefined) {
      for (const diagnostic of loaded.diagnostics) this.log(3, formatDiagnostic(diagnostic));
      this.log(3, 'Configuration failed');
      this.log(3, 'Failed to reload the configuration file');
      const message = loaded.diagnostics.map(formatDiagnostic).join('; ');
      result(false, message.length <= MAX_RELOAD_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_RELOAD_MESSAGE_LENGTH)}... (${loaded.diagnostics.length} problem(s))`);
      return;
    }
    const generation = this.state.configGeneration + 1;
    const pool = this.pool;
    if (pool !== undefined) {
      const problem = await pool.prepare(this.source, generation);
      if (problem !== undefined) {
        this.log(3, `Engine processes could not load the configuration: ${problem}`);
        this.log(3, 'Failed to reload the configuration file');
        result(false, `${problem}; the previous configuration keeps serving`);
        return;
      }
    }
    try {
      await this.engine.reload(loaded.config);
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      pool?.abort(generation);
      this.log(3, 'Failed to reload the configuration file');
      result(false, `${error.message}; the previous configuration keeps serving`);
      return;
    }
    // The listeners serve the new services from the next accept on; the processes switch first.
    pool?.commit(this.source, generation);
    const previous = this.config.global;
    const next = loaded.config.global;
    if (formatNullableEndpoint(next.metrics) !== formatNullableEndpoint(previous.metrics)) {
      this.log(4, 'The metrics listener is not reloaded: restart to change it');
    }
    if (next.processes !== previous.processes) {
      this.log(4, `The number of engine processes is not reloaded: keeping ${previous.processes} (restart to change it)`);
    }
    if (next.pid !== previous.pid) this.log(4, `The pid file is not reloaded: keeping ${previous.pid ?? 'none'} (restart to change it)`);
    this.config = loaded.config;
    this.logger.globalLevel = next.debugLevel;
    this.logger.retarget({ file: next.output, mode: next.log, stderr: previous.foreground === 'yes' || next.output === null });
    this.state.logFile = next.output;
    this.log(5, 'Configuration successful');
    result(true, `configuration generation ${this.state.configGeneration + 1} serving`);
  }

  private async dumpConnections(): Promise<void> {
    const own = this.engine.connections();
    const placed: ConnectionInfo[] = this.pool === undefined ? [] : await this.pool.connections();
    // Newest first, as stunnel lists them, whichever process serves them.
    const connections = [...own, ...placed].sort((a, b) => a.ageMs - b.ageMs);
    this.log(0, 'Active connections:');
    connections.forEach((connection, index) => {
      this.log(
        0,
        `Active connection ${index + 1}: Service [${connection.service}], ${connection.bytesToTls} byte(s) sent to TLS, ` +
          `${connection.bytesToSocket} byte(s) sent to socket, id ${connection.id}, peer ${connection.peer}, ` +
          `target ${connection.target ?? 'none'}, ${connection.tlsVersion ?? 'no TLS yet'} ${connection.cipher ?? ''}, ` +
          `age ${Math.round(connection.ageMs / 1000)}s, idle ${Math.round(connection.idleMs / 1000)}s`,
      );
    });
    this.log(0, `Listed ${connections.length} active connection(s)`);
    this.logger.flush();
    this.state.connections = connections;
    this.state.connectionsAt = new Date().toISOString();
    this.state.connDumpSeq += 1;
    this.publishState();
  }

  private async stop(signal: NodeJS.Signals): Promise<void> {
    if (this.state.status === 'stopping') return;
    const request = this.pidPath === null ? undefined : takeStopRequest(stopRequestPathFor(this.pidPath));
    if (signal === 'SIGTERM') this.log(5, 'Terminated');
    else this.log(3, `Received ${signal}; terminating`);
    let count: number;
    if (request !== undefined && request.drainSeconds > 0) {
      this.log(5, `Draining ${this.engine.activeConnections} connection(s) for up to ${request.drainSeconds} s; no new connections accepted`);
      this.state.status = 'stopping';
      this.publishStateNow();
      this.draining = true;
      const drainMs = request.drainSeconds * 1000;
      const [own, placed] = await Promise.all([this.engine.drain(drainMs), this.pool?.drain(drainMs) ?? Promise.resolve(0)]);
      count = own + placed;
      this.log(5, `Drain finished: ${count} connection(s) still open were ended`);
    } else {
      this.state.status = 'stopping';
      count = this.engine.stop() + (await this.pool?.stop() ?? 0);
    }
    this.log(6, `Terminating ${count} service thread(s)`);
    this.log(6, 'Service threads terminated');
    this.metricsServer?.close();
    this.metricsServer?.closeAllConnections();
    if (this.publishTimer !== undefined) clearTimeout(this.publishTimer);
    if (this.statePath !== null) removeFileIfPresent(this.statePath);
    if (this.pidPath !== null) {
      removeFileIfPresent(this.pidPath);
      this.log(7, `Removed pid file ${this.pidPath}`);
    }
    this.logger.close();
    clearInterval(this.keepAlive);
    this.resolveStopped(0);
  }

  private schedulePublish(): void {
    if (this.publishTimer !== undefined || this.state.status === 'stopping') return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      this.publishState();
    }, STATE_PUBLISH_INTERVAL_MS);
    this.publishTimer.unref();
  }

  private publishState(): void {
    if (this.state.status === 'stopping') return;
    this.publishStateNow();
  }

  private publishStateNow(): void {
    if (this.statePath === null) return;
    this.state.updatedAt = new Date().toISOString();
    this.state.services = this.engine.servicesState();
    this.state.engineProcesses = this.pool?.pids ?? [];
    try {
      writeStateFile(this.statePath, this.state);
    } catch (error) {
      this.log(3, `Writing the state file ${this.statePath}: ${formatSystemError(error)}`);
    }
  }
}

export const runWorker = async (source: ConfigSource): Promise<number> => {
  setDefaultHighWaterMark(false, RELAY_HIGH_WATER_MARK_BYTES);
  const worker = new Worker(source);
  process.on('uncaughtException', (error) => {
    // One connection's bug must not take every other connection down with the process.
    process.stderr.write(`INTERNAL ERROR: ${error.stack ?? error.message}\n`);
  });
  const failed = await worker.start();
  if (failed !== undefined) return failed;
  return worker.stopped;
};
