// The data plane as a whole: builds runtime services from a Configuration, binds their listeners,
// accepts connections, and swaps in a new configuration on reload without dropping a listener or a
// live connection. A reload that fails anywhere leaves the old configuration serving.
import type { Socket } from 'node:net';
import type { Configuration } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { ConnectionInfo, ServiceState } from '../worker/state-file.js';
import { ProxyConnection } from './connection.js';
import {
  bindListener, closeListener, describeListener, listenerLogName, resolveBindTargets, type BindTarget, type Listener,
} from './listeners.js';
import { ConnectionRegistry } from './registry.js';
import { RuntimeService, type ServiceEnvironment } from './service.js';
import { CounterStore } from './counters.js';
import { computeConnectionCeiling } from './fd-budget.js';
import { ExecConnectLoop, isExecConnectService } from './exec-connect.js';
import { formatSystemError } from './system-error.js';
import { formatEndpoint } from '../config/values.js';
import { findInsecureKeyFiles } from '../config/tls-material.js';

/** A start-up or reload failure, with stunnel's log lines already written. */
export class EngineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineError';
  }
}

const DRAIN_POLL_INTERVAL_MS = 100;

/** The listening socket's file descriptor, as stunnel shows it in `(FD=n)`. */
const listenerFd = (listener: Listener): number | string =>
  (listener.server as unknown as { _handle?: { fd?: number } })._handle?.fd ?? '?';

/**
 * Builds the runtime services (TLS contexts) of a configuration and links SNI secondaries to their
 * primaries; throws an EngineError (logged through `log` when given) on the first failure.
 */
export const buildRuntimeServices = (
  config: Configuration,
  counters: CounterStore,
  environment: ServiceEnvironment,
  log: ((level: number, text: string) => void) | undefined,
): RuntimeService[] => {
  const services = config.services.map((section) => {
    log?.(6, `Initializing service [${section.name}]`);
    // Where stunnel loads the key; a warning only, as in stunnel.
    if (log !== undefined) for (const file of findInsecureKeyFiles(section)) log(4, `Insecure file permissions on ${file}`);
    try {
      const service = new RuntimeService(section, environment);
      service.counters = counters.for(section.name);
      if (section.client && !section.verify.verifyChain && !section.verify.verifyPeer) {
        log?.(4, `Service [${section.name}] needs authentication to prevent MITM attacks`);
      }
      return service;
    } catch (error) {
      const message = `Service [${section.name}]: Failed to initialize TLS context: ${(error as Error).message}`;
      log?.(3, message);
      throw new EngineError(message, { cause: error });
    }
  });
  for (const service of services) {
    const route = service.config.sniRoute;
    if (route === null) continue;
    services.find((primary) => primary.name === route.primary && primary.config.sniRoute === null)?.sniSecondaries.push(service);
  }
  return services;
};

/**
 * Where the worker's accepted connections go when engine processes serve them (`processes` > 1):
 * the engine keeps the listeners and the limits, the placer hands each socket to a process.
 */
export interface ConnectionPlacer {
  /** Connections the processes serve now. */
  readonly activeConnections: number;
  /** How many connections the processes' open-file limits allow together; undefined = unlimited. */
  readonly connectionCeiling: number | undefined;
  /** Takes the socket (and counts it on `service`); the engine must not touch it afterwards. */
  place(service: RuntimeService, socket: Socket): void;
}

interface PlannedListener {
  target: BindTarget;
  service: RuntimeService;
}

export class ProxyEngine {
  private readonly logger: Logger;
  private readonly registry = new ConnectionRegistry();
  readonly counters = new CounterStore();
  private listeners = new Map<string, Listener>();
  private services: RuntimeService[] = [];
  private execConnectLoops: ExecConnectLoop[] = [];
  private stopping = false;
  /** Id of lines that belong to no connection: `ui` in the foreground, `main` detached (stunnel). */
  logId = 'main';
  /** Worker-wide connection limit (`maxConnections`); 0 = none. */
  maxConnections = 0;
  /** What the open-file limit allows (stunnel's "Clients allowed"); undefined = unlimited. */
  private descriptorCeiling: number | undefined;
  /** Called whenever counters change, so the worker can publish its state (debounced there). */
  onActivity: () => void = () => undefined;

  private readonly environment: ServiceEnvironment;
  /** Set before `start` when engine processes serve the connections. */
  placer: ConnectionPlacer | undefined;

  constructor(logger: Logger, environment: ServiceEnvironment = {}) {
    this.logger = logger;
    this.environment = environment;
  }

  /** The next id of `logId = sequential`, shared by every process of the worker. */
  nextSequentialId(): string {
    return this.registry.nextId('sequential');
  }

  /** Connections of the whole worker: its own (exec+connect, or all with one process) and the placed ones. */
  get activeConnections(): number {
    return this.registry.size + (this.placer?.activeConnections ?? 0);
  }

  /** Builds the services (TLS contexts) of a configuration; throws with the reason on failure. */
  private buildServices(config: Configuration): RuntimeService[] {
    return buildRuntimeServices(config, this.counters, this.environment, (level, text) => this.logger.log(level, this.logId, text));
  }

  private async planListeners(services: readonly RuntimeService[]): Promise<PlannedListener[]> {
    const planned: PlannedListener[] = [];
    for (const service of services) {
      const ipv6Only = service.config.socketOptions.some((setting) => setting.side === 'a' && setting.option === 'IPV6_V6ONLY' && setting.enabled);
      for (const endpoint of service.config.accept) {
        let targets: BindTarget[];
        try {
          targets = await resolveBindTargets(endpoint, ipv6Only);
        } catch (error) {
          this.logger.log(3, this.logId, `Service [${service.name}]: Cannot resolve accept target ${endpoint.text}: ${formatSystemError(error)}`);
          throw new EngineError(`Cannot resolve accept target ${endpoint.text} of service [${service.name}]`, { cause: error });
        }
        for (const target of targets) {
          // stunnel binds what it can: an address given twice fails its second bind, and the
          // service still starts if at least one of its addresses is bound.
          if (planned.some((entry) => entry.target.key === target.key)) {
            this.logger.log(5, this.logId, `Binding service [${service.name}] to ${target.key}: Address already in use (98)`);
            continue;
          }
          planned.push({ target, service });
        }
      }
      if (service.config.accept.length > 0 && !planned.some((entry) => entry.service === service)) {
        this.logger.log(3, this.logId, `Binding service [${service.name}] failed`);
        throw new EngineError(`Binding service [${service.name}] failed: every accept address is taken by another service`);
      }
    }
    return planned;
  }

  /** Binds the planned listeners that are not open yet; on any failure closes what it opened. */
  private async bindNew(planned: readonly PlannedListener[]): Promise<Map<string, Listener>> {
    const opened = new Map<string, Listener>();
    for (const { target, service } of planned) {
      if (this.listeners.has(target.key)) continue;
      try {
        const listener = await bindListener(
          target, service, (l, socket) => this.accept(l, socket), (l, error) => this.onAcceptError(l, error), this.placer !== undefined,
        );
        opened.set(target.key, listener);
      } catch (error) {
        this.logger.log(5, this.logId, `Binding service [${service.name}] to ${target.key}: ${formatSystemError(error)}`);
        this.logger.log(3, this.logId, `Binding service [${service.name}] failed`);
        for (const listener of opened.values()) closeListener(listener);
        throw new EngineError(`Binding service [${service.name}] to ${target.key}: ${formatSystemError(error)}`, { cause: error });
      }
    }
    return opened;
  }

  async start(config: Configuration): Promise<void> {
    const services = this.buildServices(config);
    const planned = await this.planListeners(services);
    const opened = await this.bindNew(planned);
    this.listeners = opened;
    this.services = services;
    this.maxConnections = config.global.maxConnections;
    this.descriptorCeiling = this.placer === undefined ? computeConnectionCeiling() : this.placer.connectionCeiling;
    this.startExecConnectLoops();
    this.logger.log(6, this.logId, `Clients allowed=${this.descriptorCeiling ?? 'unlimited'}${this.maxConnections > 0 ? ` (maxConnections = ${this.maxConnections})` : ''}`);
    for (const listener of opened.values()) {
      this.logger.log(6, this.logId, `Service [${listener.service.name}] (FD=${listenerFd(listener)}) bound to ${listenerLogName(listener)}`);
    }
  }

  /**
   * Applies a new configuration. Unchanged listeners stay open and are re-pointed; new ones are bound
   * first, and if any bind fails they are closed again and the old configuration keeps serving.
   * Removed listeners are closed last. Live connections keep the service they started with.
   */
  async reload(config: Configuration): Promise<void> {
    const services = this.buildServices(config);
    const planned = await this.planListeners(services);
    const opened = await this.bindNew(planned);
    const next = new Map<string, Listener>();
    for (const { target, service } of planned) {
      const listener = opened.get(target.key) ?? this.listeners.get(target.key);
      if (listener === undefined) continue;
      listener.service = service;
      next.set(target.key, listener);
    }
    for (const [key, listener] of this.listeners) {
      if (!next.has(key)) {
        closeListener(listener);
        this.logger.log(6, this.logId, `Service [${listener.service.name}] closed listener ${key}`);
      }
    }
    for (const listener of opened.values()) {
      this.logger.log(6, this.logId, `Service [${listener.service.name}] (FD=${listenerFd(listener)}) bound to ${listenerLogName(listener)}`);
    }
    this.listeners = next;
    this.services = services;
    this.maxConnections = config.global.maxConnections;
    this.startExecConnectLoops();
  }

  /** Old loops stop restarting (their live connection runs on); the current services' loops start. */
  private startExecConnectLoops(): void {
    for (const loop of this.execConnectLoops) loop.stop();
    this.execConnectLoops = this.services
      .filter(isExecConnectService)
      .map((service) => new ExecConnectLoop(service, this.logger, this.registry, () => this.onActivity(), this.logId));
    for (const loop of this.execConnectLoops) loop.start();
  }

  /** Stops accepting; live connections are ended as stunnel does on stop. */
  stop(): number {
    this.stopping = true;
    for (const loop of this.execConnectLoops) loop.stop();
    for (const listener of this.listeners.values()) closeListener(listener);
    this.listeners.clear();
    const live = this.registry.list();
    for (const connection of live) connection.abort('Connection terminated: the worker is stopping');
    return live.length;
  }

  /** Stops accepting but lets live connections finish (drain). */
  closeListeners(): void {
    this.stopping = true;
    for (const loop of this.execConnectLoops) loop.stop();
    for (const listener of this.listeners.values()) closeListener(listener);
    this.listeners.clear();
  }

  connections(): ConnectionInfo[] {
    const now = Date.now();
    return this.registry.list().map((connection) => connection.info(now));
  }

  /** The services currently configured (for metrics). */
  currentServices(): readonly RuntimeService[] {
    return this.services;
  }

  servicesState(): ServiceState[] {
    const listenersByService = new Map<RuntimeService, string[]>();
    for (const listener of this.listeners.values()) {
      const list = listenersByService.get(listener.service) ?? [];
      list.push(describeListener(listener));
      listenersByService.set(listener.service, list);
    }
    return this.services.map((service) => ({
      name: service.name,
      mode: service.config.client ? 'client' : 'server',
      accept: service.config.accept.map(formatEndpoint),
      connect: service.config.connect.map(formatEndpoint),
      listeners: listenersByService.get(service) ?? [],
      cert: service.config.cert,
      active: service.active,
      total: service.total,
    }));
  }

  private accept(listener: Listener, socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const service = listener.service;
    const limit = this.rejectionLimit(service);
    if (limit !== undefined) {
      // Refused before any TLS work: an overload costs an accept and a close, nothing more.
      service.counters.rejected += 1;
      this.logger.log(4, this.logId, `Service [${service.name}]: Connection rejected: too many clients (>=${limit})`, service.logLevel);
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    if (this.placer !== undefined) {
      this.placer.place(service, socket);
      this.onActivity();
      return;
    }
    const connection = new ProxyConnection(socket, listener.service, {
      logger: this.logger,
      registry: this.registry,
      onFinished: () => this.onActivity(),
    });
    connection.start();
    this.onActivity();
  }

  /** The limit a new connection would exceed, or undefined when it may be served. */
  private rejectionLimit(service: RuntimeService): number | undefined {
    const active = this.activeConnections;
    if (this.maxConnections > 0 && active >= this.maxConnections) return this.maxConnections;
    if (this.descriptorCeiling !== undefined && active >= this.descriptorCeiling) return this.descriptorCeiling;
    const own = service.config.maxConnections;
    if (own > 0 && service.active >= own) return own;
    return undefined;
  }

  /**
   * Stops accepting and waits up to `timeoutMs` for live connections to end on their own; the ones
   * still open then are ended. Resolves with how many were ended by force.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.closeListeners();
    const deadline = Date.now() + timeoutMs;
    while (this.registry.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_INTERVAL_MS));
    }
    return this.stop();
  }

  private onAcceptError(listener: Listener, error: Error): void {
    // EMFILE/ENFILE: libuv keeps the listener and retries; the worker must not die of it.
    this.logger.log(3, this.logId, `Service [${listener.service.name}]: accept: ${formatSystemError(error)}`);
  }
}
