// The live connections of the worker and the ids that name them in the log (stunnel's `logId`).
import { randomInt } from 'node:crypto';
import type { ConnectionInfo } from '../worker/state-file.js';

export interface LiveConnection {
  readonly id: string;
  readonly startedAtMs: number;
  info(nowMs: number): ConnectionInfo;
  /** Ends the connection at once (worker stop). */
  abort(reason: string): void;
}

const UNIQUE_ID_LENGTH = 22;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class ConnectionRegistry {
  private readonly live = new Set<LiveConnection>();
  /** stunnel's sequential ids start at 0 and are not reset by a reload. */
  private sequence = 0;

  nextId(kind: 'sequential' | 'unique' | 'thread' | 'process'): string {
    if (kind === 'unique') {
      let id = '';
      for (let index = 0; index < UNIQUE_ID_LENGTH; index += 1) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
      return id;
    }
    if (kind === 'process' || kind === 'thread') return String(process.pid);
    const id = this.sequence;
    this.sequence += 1;
    return String(id);
  }

  add(connection: LiveConnection): void {
    this.live.add(connection);
  }

  delete(connection: LiveConnection): void {
    this.live.delete(connection);
  }

  get size(): number {
    return this.live.size;
  }

  /** Newest first, as stunnel lists them. */
  list(): LiveConnection[] {
    return [...this.live].reverse();
  }
}
