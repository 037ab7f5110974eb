// The peers of an in-process engine on loopback: Node TLS and raw TCP clients that report how their
// connection ended, and a TLS backend (for client mode) that hashes what it receives and can answer
// with a fixed payload. No side effects on import.
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls, createServer as createTlsServer } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { LOOPBACK, closeServer, portOf } from '../../helpers/ports.js';
import { withTimeout } from '../../helpers/wait.js';
import { createStreamRecorder } from '../../helpers/echo-server.js';
import type { StreamDigest } from './streams.js';

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A TLS client of 127.0.0.1:port whose handshake has completed (certificates are not verified unless
 * `options` says so). `allowHalfOpen` is honoured by `tls.connect` though @types/node omits it.
 */
export const openTlsClient = async (port: number, options: ConnectionOptions & { allowHalfOpen?: boolean } = {}): Promise<TLSSocket> => {
  const socket = connectTls({ host: LOOPBACK, port, rejectUnauthorized: false, ...options });
  const failure = new Promise<never>((_, reject) => socket.once('error', reject));
  failure.catch(() => undefined);
  try {
    await withTimeout(
      Promise.race([new Promise<void>((resolve) => socket.once('secureConnect', () => resolve())), failure]),
      CONNECT_TIMEOUT_MS,
      `a TLS handshake with ${LOOPBACK}:${port}`,
    );
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return socket;
};

/** A plain TCP client of 127.0.0.1:port, connected. */
export const openTcpClient = async (port: number, options: { allowHalfOpen?: boolean } = {}): Promise<Socket> => {
  const socket = connectTcp({ host: LOOPBACK, port, allowHalfOpen: options.allowHalfOpen ?? false });
  const failure = new Promise<never>((_, reject) => socket.once('error', reject));
  failure.catch(() => undefined);
  try {
    await withTimeout(
      Promise.race([new Promise<void>((resolve) => socket.once('connect', () => resolve())), failure]),
      CONNECT_TIMEOUT_MS,
      `a TCP connection to ${LOOPBACK}:${port}`,
    );
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return socket;
};

export interface ClosedOutcome {
  /** Bytes received before the close. */
  received: Buffer;
  /** The error code the socket reported, if any (ECONNRESET, ...). */
  errorCode: string | undefined;
  /** Milliseconds from the call to the close. */
  afterMs: number;
}

/**
 * Resolves when `socket` has closed, with what arrived before. Attach right after connecting so no
 * byte is missed. `timeoutMs` bounds the wait.
 */
export const whenClosed = (socket: Socket, timeoutMs: number, what: string): Promise<ClosedOutcome> => {
  const startedMs = Date.now();
  const chunks: Buffer[] = [];
  let errorCode: string | undefined;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (error: NodeJS.ErrnoException) => {
    errorCode = error.code ?? error.message;
  });
  const closed = new Promise<ClosedOutcome>((resolve) => {
    if (socket.closed) resolve({ received: Buffer.concat(chunks), errorCode, afterMs: 0 });
    socket.once('close', () => resolve({ received: Buffer.concat(chunks), errorCode, afterMs: Date.now() - startedMs }));
  });
  return withTimeout(closed, timeoutMs, what);
};

export interface TlsAttempt {
  /** Whether this side saw its handshake complete. */
  secured: boolean;
  /** Application data received before the connection closed. */
  received: Buffer;
  errorCode: string | undefined;
  /** The client's own port (the engine logs it). */
  localPort: number;
}

/**
 * A TLS client that may be refused: connects, sends `payload` and half-closes once secured, and
 * resolves when the connection has closed, however it ended.
 */
export const attemptTls = (port: number, payload: string, options: ConnectionOptions = {}, timeoutMs = CONNECT_TIMEOUT_MS): Promise<TlsAttempt> => {
  const socket = connectTls({ host: LOOPBACK, port, rejectUnauthorized: false, ...options });
  let secured = false;
  let localPort = 0;
  const chunks: Buffer[] = [];
  let errorCode: string | undefined;
  socket.once('connect', () => {
    localPort = socket.localPort ?? 0;
  });
  socket.once('secureConnect', () => {
    secured = true;
    socket.end(payload);
  });
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (error: NodeJS.ErrnoException) => {
    errorCode = error.code ?? error.message;
  });
  const closed = new Promise<TlsAttempt>((resolve) => {
    socket.once('close', () => resolve({ secured, received: Buffer.concat(chunks), errorCode, localPort }));
  });
  return withTimeout(closed, timeoutMs, `a TLS attempt on ${LOOPBACK}:${port} to end`).finally(() => socket.destroy());
};

export interface TlsBackend {
  readonly port: number;
  /** TCP connections accepted so far. */
  connectionCount(): number;
  /** TLS handshakes completed so far. */
  secureCount(): number;
  /** What connection `index` (accept order of completed handshakes) received, once its peer half-closed. */
  received(index: number): Promise<StreamDigest>;
  close(): Promise<void>;
}

/**
 * A TLS server on 127.0.0.1:0 for client-mode tests: hashes what each connection sends; with `reply`,
 * sends it at once and half-closes, else half-closes when the peer has.
 */
export const startTlsBackend = (options: { cert: Buffer; key: Buffer; reply?: Buffer }): Promise<TlsBackend> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<Socket>();
    const recorder = createStreamRecorder('TLS backend');
    let accepted = 0;
    let secure = 0;
    const server = createTlsServer({ cert: options.cert, key: options.key, allowHalfOpen: true }, (socket: TLSSocket) => {
      const index = secure;
      secure += 1;
      socket.on('error', () => socket.destroy());
      recorder.record(socket, index, options.reply);
    });
    server.on('connection', (socket: Socket) => {
      accepted += 1;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    // A handshake the proxy aborts is an expected event in these tests, not a crash.
    server.on('tlsClientError', () => undefined);
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK }, () =>
      resolve({
        port: portOf(server),
        connectionCount: () => accepted,
        secureCount: () => secure,
        received: recorder.received,
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await closeServer(server);
        },
      }),
    );
  });
