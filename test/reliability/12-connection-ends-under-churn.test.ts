// Figure 12, connection ends under churn: clients that behave badly at the end of a connection (send and
// vanish, half-close and vanish, reset mid-stream) alongside well-behaved ones, through a client-mode
// worker in front of a server-mode worker and straight to the server-mode worker over TLS. When the
// clients are gone, no connection may be left open in either worker, and each one logged exactly one
// close summary. (A soak like this found connections left open until TIMEOUTidle, 12 h: a TLS write
// that failed inside the write call, and half-closed connections whose other side went quiet.)
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { startEchoServer } from '../helpers/echo-server.js';
import type { TestHome } from '../helpers/home.js';
import { LOOPBACK } from '../helpers/ports.js';
import { readLogLines } from '../helpers/stunnel-log.js';
import { assertFigure } from './support/figures.js';
import { byScale, SCALE } from './support/scale.js';
import { editConfig, findInternalErrors, installHome, listLogFiles, startHome, withServiceLines } from './support/workers.js';

const CONNECTIONS = byScale(4000, 1200);
const CONCURRENCY = 30;
const PAYLOAD = randomBytes(256 * 1024);
/** How long the workers get to end every connection once the clients are done (TIMEOUTclose is 2 s here). */
const SETTLE_MS = 20_000;
const CONNECT_TIMEOUT_MS = 10_000;

type Behaviour = 'exchange' | 'send-and-vanish' | 'end-and-vanish' | 'reset-mid-stream';
const BEHAVIOURS: readonly Behaviour[] = ['exchange', 'send-and-vanish', 'end-and-vanish', 'reset-mid-stream'];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A plain client of the client-mode worker, or a TLS client of the server-mode worker, connected; with
 * the TCP socket under it (the same socket for a plain client), which a reset has to go through.
 */
const open = (port: number, tls: boolean): Promise<{ socket: Socket; tcp: Socket }> =>
  new Promise((resolve, reject) => {
    const tcp = connectTcp({ host: LOOPBACK, port, allowHalfOpen: true });
    const socket: Socket = tls ? connectTls({ socket: tcp, rejectUnauthorized: false }) : tcp;
    const timer = setTimeout(() => {
      socket.destroy();
      tcp.destroy();
      reject(new Error(`no connection to ${port} within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      resolve({ socket, tcp });
    });
    for (const emitter of new Set([socket, tcp])) {
      emitter.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    }
  });

/** One connection's life; resolves when the client is done with it (whatever the workers did). */
const live = async ({ socket, tcp }: { socket: Socket; tcp: Socket }, behaviour: Behaviour, index: number): Promise<void> => {
  socket.on('error', () => undefined);
  tcp.on('error', () => undefined);
  const bytes = PAYLOAD.subarray(0, 1 + ((index * 7919) % PAYLOAD.length));
  switch (behaviour) {
    case 'exchange': {
      socket.resume();
      const ended = new Promise<void>((resolve) => {
        socket.once('end', () => resolve());
        socket.once('close', () => resolve());
      });
      socket.end(bytes);
      await Promise.race([ended, sleep(CONNECT_TIMEOUT_MS)]);
      socket.destroy();
      return;
    }
    case 'send-and-vanish':
      socket.write(bytes);
      await sleep(index % 10);
      socket.destroy();
      return;
    case 'end-and-vanish':
      socket.end(bytes);
      await sleep(index % 10);
      socket.destroy();
      return;
    case 'reset-mid-stream': {
      socket.resume();
      socket.write(bytes);
      await sleep(index % 20);
      // The TCP connection under a TLS socket has to be reset itself.
      if (!tcp.destroyed) tcp.resetAndDestroy();
      socket.destroy();
      return;
    }
  }
};

const activeConnections = async (home: TestHome): Promise<number> => (await home.status()).json.connections.active;

/** Accepted connections and close summaries across the home's log files. */
const countLog = (home: TestHome): { accepted: number; summaries: number } => {
  const lines = listLogFiles(home.files.log).flatMap((file) => readLogLines(file));
  return {
    accepted: lines.filter((line) => / accepted connection from /.test(line.text)).length,
    summaries: lines.filter((line) => /^Connection (closed|reset|[a-z]+\/[a-z]+): \d+ byte/.test(line.text)).length,
  };
};

describe(`figure 12: connection ends under churn (${SCALE})`, () => {
  it(`${CONNECTIONS} connections that end well or badly, ${CONCURRENCY} at a time: none is left open in either worker, each has one close summary`, { timeout: 600_000 }, async () => {
    const backend = await startEchoServer();
    const server = await installHome(backend.port);
    const client = await installHome(server.acceptPort);
    try {
      editConfig(server, withServiceLines(['    TIMEOUTclose = 2']));
      editConfig(client, withServiceLines(['    client = yes', '    TIMEOUTclose = 2']));
      await startHome(server);
      await startHome(client);

      let next = 0;
      let connectFailures = 0;
      const worker = async (): Promise<void> => {
        for (let index = next++; index < CONNECTIONS; index = next++) {
          const viaTls = index % 2 === 1;
          const behaviour = BEHAVIOURS[Math.floor(index / 2) % BEHAVIOURS.length] ?? 'exchange';
          let connection: { socket: Socket; tcp: Socket };
          try {
            connection = await open(viaTls ? server.acceptPort : client.acceptPort, viaTls);
          } catch {
            // A chain reset can beat the client's own connect event: not what this figure measures.
            connectFailures += 1;
            continue;
          }
          await live(connection, behaviour, index);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));

      // Most connections must have been made, or the figures below would say nothing.
      const made = CONNECTIONS - connectFailures;
      assertFigure('12 connection ends under churn: connections made', `${made}/${CONNECTIONS} (the rest refused by a chain reset)`, `>= ${Math.ceil(CONNECTIONS * 0.9)}`, made >= CONNECTIONS * 0.9);
      const deadline = Date.now() + SETTLE_MS;
      let stillOpen = { server: -1, client: -1 };
      for (;;) {
        stillOpen = { server: await activeConnections(server), client: await activeConnections(client) };
        if ((stillOpen.server === 0 && stillOpen.client === 0) || Date.now() >= deadline) break;
        await sleep(500);
      }
      const leftOpen = stillOpen.server + stillOpen.client;
      assertFigure('12 connection ends under churn: connections left open', `${leftOpen} (server mode ${stillOpen.server}, client mode ${stillOpen.client})`, '0', leftOpen === 0);
      for (const home of [server, client]) {
        const { accepted, summaries } = countLog(home);
        assertFigure(`12 connection ends under churn: one close summary per connection (${home === server ? 'server' : 'client'} mode)`, `${summaries}/${accepted}`, `${accepted}/${accepted}`, summaries === accepted);
      }
      const internal = [...findInternalErrors(server), ...findInternalErrors(client)];
      assertFigure('12 connection ends under churn: internal errors', internal.length, '0', internal.length === 0, internal.slice(0, 5).join('\n'));
    } finally {
      await client.cleanup();
      await server.cleanup();
      await backend.close();
    }
  });
});
