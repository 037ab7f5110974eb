// The N-process engine seen from outside: the worker's engine processes (children whose command line
// holds engine-process.js), which process holds the server side of a proxied TCP connection (socket
// inodes of /proc/PID/fd against /proc/net/tcp), the global options of a home's configuration, and
// TLS clients for these tests (a connection opened first and made to carry a payload later; an
// `openssl s_client` session kept open that reports whether its session was resumed).
import { connect as connectTls } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { LOOPBACK } from './ports.js';
import { isProcessAlive, readProcessArgv, readProcessStatFields, startProcess, stopPid, stopProcess } from './processes.js';
import type { StartedProcess } from './processes.js';
import { waitFor, withTimeout } from './wait.js';
import { openTlsClient } from '../integration/support/peers.js';
import { hashUntilEnd, type StreamDigest } from '../integration/support/streams.js';

/** What the command line of an engine process contains (ARCHITECTURE: forked from this entry). */
export const ENGINE_PROCESS_ENTRY = 'engine-process.js';

const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The parent pid of `pid` (field 4 of /proc/PID/stat), or undefined when it is gone. */
export const parentPidOf = (pid: number): number | undefined => {
  try {
    return Number(readProcessStatFields(pid)[1]);
  } catch {
    return undefined;
  }
};

const livePids = (): number[] =>
  readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);

/** Live child processes of `pid`. */
export const childrenOf = (pid: number): number[] =>
  livePids().filter((candidate) => parentPidOf(candidate) === pid && isProcessAlive(candidate));

export const isEngineProcess = (pid: number): boolean =>
  isProcessAlive(pid) && readProcessArgv(pid).some((arg) => arg.includes(ENGINE_PROCESS_ENTRY));

/** Live children of the worker `workerPid` that are engine processes, sorted. */
export const engineProcessesOf = (workerPid: number): number[] =>
  childrenOf(workerPid).filter(isEngineProcess).sort((a, b) => a - b);

/** Waits until the worker has exactly `count` engine processes; returns their pids. */
export const waitForEngineProcesses = (workerPid: number, count: number, timeoutMs = 15_000): Promise<number[]> =>
  waitFor(
    () => {
      if (!isProcessAlive(workerPid)) throw new Error(`worker ${workerPid} is gone`);
      const engines = engineProcessesOf(workerPid);
      if (engines.length !== count) throw new Error(`worker ${workerPid} has engine processes [${engines.join(', ')}]`);
      return engines;
    },
    { what: `worker ${workerPid} to have exactly ${count} engine process(es) (children running ${ENGINE_PROCESS_ENTRY})`, timeoutMs },
  );

/**
 * Every engine process pid a test has seen, so that `finally` can stop those a dead worker left
 * behind (they are no longer its children then). Only pids still running engine-process.js are
 * signalled (guards against pid reuse).
 */
export class EngineProcessTracker {
  private readonly seen = new Set<number>();

  /** Records the current engine processes of `workerPid` and returns them. */
  observe(workerPid: number): number[] {
    const engines = engineProcessesOf(workerPid);
    for (const pid of engines) this.seen.add(pid);
    return engines;
  }

  add(pids: readonly number[]): void {
    for (const pid of pids) this.seen.add(pid);
  }

  /** Seen pids still alive as engine processes. */
  alive(): number[] {
    return [...this.seen].filter(isEngineProcess);
  }

  async stopAll(): Promise<void> {
    for (const pid of this.alive()) await stopPid(pid, 3_000);
  }
}

/** Socket inodes held open by `pid` (its /proc/PID/fd links `socket:[N]`); empty when it is gone. */
export const socketInodesOf = (pid: number): Set<string> => {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1] !== undefined) inodes.add(match[1]);
    } catch {
      // closed while we looked
    }
  }
  return inodes;
};

interface TcpEntry {
  localPort: number;
  remotePort: number;
  state: string;
  inode: string;
}

const readTcpTable = (): TcpEntry[] => {
  const entries: TcpEntry[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const remote = fields[2];
      const state = fields[3];
      const inode = fields[9];
      if (local === undefined || remote === undefined || state === undefined || inode === undefined) continue;
      entries.push({
        localPort: Number.parseInt(local.split(':')[1] ?? '', 16),
        remotePort: Number.parseInt(remote.split(':')[1] ?? '', 16),
        state,
        inode,
      });
    }
  }
  return entries;
};

const TCP_ESTABLISHED = '01';

/** Inode of the established server-side socket of the connection from 127.0.0.1:clientPort to :acceptPort. */
export const serverSideInode = (acceptPort: number, clientPort: number): string | undefined =>
  readTcpTable().find((entry) => entry.localPort === acceptPort && entry.remotePort === clientPort && entry.state === TCP_ESTABLISHED && entry.inode !== '0')
    ?.inode;

/** The local port of the established connection `pid` holds to `remotePort` (an openssl s_client's own port). */
export const clientPortOfProcess = (pid: number, remotePort: number): number | undefined => {
  const inodes = socketInodesOf(pid);
  return readTcpTable().find((entry) => entry.remotePort === remotePort && entry.state === TCP_ESTABLISHED && inodes.has(entry.inode))?.localPort;
};

/**
 * Which engine process holds the server side of each connection (by client port), waiting until
 * every one is held by exactly one of `engines` and not by the worker (it hands the socket over and
 * must not keep a copy). Returns client port -> engine pid.
 */
export const waitForSocketOwners = (
  workerPid: number,
  engines: readonly number[],
  acceptPort: number,
  clientPorts: readonly number[],
  timeoutMs = 10_000,
): Promise<Map<number, number>> =>
  waitFor(
    () => {
      const held = new Map(engines.map((pid) => [pid, socketInodesOf(pid)] as const));
      const workerHeld = socketInodesOf(workerPid);
      const owners = new Map<number, number>();
      for (const clientPort of clientPorts) {
        const inode = serverSideInode(acceptPort, clientPort);
        if (inode === undefined) throw new Error(`no established socket 127.0.0.1:${acceptPort} <- 127.0.0.1:${clientPort} in /proc/net/tcp`);
        const holders = engines.filter((pid) => held.get(pid)?.has(inode) === true);
        if (holders.length !== 1) throw new Error(`the connection from port ${clientPort} (inode ${inode}) is held by engine processes [${holders.join(', ')}] of [${engines.join(', ')}]`);
        if (workerHeld.has(inode)) throw new Error(`the worker ${workerPid} still holds the connection from port ${clientPort} (inode ${inode}) after handing it to ${holders[0]}`);
        owners.set(clientPort, holders[0] as number);
      }
      return owners;
    },
    { what: `each of ${clientPorts.length} connection(s) to ${acceptPort} to be held by exactly one engine process and not the worker`, timeoutMs },
  );

/** How many connections each engine process holds (every engine listed, zeros included). */
export const countByOwner = (engines: readonly number[], owners: ReadonlyMap<number, number>): Map<number, number> => {
  const counts = new Map<number, number>(engines.map((pid) => [pid, 0]));
  for (const owner of owners.values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  return counts;
};

/**
 * Rewrites a stunnel configuration: drops existing lines of the global options named in `globals`,
 * inserts `globals` before the first section, and appends `tail` (more sections) at the end.
 */
export const editConfig = (configFile: string, globals: readonly string[], tail: readonly string[] = []): void => {
  const names = new Set(globals.map((line) => line.split('=')[0]?.trim().toLowerCase() ?? ''));
  const lines = readFileSync(configFile, 'utf8').split('\n');
  const firstSection = lines.findIndex((line) => line.trim().startsWith('['));
  const head = (firstSection < 0 ? lines : lines.slice(0, firstSection)).filter(
    (line) => !names.has(line.split('=')[0]?.trim().toLowerCase() ?? ''),
  );
  const rest = firstSection < 0 ? [] : lines.slice(firstSection);
  writeFileSync(configFile, [...head, ...globals, ...rest, ...tail, ''].join('\n'));
};

/** A service section for `editConfig`'s tail. */
export const serviceSection = (name: string, acceptPort: number, connectPort: number, certFile: string, more: readonly string[] = []): string[] => [
  `[${name}]`,
  `    accept = ${LOOPBACK}:${acceptPort}`,
  `    connect = ${LOOPBACK}:${connectPort}`,
  `    cert = ${certFile}`,
  ...more.map((line) => `    ${line}`),
];

export type Digest = StreamDigest;

export interface OpenTlsConnection {
  readonly socket: TLSSocket;
  readonly localPort: number;
  /** Writes `payload`, half-closes, and hashes everything received until the far side half-closes. */
  exchange(payload: Buffer, timeoutMs?: number): Promise<Digest>;
}

/** A TLS connection to 127.0.0.1:port that keeps half-open connections, handshake completed. */
export const openTlsConnection = async (port: number): Promise<OpenTlsConnection> => {
  const socket = await openTlsClient(port, { allowHalfOpen: true });
  const { ended } = hashUntilEnd(socket, `TLS connection from port ${socket.localPort}`);
  ended.catch(() => undefined);
  return {
    socket,
    localPort: socket.localPort ?? 0,
    exchange: (payload, timeoutMs = 60_000) => {
      socket.end(payload);
      return withTimeout(ended, timeoutMs, `${payload.length} bytes each way through the TLS connection from port ${socket.localPort}`);
    },
  };
};

export type TlsAttemptOutcome = { accepted: true; socket: TLSSocket } | { accepted: false; reason: string };

/** Tries a TLS handshake with 127.0.0.1:port; a refusal (reset, close before the handshake) is an outcome, not an error. */
export const attemptTlsHandshake = (port: number, timeoutMs = HANDSHAKE_TIMEOUT_MS): Promise<TlsAttemptOutcome> =>
  withTimeout(
    new Promise<TlsAttemptOutcome>((resolve) => {
      const socket = connectTls({ host: LOOPBACK, port, rejectUnauthorized: false });
      socket.once('secureConnect', () => resolve({ accepted: true, socket }));
      socket.once('error', (error) => {
        socket.destroy();
        resolve({ accepted: false, reason: error.message });
      });
      socket.once('close', () => resolve({ accepted: false, reason: 'closed before the handshake completed' }));
    }),
    timeoutMs,
    `a TLS handshake with ${LOOPBACK}:${port} to complete or be refused`,
  );

export interface ResumingSClient {
  readonly process: StartedProcess;
  /** `New` or `Reused`, and the protocol, from s_client's `New, TLSv1.3, Cipher is ...` line. */
  readonly outcome: { how: string; protocol: string };
  /** Sends a line and waits until it came back (an echo backend). */
  echo(line: string, timeoutMs?: number): Promise<void>;
  /** Closes stdin (close_notify), waits for exit. */
  finish(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `openssl s_client` (not -brief: it prints `New|Reused, PROTOCOL, Cipher is ...`), stdin kept open
 * so the connection stays up until `finish()`.
 */
export const openResumingSClient = async (port: number, args: readonly string[]): Promise<ResumingSClient> => {
  const started = startProcess('openssl', ['s_client', '-connect', `${LOOPBACK}:${port}`, '-nocommands', ...args]);
  const stop = async (): Promise<void> => {
    await stopProcess(started);
  };
  try {
    const outcome = await waitFor(
      () => {
        const match = /^(New|Reused), (TLSv[\d.]+), Cipher is/m.exec(started.stdout().toString('utf8'));
        if (match !== null) return { how: match[1] ?? '', protocol: match[2] ?? '' };
        const exit = started.exitStatus();
        if (exit !== undefined) throw new Error(`s_client exited (${exit.code ?? exit.signal}): ${started.stderr().toString()}`);
        return undefined;
      },
      { what: `"${started.description}" to report New or Reused`, timeoutMs: HANDSHAKE_TIMEOUT_MS },
    );
    return {
      process: started,
      outcome,
      echo: async (line, timeoutMs = 10_000) => {
        const before = started.stdout().toString('utf8').split(line).length;
        started.child.stdin?.write(`${line}\n`);
        await waitFor(() => started.stdout().toString('utf8').split(line).length > before, {
          what: `the echo of "${line}" at "${started.description}"`,
          timeoutMs,
        });
      },
      finish: async () => {
        started.child.stdin?.end();
        await withTimeout(started.exited, 10_000, `"${started.description}" to exit after stdin EOF`);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};
