// The messages between the worker process and its engine processes (`processes` > 1), over the IPC
// channel of child_process.fork. The channel keeps order, handles included, which the reload and stop
// protocols rely on: a connection sent before a `commit` arrives before it.
import type { ConnectionInfo } from './state-file.js';
import type { ConfigSource } from './config-source.js';
import type { HandshakeFailureReason } from '../proxy/counters.js';

/** What a process adds to a service's counters between two batches (totals are counted by the worker). */
export interface CounterDelta {
  service: string;
  bytesToTls: number;
  bytesToSocket: number;
  connectFailures: number;
  handshakeFailures: Array<[HandshakeFailureReason, number]>;
}

export type ToEngine =
  | { t: 'init'; source: ConfigSource; generation: number; ticketSeed: string; logId: string }
  /** A reload: load and build `generation`, keep serving the current one until `commit`. */
  | { t: 'prepare'; source: ConfigSource; generation: number }
  | { t: 'commit'; generation: number }
  | { t: 'abort'; generation: number }
  /** Sent with the accepted socket as handle. `id`: the log id, when the worker assigns it (sequential). */
  /** `rotation`: its place in the service's `failover = rr` rotation, kept by the worker. */
  | { t: 'conn'; token: number; generation: number; service: string; id: string | null; rotation: number | null }
  | { t: 'list'; req: number }
  /**
   * A session another process created, for this process's cache (session-ID resumption anywhere).
   * `lifetimeMs`: what is left of it when the worker replays its copy to a replacement process.
   */
  | { t: 'session-put'; service: string; id: string; session: string; lifetimeMs?: number }
  /** Client mode: another process's verified session of the service as built for `generation`. */
  | { t: 'client-session-put'; generation: number; service: string; session: string }
  | { t: 'stop' }
  | { t: 'drain'; ms: number };

export type FromEngine =
  | { t: 'ready'; ceiling: number | null }
  | { t: 'failed'; reason: string }
  | { t: 'prepared'; generation: number; error: string | null }
  /** At most every 10 ms with anything to say: formatted log lines, ended connections, counters. */
  | { t: 'batch'; log: string; ended: number[]; counters: CounterDelta[] }
  | { t: 'connections'; req: number; list: ConnectionInfo[] }
  | { t: 'session-set'; service: string; id: string; session: string }
  | { t: 'client-session-set'; generation: number; service: string; session: string }
  /** After stop/drain: how many connections had to be ended. */
  | { t: 'stopped'; forced: number };

/** The signals the worker acts on; an engine process ignores them (only the worker's word counts). */
export const WORKER_SIGNALS = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGPIPE'] as const;
