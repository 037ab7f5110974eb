// Backpressure: when one side stops reading, the engine stops reading from the other, so a fast sender
// is stalled by TCP flow control instead of filling the engine's memory; when the slow side resumes,
// every byte arrives, in order. Both directions of a server-mode connection, 64 MiB each.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { LOOPBACK, closeServer, getFreePorts, portOf } from '../helpers/ports.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { GLOBAL_LINES, parseCloseSummary, startEngine } from './support/engine.js';
import type { RunningEngine } from './support/engine.js';
import { openTlsClient } from './support/peers.js';
import { waitUntilStill } from './support/progress.js';
import { hashUntilEnd, writeRandom } from './support/streams.js';

const SIXTY_FOUR_MIB = 64 * 1024 * 1024;
const STALL_LIMIT_BYTES = 16 * 1024 * 1024;
/** RSS may grow by socket buffers and garbage chunks, never by a large part of the 64 MiB in flight. */
const RSS_GROWTH_LIMIT_BYTES = 48 * 1024 * 1024;
const STALL_QUIET_MS = 1_000;
const STALL_TIMEOUT_MS = 30_000;
const TRANSFER_TIMEOUT_MS = 90_000;
const MIB = 1024 * 1024;

/** A backend that accepts connections paused: nothing is read until the test resumes the socket. */
const startPausedBackend = (): Promise<{ server: Server; port: number; socket: () => Promise<Socket> }> =>
  new Promise((resolve, reject) => {
    let accepted: ((socket: Socket) => void) | undefined;
    const first = new Promise<Socket>((resolveSocket) => {
      accepted = resolveSocket;
    });
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
      socket.on('error', () => socket.destroy());
      accepted?.(socket);
    });
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK }, () => resolve({ server, port: portOf(server), socket: () => first }));
  });

describe('backpressure: a side that stops reading stalls the other, and nothing is lost', () => {
  let dir = '';
  let pki: Pki;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    dir = makeTempDir('backpressure');
    pki = await createPki(dir, 'server');
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    removeTempDir(dir);
  });

  const startServerMode = async (backendPort: number): Promise<{ running: RunningEngine; acceptPort: number }> => {
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[bulk]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backendPort}`, `cert = ${pki.pemFile}`],
    });
    cleanups.push(() => running.stop());
    return { running, acceptPort };
  };

  it('a backend that stops reading stalls a TLS client sending 64 MiB below 16 MiB, then receives every byte in order', async (t) => {
    const backend = await startPausedBackend();
    cleanups.push(() => closeServer(backend.server));
    const { running, acceptPort } = await startServerMode(backend.port);
    const rssBefore = process.memoryUsage().rss;

    const client = await openTlsClient(acceptPort);
    const clientPort = client.localPort ?? 0;
    cleanups.push(() => client.destroy());
    const writer = writeRandom(client, SIXTY_FOUR_MIB, { end: true });
    const backendSocket = await withTimeout(backend.socket(), 10_000, 'the engine to connect the backend');
    cleanups.push(() => backendSocket.destroy());

    const stalledAt = await waitUntilStill(writer.flushed, { what: 'the bytes the TLS client got written', quietMs: STALL_QUIET_MS, timeoutMs: STALL_TIMEOUT_MS, atLeast: 1 });
    const engineTook = running.engine.connections()[0]?.bytesToSocket ?? -1;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    t.diagnostic(`client stalled after ${(stalledAt / MIB).toFixed(1)} MiB written; engine passed ${(engineTook / MIB).toFixed(1)} MiB to the backend; RSS grew ${(rssGrowth / MIB).toFixed(1)} MiB`);
    assert.ok(stalledAt < STALL_LIMIT_BYTES, `the client stalled after ${stalledAt} bytes, expected < ${STALL_LIMIT_BYTES}`);
    assert.ok(engineTook >= 0 && engineTook < STALL_LIMIT_BYTES, `the engine passed ${engineTook} bytes to the non-reading backend, expected < ${STALL_LIMIT_BYTES}`);
    assert.ok(rssGrowth < RSS_GROWTH_LIMIT_BYTES, `RSS grew by ${rssGrowth} bytes while stalled, expected < ${RSS_GROWTH_LIMIT_BYTES}`);

    const reader = hashUntilEnd(backendSocket, 'the resumed backend');
    backendSocket.resume();
    const [sent, received] = await withTimeout(Promise.all([writer.done, reader.ended]), TRANSFER_TIMEOUT_MS, 'the stalled 64 MiB to arrive after the backend resumed');
    assert.deepEqual(received, sent, 'the backend received all 64 MiB, in order');
    assert.equal(sent.bytes, SIXTY_FOUR_MIB);

    backendSocket.end();
    const id = await running.connectionId(clientPort);
    const summaries = await running.closeSummaries(id);
    assert.equal(summaries.length, 1);
    assert.deepEqual(parseCloseSummary(summaries[0]!), { status: 'closed', toTls: 0, toSocket: SIXTY_FOUR_MIB });
  });

  it('a TLS client that stops reading stalls a backend sending 64 MiB below 16 MiB, then receives every byte in order', async (t) => {
    let backendWriter: ReturnType<typeof writeRandom> | undefined;
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => socket.destroy());
      backendWriter = writeRandom(socket, SIXTY_FOUR_MIB, { end: true });
    });
    await new Promise<void>((resolve) => server.listen({ port: 0, host: LOOPBACK }, () => resolve()));
    cleanups.push(() => closeServer(server));
    const { running, acceptPort } = await startServerMode(portOf(server));
    const rssBefore = process.memoryUsage().rss;

    const client = await openTlsClient(acceptPort, { allowHalfOpen: true });
    const clientPort = client.localPort ?? 0;
    cleanups.push(() => client.destroy());
    client.pause();
    const writer = await waitFor(() => backendWriter, { what: 'the engine to connect the backend' });

    const stalledAt = await waitUntilStill(writer.flushed, { what: 'the bytes the backend got written', quietMs: STALL_QUIET_MS, timeoutMs: STALL_TIMEOUT_MS, atLeast: 1 });
    const engineTook = running.engine.connections()[0]?.bytesToTls ?? -1;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    t.diagnostic(`backend stalled after ${(stalledAt / MIB).toFixed(1)} MiB written; engine passed ${(engineTook / MIB).toFixed(1)} MiB to TLS; RSS grew ${(rssGrowth / MIB).toFixed(1)} MiB`);
    assert.ok(stalledAt < STALL_LIMIT_BYTES, `the backend stalled after ${stalledAt} bytes, expected < ${STALL_LIMIT_BYTES}`);
    assert.ok(engineTook >= 0 && engineTook < STALL_LIMIT_BYTES, `the engine passed ${engineTook} bytes to the non-reading TLS client, expected < ${STALL_LIMIT_BYTES}`);
    assert.ok(rssGrowth < RSS_GROWTH_LIMIT_BYTES, `RSS grew by ${rssGrowth} bytes while stalled, expected < ${RSS_GROWTH_LIMIT_BYTES}`);

    const reader = hashUntilEnd(client, 'the resumed TLS client');
    client.resume();
    const [sent, received] = await withTimeout(Promise.all([writer.done, reader.ended]), TRANSFER_TIMEOUT_MS, 'the stalled 64 MiB to arrive after the client resumed');
    assert.deepEqual(received, sent, 'the TLS client received all 64 MiB, in order');

    client.end();
    const id = await running.connectionId(clientPort);
    const summaries = await running.closeSummaries(id);
    assert.equal(summaries.length, 1);
    assert.deepEqual(parseCloseSummary(summaries[0]!), { status: 'closed', toTls: SIXTY_FOUR_MIB, toSocket: 0 });
  });
});
