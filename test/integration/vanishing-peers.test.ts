// A TLS peer that half-closes (close_notify + FIN) and then goes away while the other side is still
// sending towards it: the proxy's next TLS write fails at once (EPIPE or ECONNRESET from the kernel),
// and every such connection must still end, with its close summary, and leave nothing behind.
// Server mode: TLS clients that send, end and vanish while the echo backend answers. Client mode: a TLS
// backend that ends and vanishes while the plain client still uploads.
// (A soak found the first one: a TLS handle completes a write that fails at once inside the write
// call, and a relay that took that completion for a late one left 20-50% of these connections open
// until TIMEOUTidle.)
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { startEchoServer } from '../helpers/echo-server.js';
import { LOOPBACK, closeServer, getFreePorts, portOf } from '../helpers/ports.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { CONNECTION_CLOSED } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { GLOBAL_LINES, startEngine } from './support/engine.js';
import type { RunningEngine } from './support/engine.js';
import { openTcpClient, openTlsClient } from './support/peers.js';

const CONNECTIONS = 40;
const AT_ONCE = 10;
const PAYLOAD_BYTES = 256 * 1024;
/** How long every connection gets to end once its peers are gone. */
const SETTLE_TIMEOUT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every accepted connection has ended (none open in the engine) and logged exactly one close summary. */
const assertAllEnded = async (running: RunningEngine, expected: number): Promise<void> => {
  const countAccepted = (): number => running.lines().filter((line) => /accepted connection from/.test(line.text)).length;
  await waitFor(() => countAccepted() === expected, { what: `${expected} accepted connections in the log`, timeoutMs: SETTLE_TIMEOUT_MS });
  try {
    await waitFor(() => running.engine.activeConnections === 0, { what: 'every connection to end', timeoutMs: SETTLE_TIMEOUT_MS });
  } catch {
    assert.fail(`${running.engine.activeConnections} of ${expected} connections were still open ${SETTLE_TIMEOUT_MS / 1000} s after their peers had gone`);
  }
  const summaries = running.lines().filter((line) => CONNECTION_CLOSED.test(line.text));
  assert.equal(summaries.length, expected, 'one close summary per connection');
  assert.equal(new Set(summaries.map((line) => line.id)).size, expected, 'no connection summarised twice');
  // EPIPE comes only from a write: stunnel reports it as SSL_write's error.
  const misnamed = running.lines().filter((line) => /^SSL_read: Broken pipe/.test(line.text));
  assert.deepEqual(misnamed.map((line) => line.raw), [], 'a failed TLS write is logged as SSL_write');
};

describe('a TLS peer that half-closes and vanishes while bytes still flow towards it', () => {
  let dir = '';
  let pki: Pki;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    dir = makeTempDir('vanishing-peers');
    pki = await createPki(dir, 'server');
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    removeTempDir(dir);
  });

  it(`server mode: ${CONNECTIONS} TLS clients that send, end and go away while the echo comes back all end`, async () => {
    const backend = await startEchoServer();
    cleanups.push(() => backend.close());
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[vanishing clients]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pki.pemFile}`],
    });
    cleanups.push(() => running.stop());

    const clients = new Set<TLSSocket>();
    cleanups.push(() => { for (const client of clients) client.destroy(); });
    const payload = randomBytes(PAYLOAD_BYTES);
    for (let first = 0; first < CONNECTIONS; first += AT_ONCE) {
      await Promise.all(Array.from({ length: AT_ONCE }, async (_, offset) => {
        const client = await openTlsClient(acceptPort, { allowHalfOpen: true });
        clients.add(client);
        client.on('error', () => undefined);
        // Reads nothing: the echo piles up towards a peer that is about to go.
        client.pause();
        client.end(payload);
        // Gone after 0-4 ms, while the backend is still echoing.
        await sleep((first + offset) % 5);
        client.destroy();
      }));
    }

    await assertAllEnded(running, CONNECTIONS);
  });

  it(`client mode: a TLS backend that ends and goes away while ${CONNECTIONS} plain clients still upload leaves no connection open`, async () => {
    const backendSockets = new Set<Socket>();
    const tlsBackend = createTlsServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile), allowHalfOpen: true }, (socket) => {
      backendSockets.add(socket);
      socket.on('error', () => undefined);
      // Ends at once, then goes away after 0-4 ms, while the client's upload is still on its way.
      socket.end();
      setTimeout(() => socket.destroy(), backendSockets.size % 5);
    });
    await new Promise<void>((resolve) => tlsBackend.listen({ port: 0, host: LOOPBACK }, () => resolve()));
    cleanups.push(async () => {
      for (const socket of backendSockets) socket.destroy();
      await closeServer(tlsBackend);
    });
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[vanishing backend]', 'client = yes', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${portOf(tlsBackend)}`],
    });
    cleanups.push(() => running.stop());

    const clients = new Set<Socket>();
    cleanups.push(() => { for (const client of clients) client.destroy(); });
    const payload = randomBytes(PAYLOAD_BYTES);
    for (let first = 0; first < CONNECTIONS; first += AT_ONCE) {
      await Promise.all(Array.from({ length: AT_ONCE }, async () => {
        const client = await openTcpClient(acceptPort, { allowHalfOpen: true });
        clients.add(client);
        client.on('error', () => undefined);
        client.resume();
        // Uploads in pieces for a while, whatever happens to the connection.
        for (let piece = 0; piece < 8 && !client.destroyed; piece += 1) {
          client.write(payload);
          await sleep(1);
        }
        client.end();
      }));
    }

    await assertAllEnded(running, CONNECTIONS);
  });
});
