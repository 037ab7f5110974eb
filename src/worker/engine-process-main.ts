// An engine process: serves the connections the worker accepts and hands over (`processes` > 1).
// It loads the same configuration, builds the same services (quietly: the worker has logged their
// set-up), and runs each connection exactly as a single-process worker would. Its log lines,
// ended connections and counter changes go to the worker in batches every 10 ms; the worker
// writes the log, keeps the totals and answers for the whole. When the worker's channel closes
// (the worker is gone), the process ends its connections and exits: nothing outlives the worker.
import type { Socket } from 'node:net';
import { setDefaultHighWaterMark } from 'node:stream';
import { formatDiagnostic } from '../config/load.js';
import type { Configuration } from '../config/types.js';
import { Logger } from '../log/logger.js';
import { ProxyConnection } from '../proxy/connection.js';
import { CounterStore } from '../proxy/counters.js';
import { buildRuntimeServices } from '../proxy/engine.js';
import { computeConnectionCeiling } from '../proxy/fd-budget.js';
import { ConnectionRegistry } from '../proxy/registry.js';
import type { RuntimeService, ServiceEnvironment } from '../proxy/service.js';
import { loadFrom, type ConfigSource } from './config-source.js';
import type { CounterDelta, FromEngine, ToEngine } from './engine-protocol.js';
import { RELAY_HIGH_WATER_MARK_BYTES } from './relay-tuning.js';

const DRAIN_POLL_INTERVAL_MS = 100;
/** After `stop`, how long connections being reset get to finish before the process leaves anyway. */
const STOP_EXIT_GRACE_MS = 1000;
const STOP_EXIT_POLL_MS = 10;
/**
 * What an engine process has to tell the worker (log lines, ended connections, counters) goes at most
 * this often: each message is a pipe write and a wake-up of the worker, and one per event-loop turn
 * cost about a tenth of an engine process's time under a handshake load. Past BATCH_MAX_LOG_BYTES it
 * goes at once. The worker's connection counts lag by at most this much (limits err on refusing).
 */
const BATCH_INTERVAL_MS = 10;
const BATCH_MAX_LOG_BYTES = 64 * 1024;

/** A configuration and the services built from it. */
interface Generation {
  config: Configuration;
  services: Map<string, RuntimeService>;
}

const send = (message: FromEngine): void => {
  if (process.connected) process.send?.(message);
};

class EngineProcess {
  private readonly logger = new Logger();
  private readonly counters = new CounterStore();
  private readonly registry = new ConnectionRegistry();
  /** Services by configuration generation: the current one, and a prepared one during a reload. */
  private readonly generations = new Map<number, Generation>();
  private generation = 0;
  private readonly tokens = new Map<ProxyConnection, number>();
  private environment: ServiceEnvironment = {};
  private logId = 'main';
  private pendingLog = '';
  private ended: number[] = [];
  private batchTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private stopped = false;

  handle(message: ToEngine, handle: unknown): void {
    switch (message.t) {
      case 'init':
        this.init(message.source, message.generation, message.ticketSeed, message.logId);
        return;
      case 'prepare':
        this.prepare(message.source, message.generation);
        return;
      case 'commit':
        this.commit(message.generation);
        return;
      case 'abort':
        this.generations.delete(message.generation);
        return;
      case 'conn':
        this.serve(message, handle as Socket | undefined);
        return;
      case 'list': {
        const now = Date.now();
        send({ t: 'connections', req: message.req, list: this.registry.list().map((connection) => connection.info(now)) });
        return;
      }
      case 'session-put':
        // Another process's session: into this process's cache of the service's current generation.
        this.generations.get(this.generation)?.services.get(message.service)?.sessionCache?.set(
          Buffer.from(message.id, 'base64').toString('hex'), Buffer.from(message.session, 'base64'), message.lifetimeMs,
        );
        return;
      case 'client-session-put':
        // Verified by another process under the same configuration: offered by this one's next
        // connections of the service. Not shared on (it came from there).
        this.generations.get(message.generation)?.services.get(message.service)?.keepClientSession(Buffer.from(message.session, 'base64'), false);
        return;
      case 'stop':
        this.stop();
        return;
      case 'drain':
        void this.drain(message.ms);
        return;
    }
  }

  private init(source: ConfigSource, generation: number, ticketSeed: string, logId: string): void {
    this.logId = logId;
    this.environment = {
      ticketSeed: Buffer.from(ticketSeed, 'base64'),
      // Session-ID resumption must work whichever process a client lands on: each process keeps a
      // cache, and the worker copies every session that is not resumable from its ticket alone into
      // the others' caches. Lookups stay local (no round trip per handshake).
      shareSession: (service, id, session) => send({ t: 'session-set', service, id: id.toString('base64'), session: session.toString('base64') }),
    };
    this.logger.openSink((text) => {
      this.pendingLog += text;
      if (this.pendingLog.length >= BATCH_MAX_LOG_BYTES) this.sendBatch();
      else this.scheduleBatch();
    });
    const built = this.build(source, generation);
    if (typeof built === 'string') {
      send({ t: 'failed', reason: built });
      process.exit(1);
    }
    this.generations.set(generation, built);
    this.generation = generation;
    this.logger.globalLevel = built.config.global.debugLevel;
    // Keys are read; now the process gives up what the worker will give up.
    if (built.config.global.setgid !== null) process.setgid?.(built.config.global.setgid);
    if (built.config.global.setuid !== null) process.setuid?.(built.config.global.setuid);
    send({ t: 'ready', ceiling: computeConnectionCeiling() ?? null });
  }

  /** The configuration and its services, or the reason they cannot be built. */
  private build(source: ConfigSource, generation: number): Generation | string {
    const loaded = loadFrom(source);
    if (loaded.config === undefined) return loaded.diagnostics.map(formatDiagnostic).join('; ');
    try {
      const environment: ServiceEnvironment = {
        ...this.environment,
        shareClientSession: (service, session) => send({ t: 'client-session-set', generation, service, session: session.toString('base64') }),
      };
      const services = buildRuntimeServices(loaded.config, this.counters, environment, undefined);
      return { config: loaded.config, services: new Map(services.map((service) => [service.name, service])) };
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  private prepare(source: ConfigSource, generation: number): void {
    const built = this.build(source, generation);
    if (typeof built === 'string') {
      send({ t: 'prepared', generation, error: built });
      return;
    }
    this.generations.set(generation, built);
    send({ t: 'prepared', generation, error: null });
  }

  private commit(generation: number): void {
    const committed = this.generations.get(generation);
    if (committed === undefined) return;
    this.generation = generation;
    this.logger.globalLevel = committed.config.global.debugLevel;
    // Live connections hold their own service; only the map entry of older generations goes.
    for (const known of [...this.generations.keys()]) if (known !== generation) this.generations.delete(known);
  }

  private serve(message: Extract<ToEngine, { t: 'conn' }>, socket: Socket | undefined): void {
    if (socket === undefined) return;
    // Node builds a handed-over socket without half-close; a relay needs it (stunnel keeps half-closed
    // connections going), and nothing has been read yet.
    socket.allowHalfOpen = true;
    const service = (this.generations.get(message.generation) ?? this.generations.get(this.generation))?.services.get(message.service);
    if (service === undefined || this.stopping) {
      this.logger.log(3, this.logId, `Service [${message.service}] is not known to this engine process; connection dropped`);
      socket.destroy();
      this.ended.push(message.token);
      this.scheduleBatch();
      return;
    }
    const connection = new ProxyConnection(socket, service, {
      logger: this.logger,
      registry: this.registry,
      onFinished: (finished) => {
        const token = this.tokens.get(finished);
        this.tokens.delete(finished);
        if (token !== undefined) this.ended.push(token);
        this.scheduleBatch();
      },
    }, undefined, { id: message.id ?? undefined, rotation: message.rotation ?? undefined });
    this.tokens.set(connection, message.token);
    connection.start();
  }

  private scheduleBatch(): void {
    if (this.batchTimer !== undefined) return;
    this.batchTimer = setTimeout(() => this.sendBatch(), BATCH_INTERVAL_MS);
  }

  /** Everything said since the last batch, in one message; counters are sent as what they added. */
  private sendBatch(): void {
    if (this.batchTimer !== undefined) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.logger.flush();
    const counters: CounterDelta[] = [];
    for (const [service, value] of this.counters.entries()) {
      if (value.bytesToTls === 0 && value.bytesToSocket === 0 && value.connectFailures === 0 && value.handshakeFailures.size === 0) continue;
      counters.push({
        service, bytesToTls: value.bytesToTls, bytesToSocket: value.bytesToSocket, connectFailures: value.connectFailures,
        handshakeFailures: [...value.handshakeFailures],
      });
      value.bytesToTls = 0;
      value.bytesToSocket = 0;
      value.connectFailures = 0;
      value.handshakeFailures.clear();
    }
    if (this.pendingLog === '' && this.ended.length === 0 && counters.length === 0) return;
    send({ t: 'batch', log: this.pendingLog, ended: this.ended, counters });
    this.pendingLog = '';
    this.ended = [];
  }

  private async drain(ms: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + ms;
    while (this.registry.size > 0 && Date.now() < deadline && !this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_INTERVAL_MS));
    }
    this.stop();
  }

  /** Ends every connection (logged as stunnel does on stop), reports, and leaves. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping = true;
    const live = this.registry.list();
    for (const connection of live) connection.abort('Connection terminated: the worker is stopping');
    this.sendBatch();
    send({ t: 'stopped', forced: live.length });
    process.disconnect?.();
    this.exitOnceFinished();
  }

  /**
   * Leaves once the connections being reset have finished (on the next turns), or STOP_EXIT_GRACE_MS
   * later at most. Always by `process.exit`, never by letting the event loop run empty: Node 20 then
   * frees its environment and waits for every pending request, and a request left on a destroyed
   * TLS socket can keep that wait spinning for ever (seen in `npm run bench`: an engine process at
   * 64% CPU minutes after its worker had stopped, in node::Environment::CleanupHandles). The timers
   * are not unref'd for that reason: the loop must not run empty first.
   */
  private exitOnceFinished(): void {
    const startedAtMs = Date.now();
    setInterval(() => {
      if (this.registry.size === 0 || Date.now() - startedAtMs >= STOP_EXIT_GRACE_MS) process.exit(0);
    }, STOP_EXIT_POLL_MS);
  }

  /** The worker is gone: its log and totals with it. End everything at once. */
  orphaned(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const connection of this.registry.list()) connection.abort('Connection terminated: the worker is gone');
    process.exit(0);
  }
}

export const runEngineProcess = (): void => {
  setDefaultHighWaterMark(false, RELAY_HIGH_WATER_MARK_BYTES);
  const engine = new EngineProcess();
  process.on('message', (message: ToEngine, handle: unknown) => engine.handle(message, handle));
  process.on('disconnect', () => engine.orphaned());
  process.on('uncaughtException', (error) => {
    process.stderr.write(`INTERNAL ERROR (engine process ${process.pid}): ${error.stack ?? error.message}\n`);
  });
};
