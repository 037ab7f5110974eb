// Backends that misbehave, for figure 6: one that vanishes mid-stream (destroys the socket after N
// bytes), and one that never answers a connect: a listener in another process that never accepts,
// with its accept queue filled, so the kernel drops every further SYN (a blackhole on loopback).
import { createServer, connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { LOOPBACK, closeServer, portOf } from '../../helpers/ports.js';
import { startProcess, stopProcess } from '../../helpers/processes.js';
import type { StartedProcess } from '../../helpers/processes.js';
import { waitFor } from '../../helpers/wait.js';

export interface VanishingBackend {
  port: number;
  /** Bytes each connection had received when it was destroyed. */
  destroyedAfter: number[];
  close(): Promise<void>;
}

/** Accepts, reads until `bytes` have arrived, then destroys the socket without a word. */
export const startVanishingBackend = (bytes: number): Promise<VanishingBackend> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<Socket>();
    const destroyedAfter: number[] = [];
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      let received = 0;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= bytes && !socket.destroyed) {
          destroyedAfter.push(received);
          socket.destroy();
        }
      });
    });
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0 }, () =>
      resolve({
        port: portOf(server),
        destroyedAfter,
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await closeServer(server);
        },
      }),
    );
  });

// The child listens with a backlog of 1, prints its port, then blocks its event loop for good, so
// libuv never calls accept(). SIGTERM keeps its default action (Node installs no handler for it).
const NEVER_ACCEPTING_LISTENER = `
const server = require('node:net').createServer();
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  require('node:fs').writeSync(1, server.address().port + '\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});`;

const FILL_CONNECT_WAIT_MS = 1_000;
const MAX_FILLERS = 16;

export interface BlackholeBackend {
  port: number;
  /** Connections the test made to fill the accept queue. */
  fillers: number;
  close(): Promise<void>;
}

/** Whether a TCP connect completes within `waitMs` (the socket is kept either way). */
const connectsWithin = (socket: Socket, waitMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), waitMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });

/**
 * A port whose SYNs go unanswered. Returns undefined when the kernel here keeps completing handshakes
 * past the backlog (then no blackhole is reproducible on loopback).
 */
export const startBlackholeBackend = async (): Promise<BlackholeBackend | undefined> => {
  const listener: StartedProcess = startProcess(process.execPath, ['-e', NEVER_ACCEPTING_LISTENER]);
  const fillers: Socket[] = [];
  const close = async (): Promise<void> => {
    for (const socket of fillers) socket.destroy();
    await stopProcess(listener);
  };
  try {
    const port = await waitFor(() => Number.parseInt(listener.stdout().toString('utf8'), 10) || undefined, {
      what: 'the never-accepting listener to print its port',
    });
    // Fill the accept queue until a connect hangs: from then on every SYN is dropped.
    for (let index = 0; index < MAX_FILLERS; index += 1) {
      const socket = connectTcp({ host: LOOPBACK, port });
      fillers.push(socket);
      if (!(await connectsWithin(socket, FILL_CONNECT_WAIT_MS))) return { port, fillers: fillers.length, close };
    }
    await close();
    return undefined;
  } catch (error) {
    await close();
    throw error;
  }
};
