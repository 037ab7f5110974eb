// The peers of a proxy under comparison, each reporting an outcome instead of throwing, so that the
// same probe run against stunnel4 and stunnelctl yields two comparable values: a Node TLS echo client
// (certificates, SNI, versions, sessions), a plain echo client, `openssl s_client` with arbitrary
// arguments, and a recording echo backend. No side effects on import.
import { readFileSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { connect as connectTls, createServer as createTlsServer } from 'node:tls';
import type { ConnectionOptions, TlsOptions, TLSSocket } from 'node:tls';
import { LOOPBACK, closeServer, portOf } from '../../helpers/ports.js';
import { startProcess, stopProcess } from '../../helpers/processes.js';
import type { ExitStatus, StartedProcess } from '../../helpers/processes.js';
import { waitFor, withTimeout } from '../../helpers/wait.js';

const EXCHANGE_TIMEOUT_MS = 20_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** After the echo, how long a TLS 1.3 client waits for the server's session ticket. */
const TICKET_WAIT_MS = 3_000;

export interface EchoResult {
  /** The whole payload came back unchanged. */
  ok: boolean;
  received: Buffer;
  /** Why it failed (error code or message), null when ok. */
  error: string | null;
  localPort: number;
  /** TLS only: negotiated protocol, whether the session was resumed, and the session to resume. */
  protocol: string | null;
  reused: boolean;
  session: Buffer | null;
  /** TLS only: CN of the certificate the server presented. */
  peerCommonName: string | null;
}

/** Resolves when `socket` has closed (or at once if it already has). */
const closedPromise = (socket: Socket): Promise<void> =>
  socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));

/**
 * Sends `payload` and waits until as many bytes came back (or the connection failed), then ends the
 * connection and waits until it closed. Never throws for a connection failure: it is the outcome.
 */
const echoOver = async (
  socket: Socket,
  ready: 'connect' | 'secureConnect',
  payload: Buffer,
  afterEcho: () => Promise<void> = () => Promise.resolve(),
  expected: Buffer = payload,
): Promise<{ ok: boolean; received: Buffer; error: string | null; localPort: number }> => {
  const chunks: Buffer[] = [];
  let error: string | null = null;
  let localPort = 0;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (failure: NodeJS.ErrnoException) => {
    error ??= failure.code ?? failure.message;
  });
  const closed = closedPromise(socket);
  const received = (): Buffer => Buffer.concat(chunks);
  try {
    await withTimeout(
      Promise.race([new Promise<void>((resolve) => socket.once(ready, () => resolve())), closed]),
      EXCHANGE_TIMEOUT_MS,
      `the ${ready} of a connection`,
    );
    localPort = socket.localPort ?? 0;
    if (!socket.destroyed) {
      socket.write(payload);
      await waitFor(() => received().length >= expected.length || socket.destroyed || error !== null, {
        what: `${expected.length} bytes back`,
        timeoutMs: EXCHANGE_TIMEOUT_MS,
      });
      if (!socket.destroyed) await afterEcho();
      socket.end();
      await withTimeout(closed, CLOSE_TIMEOUT_MS, 'the connection to close after end()').catch(() => undefined);
    }
  } catch (failure) {
    error ??= (failure as Error).message;
  } finally {
    socket.destroy();
  }
  const all = received();
  const ok = all.equals(expected);
  return { ok, received: all, error: ok ? null : (error ?? `received ${all.length} of ${expected.length} bytes`), localPort };
};

export interface TlsEchoOptions extends Omit<ConnectionOptions, 'host' | 'port'> {
  host?: string;
  /** Wait for a session (ticket) before closing, so it can be resumed. */
  waitForSession?: boolean;
  /** What must come back (default: the payload itself). */
  expect?: Buffer;
}

/** A Node TLS client: handshake, echo `payload`, close (certificates are not verified by the client). */
export const tlsEcho = async (port: number, payload: Buffer, options: TlsEchoOptions = {}): Promise<EchoResult> => {
  const { waitForSession = false, host = LOOPBACK, expect, ...tlsOptions } = options;
  const socket: TLSSocket = connectTls({ host, port, rejectUnauthorized: false, ...tlsOptions });
  let session: Buffer | null = null;
  socket.on('session', (value: Buffer) => {
    session = value;
  });
  let protocol: string | null = null;
  let reused = false;
  let peerCommonName: string | null = null;
  socket.once('secureConnect', () => {
    protocol = socket.getProtocol();
    reused = socket.isSessionReused();
    const commonName = socket.getPeerCertificate().subject?.CN;
    peerCommonName = typeof commonName === 'string' ? commonName : null;
  });
  const result = await echoOver(socket, 'secureConnect', payload, async () => {
    if (waitForSession) {
      await waitFor(() => session !== null, { what: 'a TLS session ticket from the server', timeoutMs: TICKET_WAIT_MS }).catch(() => undefined);
    }
  }, expect);
  return { ...result, protocol, reused, session, peerCommonName };
};

/** A plain TCP client: echo `payload`, close. */
export const plainEcho = async (port: number, payload: Buffer, host = LOOPBACK): Promise<EchoResult> => {
  const socket = connectTcp({ host, port });
  const result = await echoOver(socket, 'connect', payload);
  return { ...result, protocol: null, reused: false, session: null, peerCommonName: null };
};

export interface SClientResult {
  /** The payload line came back (it appears in stdout). */
  echoed: boolean;
  stdout: string;
  stderr: string;
  exit: ExitStatus;
}

/**
 * `openssl s_client -connect 127.0.0.1:PORT ARGS`: sends `line`, waits until it comes back or
 * s_client exits, then closes stdin (s_client sends close_notify) and waits for the exit.
 */
export const runSClient = async (port: number, args: readonly string[], line: string, host = LOOPBACK): Promise<SClientResult> => {
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const started = startProcess('openssl', ['s_client', '-connect', target, '-nocommands', ...args]);
  try {
    started.child.stdin?.write(line);
    const stdout = (): string => started.stdout().toString('utf8');
    await waitFor(() => stdout().includes(line.trim()) || started.exitStatus() !== undefined, {
      what: `"${started.description}" to echo a line or exit`,
      timeoutMs: EXCHANGE_TIMEOUT_MS,
    }).catch(() => undefined);
    started.child.stdin?.end();
    const exit = await withTimeout(started.closed, EXCHANGE_TIMEOUT_MS, `"${started.description}" to exit after stdin EOF`);
    return { echoed: stdout().includes(line.trim()), stdout: stdout(), stderr: started.stderr().toString('utf8'), exit };
  } finally {
    await stopProcess(started);
  }
};

export interface RecordingBackend {
  readonly port: number;
  connectionCount(): number;
  /** Everything connection `index` (accept order) has received so far. */
  received(index: number): Buffer;
  close(): Promise<void>;
}

/**
 * An echo server on 127.0.0.1:0 that also keeps what each connection received. With
 * `skipFirstLine`, the first line (a PROXY header) is kept but not echoed.
 */
export const startRecordingBackend = (options: { skipFirstLine?: boolean } = {}): Promise<RecordingBackend> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<Socket>();
    const receivedBy: Buffer[][] = [];
    const server: Server = createServer((socket) => {
      const chunks: Buffer[] = [];
      receivedBy.push(chunks);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      let skipping = options.skipFirstLine === true;
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        let rest = chunk;
        if (skipping) {
          const newline = rest.indexOf(0x0a);
          if (newline === -1) return;
          skipping = false;
          rest = rest.subarray(newline + 1);
        }
        if (rest.length > 0) socket.write(rest);
      });
      socket.on('end', () => socket.end());
    });
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK }, () =>
      resolve({
        port: portOf(server),
        connectionCount: () => receivedBy.length,
        received: (index) => Buffer.concat(receivedBy[index] ?? []),
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await closeServer(server);
        },
      }),
    );
  });

/** Distinct ports that were free on `host` a moment ago (for ::1, where the shared helper does not look). */
export const getFreePortsOn = async (host: string, count: number): Promise<number[]> => {
  const servers: Server[] = [];
  try {
    for (let index = 0; index < count; index += 1) {
      servers.push(await new Promise<Server>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen({ port: 0, host, exclusive: true }, () => resolve(server));
      }));
    }
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(closeServer));
  }
};

export interface EchoSession {
  readonly localPort: number;
  /** Writes without waiting for anything back. */
  write(data: Buffer): void;
  /** Resolves with everything received once at least `bytes` bytes have arrived in total. */
  expect(bytes: number, timeoutMs?: number): Promise<Buffer>;
  /** Writes `data` and resolves once as many more bytes came back; rejects if the connection ends first. */
  echo(data: Buffer): Promise<void>;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<void>;
  /** Ends the connection and waits until it closed (bounded). */
  close(): Promise<void>;
}

/** A connection held open across other events (a reload, a stop): TLS when `tls` is given, else plain. */
export const openEchoSession = async (port: number, tls?: TlsEchoOptions, host = LOOPBACK): Promise<EchoSession> => {
  const socket: Socket = tls === undefined ? connectTcp({ host, port }) : connectTls({ host, port, rejectUnauthorized: false, ...tls });
  const chunks: Buffer[] = [];
  let failure: Error | undefined;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (error) => {
    failure ??= error;
  });
  const closed = closedPromise(socket);
  await withTimeout(
    Promise.race([
      new Promise<void>((resolve) => socket.once(tls === undefined ? 'connect' : 'secureConnect', () => resolve())),
      closed.then(() => {
        throw failure ?? new Error(`the connection to ${host}:${port} closed before it was established`);
      }),
    ]),
    EXCHANGE_TIMEOUT_MS,
    `a connection to ${host}:${port}`,
  );
  const total = (): number => chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  return {
    localPort: socket.localPort ?? 0,
    write: (data) => {
      socket.write(data);
    },
    expect: async (bytes, timeoutMs = EXCHANGE_TIMEOUT_MS) => {
      const outcome = await waitFor(() => (total() >= bytes ? 'arrived' : socket.destroyed ? 'closed' : undefined), {
        what: `${bytes} bytes over the held connection from port ${socket.localPort ?? 0}`,
        timeoutMs,
      });
      if (outcome === 'closed') throw new Error(`the connection closed after ${total()} of ${bytes} bytes: ${failure?.message ?? 'no error'}`);
      return Buffer.concat(chunks);
    },
    echo: async (data) => {
      const expected = total() + data.length;
      socket.write(data);
      const outcome = await waitFor(() => (total() >= expected ? 'echoed' : socket.destroyed ? 'closed' : undefined), {
        what: `${data.length} bytes echoed over the held connection from port ${socket.localPort ?? 0}`,
        timeoutMs: EXCHANGE_TIMEOUT_MS,
      });
      if (outcome === 'closed') throw new Error(`the connection closed after ${total()} of ${expected} bytes: ${failure?.message ?? 'no error'}`);
    },
    closed,
    close: async () => {
      socket.end();
      await withTimeout(closed, CLOSE_TIMEOUT_MS, 'the held connection to close').catch(() => undefined);
      socket.destroy();
    },
  };
};

export interface TlsBackend {
  readonly port: number;
  connectionCount(): number;
  /** Handshakes that completed, and whether each resumed a session. */
  handshakes(): Array<{ protocol: string | null; reused: boolean }>;
  close(): Promise<void>;
}

/** A TLS echo server on 127.0.0.1:0 (a peer for client mode) with the given certificate options. */
export const startTlsEchoBackend = (options: TlsOptions): Promise<TlsBackend> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<Socket>();
    let accepted = 0;
    const handshakes: Array<{ protocol: string | null; reused: boolean }> = [];
    const server = createTlsServer(options, (socket) => {
      handshakes.push({ protocol: socket.getProtocol(), reused: socket.isSessionReused() });
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    });
    server.on('connection', () => {
      accepted += 1;
    });
    // A handshake a client refuses is that client's outcome, not the backend's failure.
    server.on('tlsClientError', () => undefined);
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK }, () =>
      resolve({
        port: portOf(server),
        connectionCount: () => accepted,
        handshakes: () => [...handshakes],
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await closeServer(server);
        },
      }),
    );
  });

/**
 * Whether something listens on 127.0.0.1:port, read from /proc/net/tcp: unlike a probing connect,
 * this does not hand a connection to a single-shot server.
 */
export const isListening = (port: number): boolean => {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1] === local && fields[3] === '0A';
    });
};

export interface SServer {
  readonly process: StartedProcess;
  /** Application data received from the client so far (s_server -quiet prints only that on stdout). */
  received(): Buffer;
  /** Sends data to the client (s_server forwards its stdin). */
  send(data: Buffer): void;
  stop(): Promise<ExitStatus>;
}

/** `openssl s_server -quiet` on 127.0.0.1:port: prints what the client sends, sends what it is given. */
export const startQuietSServer = async (port: number, certFile: string, keyFile: string, extraArgs: readonly string[] = []): Promise<SServer> => {
  const started = startProcess('openssl', ['s_server', '-accept', `${LOOPBACK}:${port}`, '-cert', certFile, '-key', keyFile, '-quiet', ...extraArgs]);
  try {
    await waitFor(() => {
      if (started.exitStatus() !== undefined) throw new Error(`s_server exited: ${started.stderr().toString()}`);
      return isListening(port);
    }, { what: `"${started.description}" to listen` });
  } catch (error) {
    await stopProcess(started);
    throw error;
  }
  return {
    process: started,
    received: () => started.stdout(),
    send: (data) => {
      started.child.stdin?.write(data);
    },
    stop: () => stopProcess(started),
  };
};
