// Loopback ports for the tests: a free port (bind 127.0.0.1:0, read it, close), whether a port accepts
// connections, and a listener that holds a port busy.
import { createServer, connect } from 'node:net';
import type { Server } from 'node:net';
import { waitFor } from './wait.js';

export const LOOPBACK = '127.0.0.1';
const PROBE_TIMEOUT_MS = 2_000;

/** A port that was free a moment ago on 127.0.0.1 (the kernel's choice for port 0). */
export const getFreePort = async (): Promise<number> => {
  const server = await listenOn(0);
  const port = portOf(server);
  await closeServer(server);
  return port;
};

/** Distinct free ports: all held open together while choosing, so no two are the same. */
export const getFreePorts = async (count: number): Promise<number[]> => {
  const servers: Server[] = [];
  try {
    for (let index = 0; index < count; index += 1) servers.push(await listenOn(0));
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(closeServer));
  }
};

/** A plain listener on 127.0.0.1:port that accepts and ignores connections (keeps a port in use). */
export const listenOn = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => resolve(server));
  });

export const portOf = (server: Server): number => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return address.port;
};

export const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close((error) => (error === undefined ? resolve() : reject(error)));
  });

/** Whether a TCP connect to 127.0.0.1:port succeeds (the connection is closed at once). */
export const isAccepting = (port: number): Promise<boolean> =>
  new Promise((resolve, reject) => {
    const socket = connect({ port, host: LOOPBACK });
    socket.setTimeout(PROBE_TIMEOUT_MS, () => {
      socket.destroy();
      reject(new Error(`connect to ${LOOPBACK}:${port} neither succeeded nor was refused in ${PROBE_TIMEOUT_MS} ms`));
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') resolve(false);
      else reject(error);
    });
  });

export const waitUntilAccepting = (port: number, timeoutMs?: number): Promise<true> =>
  waitFor(() => isAccepting(port), { what: `${LOOPBACK}:${port} to accept connections`, timeoutMs });

export const waitUntilRefusing = (port: number, timeoutMs?: number): Promise<true> =>
  waitFor(async () => !(await isAccepting(port)), { what: `${LOOPBACK}:${port} to refuse connections`, timeoutMs });
