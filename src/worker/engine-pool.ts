// The worker's engine processes (`processes` > 1): forks them, hands each accepted connection to the
// one serving the fewest, and speaks for all of them to the worker: their log lines go into the
// worker's log, their counters into its totals, their connections into `log-conn`. Reload is two
// phases (every process prepares the new configuration, then all commit, or all abort), so the
// processes never serve different configurations. A process that dies is logged and replaced.
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { CounterStore } from '../proxy/counters.js';
import type { ConnectionPlacer } from '../proxy/engine.js';
import type { RuntimeService } from '../proxy/service.js';
import type { ConfigSource } from './config-source.js';
import type { FromEngine, ToEngine } from './engine-protocol.js';
import type { ConnectionInfo } from './state-file.js';

const ENGINE_ENTRY = new URL('./engine-process.js', import.meta.url);
/**
 * glibc's allocator keeps the top of its heap (128 KiB and more, raised further by every large
 * buffer freed) instead of returning it: after a burst of handshakes what the burst touched stays in
 * the RSS of an engine process. A fixed trim threshold and no top padding return it. The threshold
 * sits just above Node's 64 KiB socket read buffer: at 64 KiB, every small message (a read buffer
 * allocated at the top of the heap, then shrunk) shrank and regrew the heap, one brk each (5,563 in
 * 3,000 round trips); at 72 KiB, 54. Memory per idle connection at 2,000 connections: 43.2 KiB
 * without, 37.4-38.4 at 64 KiB, 38.5 at 72 KiB, 41.7-42.3 at 128 KiB (bench/RESULTS.md). An
 * operator's own setting (either variable, or a glibc.malloc tunable in GLIBC_TUNABLES) is left alone.
 */
const ENGINE_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: '73728', MALLOC_TOP_PAD_: '0' };

const engineEnvironment = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  if (env['GLIBC_TUNABLES']?.includes('glibc.malloc.') === true) return env;
  for (const [name, value] of Object.entries(ENGINE_MALLOC_ENV)) env[name] ??= value;
  return env;
};
/** How long a process may take to load the configuration and build its TLS contexts. */
const READY_TIMEOUT_MS = 30_000;
/** A reply to prepare, list or stop that takes longer means the process is stuck. */
const REPLY_TIMEOUT_MS = 10_000;
/** Replacements of a process that keeps dying are spaced out, and given up past this many in a row. */
const RESTART_DELAY_MS = 500;
const MAX_QUICK_RESTARTS = 5;
const QUICK_EXIT_MS = 10_000;

export interface EnginePoolOptions {
  count: number;
  logger: Logger;
  logId: string;
  ticketSeed: Buffer;
  /** The worker's counters: the processes' changes are added to them. */
  counters: CounterStore;
  /** The worker's next sequential log id. */
  nextSequentialId: () => string;
  onActivity: () => void;
  /**
   * The worker's services of the current configuration. Their session caches hold a copy of every
   * session shared between the processes (keyed by the id as sent), for a new process to start with.
   */
  currentServices: () => readonly RuntimeService[];
}

interface EngineChild {
  readonly slot: number;
  readonly process: ChildProcess;
  readonly pid: number;
  readonly startedAtMs: number;
  ready: boolean;
  active: number;
  ceiling: number | undefined;
  exited: boolean;
  /** The configuration generation the process was started with. */
  readonly generation: number;
  readonly waiters: Map<string, (message: FromEngine) => void>;
}

interface Placed {
  service: RuntimeService;
  child: EngineChild;
}

export class EnginePool implements ConnectionPlacer {
  private readonly options: EnginePoolOptions;
  private readonly children: Array<EngineChild | undefined>;
  private readonly placed = new Map<number, Placed>();
  private readonly quickRestarts: number[];
  private source!: ConfigSource;
  private generation = 1;
  private nextToken = 0;
  private nextRequest = 0;
  private cursor = 0;
  private stopping = false;

  constructor(options: EnginePoolOptions) {
    this.options = options;
    this.children = new Array<EngineChild | undefined>(options.count).fill(undefined);
    this.quickRestarts = new Array<number>(options.count).fill(0);
  }

  get activeConnections(): number {
    return this.placed.size;
  }

  get connectionCeiling(): number | undefined {
    let total = 0;
    for (const child of this.children) {
      if (child === undefined || !child.ready) continue;
      if (child.ceiling === undefined) return undefined;
      total += child.ceiling;
    }
    return total;
  }

  /** The pids of the processes, in slot order (for the log and the state file). */
  get pids(): number[] {
    return this.children.flatMap((child) => (child === undefined || child.exited ? [] : [child.pid]));
  }

  private log(level: number, text: string): void {
    this.options.logger.log(level, this.options.logId, text);
  }

  /** Forks every process and waits until each has loaded `source`; rejects with the first reason. */
  async start(source: ConfigSource, generation: number): Promise<void> {
    this.source = source;
    this.generation = generation;
    const results = await Promise.allSettled(this.children.map((_, slot) => this.spawn(slot)));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined) {
      await this.stop();
      throw failure.reason instanceof Error ? failure.reason : new Error(String(failure.reason));
    }
  }

  private spawn(slot: number): Promise<void> {
    const child = fork(ENGINE_ENTRY, [], {
      execArgv: process.execArgv,
      env: engineEnvironment(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const entry: EngineChild = {
      slot, process: child, pid: child.pid ?? -1, startedAtMs: Date.now(), ready: false, active: 0, ceiling: undefined, exited: false,
      generation: this.generation, waiters: new Map(),
    };
    this.children[slot] = entry;
    child.on('message', (message: FromEngine) => this.onMessage(entry, message));
    child.on('error', (error) => this.log(3, `Engine process ${entry.pid}: ${error.message}`));
    child.on('exit', (code, signal) => this.onExit(entry, code, signal));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        entry.waiters.delete('ready');
        child.kill('SIGKILL');
        reject(new Error(`Engine process ${entry.pid} did not load the configuration within ${READY_TIMEOUT_MS / 1000} s`));
      }, READY_TIMEOUT_MS);
      entry.waiters.set('ready', (message) => {
        clearTimeout(timer);
        if (message.t === 'ready') {
          entry.ready = true;
          entry.ceiling = message.ceiling ?? undefined;
          this.catchUp(entry);
          this.replaySessions(entry);
          resolve();
        } else if (message.t === 'failed') {
          reject(new Error(message.reason));
        } else {
          reject(new Error(`Engine process ${entry.pid} ended before it was ready`));
        }
      });
      this.sendTo(entry, {
        t: 'init', source: this.source, generation: this.generation, ticketSeed: this.options.ticketSeed.toString('base64'), logId: this.options.logId,
      });
    });
  }

  /** A replacement started before a reload committed: bring it to the configuration the others serve. */
  private catchUp(child: EngineChild): void {
    if (child.generation === this.generation) return;
    const generation = this.generation;
    child.waiters.set(`prepared:${generation}`, (reply) => {
      if (reply.t === 'prepared' && reply.error !== null) {
        this.log(3, `Engine process ${child.pid} could not load the current configuration: ${reply.error}; it serves the one it started with`);
      }
    });
    this.sendTo(child, { t: 'prepare', source: this.source, generation });
    this.sendTo(child, { t: 'commit', generation });
  }

  /**
   * A process that starts (a replacement, above all) gets the sessions the others shared so far, with
   * what is left of their lifetime, before any connection: clients that resume by session ID keep
   * resuming whichever process serves them, also after one died.
   */
  private replaySessions(child: EngineChild): void {
    for (const service of this.options.currentServices()) {
      for (const { id, session, lifetimeMs } of service.sessionCache?.live() ?? []) {
        this.sendTo(child, { t: 'session-put', service: service.name, id, session: session.toString('base64'), lifetimeMs });
      }
    }
  }

  private sendTo(child: EngineChild, message: ToEngine, handle?: Socket, onSent?: (error: Error | null) => void): void {
    if (child.exited || !child.process.connected) {
      onSent?.(new Error('the engine process is gone'));
      return;
    }
    if (handle === undefined) child.process.send(message, (error) => onSent?.(error));
    else child.process.send(message, handle, (error) => onSent?.(error));
  }

  private onMessage(child: EngineChild, message: FromEngine): void {
    switch (message.t) {
      case 'batch':
        this.onBatch(message);
        return;
      case 'session-set':
        this.options.currentServices().find((service) => service.name === message.service)?.sessionCache?.set(message.id, Buffer.from(message.session, 'base64'));
        for (const other of this.children) {
          if (other !== undefined && other !== child && other.ready) this.sendTo(other, { t: 'session-put', service: message.service, id: message.id, session: message.session });
        }
        return;
      case 'client-session-set':
        // Tagged with the generation it was verified under: a process that has reloaded since drops it.
        for (const other of this.children) {
          if (other !== undefined && other !== child && other.ready) this.sendTo(other, { t: 'client-session-put', generation: message.generation, service: message.service, session: message.session });
        }
        return;
      case 'ready':
      case 'failed':
        this.reply(child, 'ready', message);
        return;
      case 'prepared':
        this.reply(child, `prepared:${message.generation}`, message);
        return;
      case 'connections':
        this.reply(child, `list:${message.req}`, message);
        return;
      case 'stopped':
        this.reply(child, 'stopped', message);
        return;
    }
  }

  private reply(child: EngineChild, key: string, message: FromEngine): void {
    const waiter = child.waiters.get(key);
    child.waiters.delete(key);
    waiter?.(message);
  }

  private onBatch(message: Extract<FromEngine, { t: 'batch' }>): void {
    this.options.logger.writeFormatted(message.log);
    for (const token of message.ended) this.release(token);
    for (const delta of message.counters) {
      const counters = this.options.counters.for(delta.service);
      counters.bytesToTls += delta.bytesToTls;
      counters.bytesToSocket += delta.bytesToSocket;
      counters.connectFailures += delta.connectFailures;
      for (const [reason, count] of delta.handshakeFailures) counters.recordHandshakeFailure(reason, count);
    }
    this.options.onActivity();
  }

  private release(token: number): void {
    const placed = this.placed.get(token);
    if (placed === undefined) return;
    this.placed.delete(token);
    placed.service.active -= 1;
    placed.child.active -= 1;
  }

  /** The ready process with the fewest connections; ties go round the slots. */
  private pick(): EngineChild | undefined {
    let best: EngineChild | undefined;
    const count = this.children.length;
    for (let step = 0; step < count; step += 1) {
      const child = this.children[(this.cursor + step) % count];
      if (child === undefined || !child.ready || child.exited) continue;
      if (child.ceiling !== undefined && child.active >= child.ceiling) continue;
      if (best === undefined || child.active < best.active) best = child;
    }
    this.cursor = (this.cursor + 1) % count;
    return best;
  }

  place(service: RuntimeService, socket: Socket): void {
    const child = this.pick();
    if (child === undefined) {
      this.log(3, `Service [${service.name}]: no engine process can take the connection from ${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}; connection refused`);
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    const token = this.nextToken;
    this.nextToken += 1;
    this.placed.set(token, { service, child });
    service.active += 1;
    service.total += 1;
    service.counters.total += 1;
    child.active += 1;
    const id = service.config.logId === 'sequential' ? this.options.nextSequentialId() : null;
    const rotation = service.rotates ? service.nextRotation() : null;
    socket.on('error', () => undefined);
    this.sendTo(child, { t: 'conn', token, generation: this.generation, service: service.name, id, rotation }, socket, (error) => {
      if (error === null) return;
      this.log(3, `Service [${service.name}]: handing a connection to engine process ${child.pid} failed: ${error.message}; connection reset`);
      socket.destroy();
      this.release(token);
    });
  }

  /** Asks every live process, waits for each answer (or its exit, or the timeout). */
  private async ask(key: (req: number) => string, message: (req: number) => ToEngine): Promise<Array<FromEngine | undefined>> {
    const live = this.children.filter((child): child is EngineChild => child !== undefined && child.ready && !child.exited);
    return Promise.all(live.map((child) => {
      const req = this.nextRequest;
      this.nextRequest += 1;
      return new Promise<FromEngine | undefined>((resolve) => {
        const timer = setTimeout(() => {
          child.waiters.delete(key(req));
          resolve(undefined);
        }, REPLY_TIMEOUT_MS);
        child.waiters.set(key(req), (reply) => {
          clearTimeout(timer);
          resolve(reply);
        });
        this.sendTo(child, message(req));
      });
    }));
  }

  /** Phase one of a reload: undefined when every process has built `generation`, else the reason. */
  async prepare(source: ConfigSource, generation: number): Promise<string | undefined> {
    const replies = await this.ask(() => `prepared:${generation}`, () => ({ t: 'prepare', source, generation }));
    const problems = replies.map((reply, index) => {
      if (reply === undefined) return `engine process ${index + 1} did not answer`;
      if (reply.t === 'prepared' && reply.error !== null) return reply.error;
      if (reply.t !== 'prepared') return `engine process ${index + 1} ended during the reload`;
      return undefined;
    }).filter((problem): problem is string => problem !== undefined);
    if (problems.length === 0) return undefined;
    this.abort(generation);
    return [...new Set(problems)].join('; ');
  }

  /** Phase two: from now on connections are served with `generation`. */
  commit(source: ConfigSource, generation: number): void {
    this.source = source;
    this.generation = generation;
    for (const child of this.children) if (child !== undefined && child.ready) this.sendTo(child, { t: 'commit', generation });
  }

  abort(generation: number): void {
    for (const child of this.children) if (child !== undefined && child.ready) this.sendTo(child, { t: 'abort', generation });
  }

  async connections(): Promise<ConnectionInfo[]> {
    const replies = await this.ask((req) => `list:${req}`, (req) => ({ t: 'list', req }));
    return replies.flatMap((reply) => (reply?.t === 'connections' ? reply.list : []));
  }

  /** Ends every process's connections now; resolves with how many were open, once all have exited. */
  stop(): Promise<number> {
    return this.finish({ t: 'stop' });
  }

  /** Lets the connections end on their own for up to `ms`, then ends the rest; resolves with those. */
  drain(ms: number): Promise<number> {
    return this.finish({ t: 'drain', ms }, ms);
  }

  /** During a drain: end the remaining connections at once. */
  stopNow(): void {
    for (const child of this.children) if (child !== undefined && !child.exited) this.sendTo(child, { t: 'stop' });
  }

  private async finish(message: ToEngine, extraMs = 0): Promise<number> {
    this.stopping = true;
    const live = this.children.filter((child): child is EngineChild => child !== undefined && !child.exited);
    const counts = await Promise.all(live.map((child) => new Promise<number>((resolve) => {
      let forced = 0;
      const timer = setTimeout(() => child.process.kill('SIGKILL'), REPLY_TIMEOUT_MS + extraMs);
      child.waiters.set('stopped', (reply) => {
        if (reply.t === 'stopped') forced = reply.forced;
      });
      child.process.once('exit', () => {
        clearTimeout(timer);
        resolve(forced);
      });
      if (child.exited) {
        clearTimeout(timer);
        resolve(0);
        return;
      }
      this.sendTo(child, message);
    })));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  private onExit(child: EngineChild, code: number | null, signal: NodeJS.Signals | null): void {
    child.exited = true;
    child.ready = false;
    for (const waiter of child.waiters.values()) waiter({ t: 'stopped', forced: 0 });
    child.waiters.clear();
    if (this.stopping || this.children[child.slot] !== child) return;
    let lost = 0;
    for (const [token, placed] of this.placed) {
      if (placed.child !== child) continue;
      this.release(token);
      lost += 1;
    }
    const how = signal === null ? `exit code ${code ?? 'unknown'}` : `signal ${signal}`;
    this.log(3, `Engine process ${child.pid} ended unexpectedly (${how}); ${lost} connection(s) it served are lost`);
    this.options.onActivity();
    const quick = Date.now() - child.startedAtMs < QUICK_EXIT_MS;
    this.quickRestarts[child.slot] = quick ? (this.quickRestarts[child.slot] ?? 0) + 1 : 0;
    if ((this.quickRestarts[child.slot] ?? 0) > MAX_QUICK_RESTARTS) {
      this.log(2, `Engine process slot ${child.slot + 1} ended ${MAX_QUICK_RESTARTS} times in a row within ${QUICK_EXIT_MS / 1000} s of starting: not replaced; the other processes serve`);
      return;
    }
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn(child.slot).then(
        () => {
          this.log(5, `Engine process ${this.children[child.slot]?.pid ?? '?'} started in place of ${child.pid}`);
          this.options.onActivity();
        },
        (error: unknown) => this.log(3, `Replacing engine process ${child.pid} failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    }, quick ? RESTART_DELAY_MS : 0);
  }
}
