// Real TLS peers: `openssl s_client` as a client of the proxy (one session held open, or a complete
// echo round trip), `openssl s_server -rev` as a TLS backend for client mode, and a Node TLS client
// session whose local port is known (so the proxy's log and connection list can be matched to it).
import { connect as connectTls } from 'node:tls';
import type { SecureVersion, TLSSocket } from 'node:tls';
import { startProcess, stopProcess } from './processes.js';
import type { ExitStatus, StartedProcess } from './processes.js';
import { LOOPBACK } from './ports.js';
import { waitFor, withTimeout } from './wait.js';

export type TlsVersionFlag = 'tls1_3' | 'tls1_2' | 'tls1_1' | 'tls1';

const HANDSHAKE_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 10_000;

export type HandshakeOutcome =
  | { ok: true; protocol: string; cipher: string }
  | { ok: false; exit: ExitStatus; stderr: string };

export interface SClientSession {
  readonly process: StartedProcess;
  /** Waits until the handshake completed or s_client gave up (exited). */
  handshake(): Promise<HandshakeOutcome>;
  send(data: Buffer | string): void;
  /** Waits until at least `bytes` bytes of application data arrived; returns all received so far. */
  waitForOutput(bytes: number, timeoutMs?: number): Promise<Buffer>;
  /** Closes stdin: s_client sends close_notify and exits; returns its exit status. */
  finish(): Promise<ExitStatus>;
  /** Stops s_client (TERM, bounded wait, KILL); for `finally`. */
  stop(): Promise<ExitStatus>;
}

export interface SClientOptions {
  port: number;
  version?: TlsVersionFlag;
  extraArgs?: readonly string[];
}

const parseBriefSummary = (stderr: string): { protocol: string; cipher: string } | undefined => {
  const protocol = /^Protocol version: (\S+)$/m.exec(stderr)?.[1];
  const cipher = /^Ciphersuite: (\S+)$/m.exec(stderr)?.[1];
  return protocol === undefined || cipher === undefined ? undefined : { protocol, cipher };
};

/**
 * Starts `openssl s_client -brief`: the connection summary goes to stderr, only application data to
 * stdout. stdin stays open (s_client would close the connection at stdin EOF) until `finish()`.
 */
export const openSClient = (options: SClientOptions): SClientSession => {
  // -nocommands: a line of payload starting with Q, R or k must be data, not an s_client command.
  const args = ['s_client', '-connect', `${LOOPBACK}:${options.port}`, '-brief', '-nocommands'];
  if (options.version !== undefined) args.push(`-${options.version}`);
  args.push(...(options.extraArgs ?? []));
  const started = startProcess('openssl', args);
  return {
    process: started,
    handshake: () =>
      waitFor<HandshakeOutcome>(
        () => {
          const stderr = started.stderr().toString('utf8');
          const summary = parseBriefSummary(stderr);
          if (summary !== undefined) return { ok: true, ...summary };
          const exit = started.exitStatus();
          return exit === undefined ? undefined : { ok: false, exit, stderr };
        },
        { what: `the TLS handshake of "${started.description}" to complete or fail`, timeoutMs: HANDSHAKE_TIMEOUT_MS },
      ),
    send: (data) => {
      started.child.stdin?.write(data);
    },
    waitForOutput: (bytes, timeoutMs = 30_000) =>
      waitFor(
        () => {
          const output = started.stdout();
          if (output.length >= bytes) return output;
          if (started.exitStatus() !== undefined) {
            throw new Error(`s_client exited after ${output.length} of ${bytes} bytes: ${started.stderr().toString()}`);
          }
          return undefined;
        },
        { what: `${bytes} bytes of application data at "${started.description}"`, timeoutMs },
      ),
    finish: () => {
      started.child.stdin?.end();
      return withTimeout(started.closed, EXIT_TIMEOUT_MS, `"${started.description}" to exit after stdin EOF`);
    },
    stop: () => stopProcess(started),
  };
};

export interface RoundTrip {
  protocol: string;
  cipher: string;
  received: Buffer;
  exit: ExitStatus;
}

/** One complete s_client session: handshake, send `payload`, read as many bytes back, close. */
export const tlsRoundTrip = async (options: SClientOptions & { payload: Buffer }): Promise<RoundTrip> => {
  const session = openSClient(options);
  try {
    const outcome = await session.handshake();
    if (!outcome.ok) {
      throw new Error(`TLS handshake with ${LOOPBACK}:${options.port} failed (exit ${outcome.exit.code}): ${outcome.stderr}`);
    }
    session.send(options.payload);
    await session.waitForOutput(options.payload.length);
    const exit = await session.finish();
    // Everything s_client printed as application data, including anything beyond the expected length.
    return { protocol: outcome.protocol, cipher: outcome.cipher, received: session.process.stdout(), exit };
  } finally {
    await session.stop();
  }
};

export interface SServerOptions {
  port: number;
  certFile: string;
  keyFile: string;
  version?: TlsVersionFlag;
  extraArgs?: readonly string[];
}

/**
 * Starts `openssl s_server -rev` (answers every line with the line reversed) on 127.0.0.1:port and
 * waits for its `ACCEPT`. Stop it with `stopProcess`.
 */
export const startSServer = async (options: SServerOptions): Promise<StartedProcess> => {
  const args = ['s_server', '-accept', `${LOOPBACK}:${options.port}`, '-cert', options.certFile, '-key', options.keyFile, '-rev'];
  if (options.version !== undefined) args.push(`-${options.version}`);
  args.push(...(options.extraArgs ?? []));
  const started = startProcess('openssl', args);
  try {
    await waitFor(
      () => {
        if (started.exitStatus() !== undefined) throw new Error(`s_server exited: ${started.stderr().toString()}`);
        return started.stdout().toString('utf8').includes('ACCEPT');
      },
      { what: `"${started.description}" to print ACCEPT` },
    );
  } catch (error) {
    await stopProcess(started);
    throw error;
  }
  return started;
};

export interface NodeTlsSession {
  readonly socket: TLSSocket;
  /** The client's own port: the proxy logs and lists the connection with it. */
  readonly localPort: number;
  readonly protocol: string;
  /** Negotiated cipher: OpenSSL name and IANA standard name. */
  readonly cipher: { name: string; standardName: string };
  /** Writes `data` and waits until as many bytes more came back (an echo round trip). */
  echo(data: Buffer | string, timeoutMs?: number): Promise<Buffer>;
  /** Every byte received so far. */
  received(): Buffer;
  /** Resolves when the far side has closed the connection. */
  readonly closed: Promise<void>;
  /** Ends the connection (close_notify, then FIN) and waits until it is closed. */
  close(timeoutMs?: number): Promise<void>;
}

/** A Node TLS client connection to 127.0.0.1:port (no certificate verification: the certs are per-run). */
export const openNodeTlsSession = async (
  port: number,
  versions: { min?: SecureVersion; max?: SecureVersion } = {},
): Promise<NodeTlsSession> => {
  const socket = connectTls({
    host: LOOPBACK,
    port,
    rejectUnauthorized: false,
    minVersion: versions.min,
    maxVersion: versions.max,
  });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const failure = new Promise<never>((_, reject) => socket.once('error', reject));
  // Raced against the handshake below; an error after it is seen as a closed connection instead.
  failure.catch(() => undefined);
  await withTimeout(
    Promise.race([new Promise<void>((resolve) => socket.once('secureConnect', () => resolve())), failure]),
    HANDSHAKE_TIMEOUT_MS,
    `a TLS handshake with ${LOOPBACK}:${port}`,
  );
  const received = () => Buffer.concat(chunks);
  const cipher = socket.getCipher();
  return {
    socket,
    localPort: socket.localPort ?? 0,
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: { name: cipher.name, standardName: cipher.standardName },
    echo: async (data, timeoutMs = 10_000) => {
      const expected = received().length + Buffer.byteLength(data);
      socket.write(data);
      await waitFor(
        () => {
          if (socket.destroyed) throw new Error('the TLS connection was closed');
          return received().length >= expected;
        },
        { what: `an echo of ${Buffer.byteLength(data)} bytes over the TLS connection from port ${socket.localPort}`, timeoutMs },
      );
      return received();
    },
    received,
    closed,
    close: async (timeoutMs = 10_000) => {
      socket.end();
      try {
        await withTimeout(closed, timeoutMs, `the TLS connection from port ${socket.localPort} to close`);
      } finally {
        socket.destroy();
      }
    },
  };
};
