// The server-side TLS session cache of a service (stunnel's sessionCacheSize / sessionCacheTimeout),
// fed through the `newSession` / `resumeSession` events Node's TLSSocket raises on its `server`.
import { EventEmitter } from 'node:events';

export class SessionCache {
  private readonly entries = new Map<string, { session: Buffer; expiresAtMs: number }>();
  private readonly maxEntries: number;
  private readonly timeoutMs: number;

  constructor(maxEntries: number, timeoutMs: number) {
    this.maxEntries = maxEntries;
    this.timeoutMs = timeoutMs;
  }

  get(id: string): Buffer | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= Date.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return entry.session;
  }

  /** `lifetimeMs`: what is left of a session copied from another cache (default: the full timeout). */
  set(id: string, session: Buffer, lifetimeMs = this.timeoutMs): void {
    if (lifetimeMs <= 0) return;
    this.entries.delete(id);
    this.entries.set(id, { session, expiresAtMs: Date.now() + Math.min(lifetimeMs, this.timeoutMs) });
    // Map keeps insertion order: the first key is the least recently stored (0 = unlimited).
    while (this.maxEntries > 0 && this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  /** The sessions not yet expired, oldest first, each with the time it has left. */
  live(): Array<{ id: string; session: Buffer; lifetimeMs: number }> {
    const now = Date.now();
    const live: Array<{ id: string; session: Buffer; lifetimeMs: number }> = [];
    for (const [id, entry] of this.entries) {
      if (entry.expiresAtMs > now) live.push({ id, session: entry.session, lifetimeMs: entry.expiresAtMs - now });
      else this.entries.delete(id);
    }
    return live;
  }
}

/**
 * Where a service's server-side sessions are kept: its own SessionCache in a single process, the
 * worker's (over IPC) in an engine process, so a session resumes whichever process serves it.
 */
export interface SessionStore {
  lookup(id: Buffer, done: (session: Buffer | null) => void): void;
  store(id: Buffer, session: Buffer): void;
}

const TLS1_3_VERSION = 0x0304;

/**
 * The protocol version inside an OpenSSL session (DER: SEQUENCE { INTEGER 1, INTEGER ssl_version,
 * ... }), or undefined when the bytes are not shaped like one.
 */
export const sessionProtocolVersion = (der: Buffer): number | undefined => {
  if (der[0] !== 0x30) return undefined;
  let offset = 2;
  const first = der[1] ?? 0;
  if (first & 0x80) offset += first & 0x7f;
  // INTEGER 1 (the session format version)
  if (der[offset] !== 0x02 || der[offset + 1] !== 0x01) return undefined;
  offset += 3;
  if (der[offset] !== 0x02) return undefined;
  const length = der[offset + 1] ?? 0;
  if (length < 1 || length > 2) return undefined;
  return length === 1 ? der[offset + 2] : ((der[offset + 2] ?? 0) << 8) | (der[offset + 3] ?? 0);
};

/**
 * Whether other processes need this session to resume it. A TLS 1.3 session with tickets on is
 * resumed from its ticket alone (every process has the ticket keys); OpenSSL still reports one
 * per ticket it sends. Anything else (TLS 1.2 by session ID, TLS 1.3 without tickets) is found
 * only in a cache.
 */
export const needsSharing = (session: Buffer, ticketsDisabled: boolean): boolean =>
  ticketsDisabled || sessionProtocolVersion(session) !== TLS1_3_VERSION;

export const localSessionStore = (cache: SessionCache): SessionStore => ({
  lookup: (id, done) => done(cache.get(id.toString('hex')) ?? null),
  store: (id, session) => cache.set(id.toString('hex'), session),
});

/**
 * What a standalone server TLSSocket expects as its `server` option: an emitter for the session
 * events (Node only enables session callbacks when listeners exist) and an empty SNI context list.
 */
export const createTlsServerShim = (store: SessionStore | undefined): EventEmitter & { _contexts: unknown[] } => {
  const shim = Object.assign(new EventEmitter(), { _contexts: [] as unknown[] });
  if (store !== undefined) {
    shim.on('newSession', (id: Buffer, session: Buffer, done: () => void) => {
      store.store(id, session);
      done();
    });
    shim.on('resumeSession', (id: Buffer, done: (error: Error | null, session: Buffer | null) => void) => {
      store.lookup(id, (session) => done(null, session));
    });
  }
  return shim;
};
