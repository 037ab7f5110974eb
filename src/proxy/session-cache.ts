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

  set(id: string, session: Buffer): void {
    this.entries.delete(id);
    this.entries.set(id, { session, expiresAtMs: Date.now() + this.timeoutMs });
    // Map keeps insertion order: the first key is the least recently stored (0 = unlimited).
    while (this.maxEntries > 0 && this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
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
