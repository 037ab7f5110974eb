// Plain TCP peers of the proxy on loopback. Backends on 127.0.0.1:0: an echo server, and a sink/source
// that hashes what it receives and optionally sends a fixed payload back; both keep half-open
// connections (allowHalfOpen), so a half-close travelling through the proxy is observable. Clients:
// a whole-stream exchange with sha256, and a one-line exchange.
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { LOOPBACK, closeServer, portOf } from './ports.js';
import { withTimeout } from './wait.js';

export interface Backend {
  readonly port: number;
  /** Connections accepted so far. */
  connectionCount(): number;
  /** Closes the listener and destroys every open connection. */
  close(): Promise<void>;
}

export interface ReceivedStream {
  bytes: number;
  sha256: string;
}

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** A backend on 127.0.0.1:0 whose per-connection behaviour the caller supplies (half-open capable). */
export const startBackend = (onConnection: (socket: Socket, index: number) => void): Promise<Backend> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<Socket>();
    let accepted = 0;
    const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      // A proxy that resets a connection must not crash the test process.
      socket.on('error', () => socket.destroy());
      onConnection(socket, accepted);
      accepted += 1;
    });
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK }, () =>
      resolve({
        port: portOf(server),
        connectionCount: () => accepted,
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await closeServer(server);
        },
      }),
    );
  });

/** Echoes every byte back; when the peer half-closes, finishes its own side too. */
export const startEchoServer = (): Promise<Backend> =>
  startBackend((socket) => {
    socket.pipe(socket);
  });

export interface SinkSourceBackend extends Backend {
  /** What connection number `index` (0-based, accept order) received, once it has ended. */
  received(index: number): Promise<ReceivedStream>;
}

/**
 * Hashes everything each connection sends. With `reply`, writes it to every connection at once and
 * then half-closes; without, half-closes when the peer has.
 */
/**
 * Hashes what each connection sends until its peer half-closes; `received(index)` resolves then, or
 * rejects if the connection closes first. With `reply`, writes it at once and half-closes; without,
 * half-closes when the peer has. Connection indexes are given by the caller (accept order).
 */
export const createStreamRecorder = (label: string) => {
  const slots = new Map<number, { promise: Promise<ReceivedStream>; resolve: (value: ReceivedStream) => void; reject: (error: Error) => void }>();
  const slot = (index: number) => {
    let entry = slots.get(index);
    if (entry === undefined) {
      let resolve!: (value: ReceivedStream) => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<ReceivedStream>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Connections no test asks about may fail; only an awaited failure should fail a test.
      promise.catch(() => undefined);
      entry = { promise, resolve, reject };
      slots.set(index, entry);
    }
    return entry;
  };
  return {
    record(socket: Socket, index: number, reply: Buffer | undefined): void {
      const hash = createHash('sha256');
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      socket.once('end', () => {
        slot(index).resolve({ bytes, sha256: hash.digest('hex') });
        if (reply === undefined) socket.end();
      });
      socket.once('close', () => slot(index).reject(new Error(`${label} connection ${index} closed before its peer half-closed (received ${bytes} bytes)`)));
      if (reply !== undefined) socket.end(reply);
    },
    received: (index: number): Promise<ReceivedStream> => slot(index).promise,
  };
};

/**
 * Hashes everything each connection sends. With `reply`, writes it to every connection at once and
 * then half-closes; without, half-closes when the peer has.
 */
export const startSinkSourceServer = (options: { reply?: Buffer } = {}): Promise<SinkSourceBackend> => {
  const recorder = createStreamRecorder('backend');
  return startBackend((socket, index) => recorder.record(socket, index, options.reply)).then((backend) => ({ ...backend, received: recorder.received }));
};

/**
 * A plain TCP client: connects to 127.0.0.1:port, writes `payload`, half-closes, and hashes what
 * comes back until the far side half-closes too.
 */
export interface PlainExchange extends ReceivedStream {
  /** The client's own port: the proxy logs it in `accepted connection from 127.0.0.1:PORT`. */
  localPort: number;
}

export const exchangePlain = (port: number, payload: Buffer, timeoutMs = 60_000): Promise<PlainExchange> => {
  const exchange = new Promise<PlainExchange>((resolve, reject) => {
    const socket = connect({ port, host: LOOPBACK, allowHalfOpen: true });
    const hash = createHash('sha256');
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    let localPort = 0;
    socket.once('connect', () => {
      localPort = socket.localPort ?? 0;
    });
    socket.once('end', () => {
      resolve({ bytes, sha256: hash.digest('hex'), localPort });
      socket.end();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection to ${LOOPBACK}:${port} closed before the far side half-closed (received ${bytes} bytes)`)));
    socket.end(payload);
  });
  return withTimeout(exchange, timeoutMs, `a plain exchange of ${payload.length} bytes through ${LOOPBACK}:${port}`);
};

/** Sends one line through a plain connection, reads until the first newline back, closes. */
export const exchangeLine = (port: number, line: string, timeoutMs = 15_000): Promise<string> => {
  const exchange = new Promise<string>((resolve, reject) => {
    const socket = connect({ port, host: LOOPBACK });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('\n')) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection to ${LOOPBACK}:${port} closed after "${received}"`)));
    socket.write(line);
  });
  return withTimeout(exchange, timeoutMs, `a line answered through ${LOOPBACK}:${port}`);
};
