// Byte streams for relay tests: a writer that sends random data honouring backpressure and tracks how
// much the socket has really taken (write callbacks), and a reader that hashes everything until EOF.
// No side effects on import.
import { createHash, randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

export interface StreamDigest {
  bytes: number;
  sha256: string;
}

export interface RandomWriter {
  /** Bytes handed to `write()` so far. */
  readonly handed: () => number;
  /** Bytes whose write callback has fired: taken by the kernel (or the TLS layer below it). */
  readonly flushed: () => number;
  /** Resolves with the digest of everything written, once the last write has been flushed (and `end` sent). */
  readonly done: Promise<StreamDigest>;
}

const DEFAULT_CHUNK_BYTES = 64 * 1024;

/**
 * Writes `total` random bytes to `stream` in chunks, waiting for 'drain' whenever `write()` says the
 * buffer is full, so the writer itself never holds more than one chunk beyond the stream's high-water
 * mark. With `end`, half-closes after the last chunk.
 */
export const writeRandom = (stream: Writable, total: number, options: { end?: boolean; chunkBytes?: number } = {}): RandomWriter => {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const hash = createHash('sha256');
  let handed = 0;
  let flushed = 0;
  const done = new Promise<StreamDigest>((resolve, reject) => {
    const onError = (error: Error): void => reject(new Error(`writing random data failed after ${flushed} of ${total} bytes: ${error.message}`, { cause: error }));
    stream.once('error', onError);
    let finished = options.end !== true;
    let settled = false;
    const settle = (): void => {
      if (settled || flushed < total || !finished) return;
      settled = true;
      stream.off('error', onError);
      resolve({ bytes: handed, sha256: hash.digest('hex') });
    };
    const pump = (): void => {
      while (handed < total) {
        const chunk = randomBytes(Math.min(chunkBytes, total - handed));
        hash.update(chunk);
        handed += chunk.length;
        const ok = stream.write(chunk, (error) => {
          if (error !== undefined && error !== null) return;
          flushed += chunk.length;
          settle();
        });
        if (!ok) {
          stream.once('drain', pump);
          return;
        }
      }
      if (options.end === true) {
        stream.end(() => {
          finished = true;
          settle();
        });
      }
    };
    pump();
  });
  done.catch(() => undefined);
  return { handed: () => handed, flushed: () => flushed, done };
};

export interface HashingReader {
  /** Bytes received so far. */
  readonly bytes: () => number;
  /** Resolves at EOF ('end') with the digest of everything received; rejects if the stream closes or fails first. */
  readonly ended: Promise<StreamDigest>;
}

export const hashUntilEnd = (stream: Readable, what: string): HashingReader => {
  const hash = createHash('sha256');
  let bytes = 0;
  const ended = new Promise<StreamDigest>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    stream.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    stream.once('error', (error) => reject(new Error(`${what} failed after ${bytes} bytes: ${error.message}`, { cause: error })));
    stream.once('close', () => reject(new Error(`${what} closed without EOF after ${bytes} bytes`)));
  });
  ended.catch(() => undefined);
  return { bytes: () => bytes, ended };
};

export const sha256Of = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
