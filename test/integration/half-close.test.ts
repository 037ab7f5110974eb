// Half-close through the proxy, both ways, over TLS 1.3 and TLS 1.2 in server mode and once in client
// mode: one side ends its write direction (TLS close_notify + FIN, or a TCP FIN), the other still
// talks, and every byte arrives.
// The connection ends with exactly one `Connection closed:` summary with the right byte counts.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { SecureVersion } from 'node:tls';
import { LOOPBACK, closeServer, getFreePorts, portOf } from '../helpers/ports.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { CONNECTION_CLOSED } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { withTimeout } from '../helpers/wait.js';
import { GLOBAL_LINES, parseCloseSummary, startEngine } from './support/engine.js';
import type { RunningEngine } from './support/engine.js';
import { openTcpClient, openTlsClient } from './support/peers.js';
import { hashUntilEnd, sha256Of } from './support/streams.js';

const REQUEST_BYTES = 200 * 1024;
const REPLY_BYTES = 3 * 1024 * 1024;
const EXCHANGE_TIMEOUT_MS = 30_000;
const VERSIONS: readonly SecureVersion[] = ['TLSv1.3', 'TLSv1.2'];

/** A backend whose per-connection behaviour the test supplies; the handler gets the accepted socket. */
const startBackend = async (handler: (socket: Socket) => void): Promise<{ port: number; close: () => Promise<void> }> => {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    handler(socket);
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: LOOPBACK }, () => resolve()));
  return {
    port: portOf(server),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
};

/** Reads a socket to EOF and resolves with everything it received. */
const readToEnd = (socket: Socket, what: string): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', (error) => reject(new Error(`${what}: ${error.message}`, { cause: error })));
    socket.once('close', () => reject(new Error(`${what}: closed before EOF after ${Buffer.concat(chunks).length} bytes`)));
  });

const assertOneClosedSummary = async (running: RunningEngine, clientPort: number, expected: { toTls: number; toSocket: number }): Promise<void> => {
  const id = await running.connectionId(clientPort);
  const summaries = await running.closeSummaries(id);
  const all = running.linesOf(id).filter((line) => CONNECTION_CLOSED.test(line.text));
  assert.equal(all.length, 1, `exactly one close summary for connection [${id}]: ${all.map((line) => line.raw).join(' | ')}`);
  assert.deepEqual(parseCloseSummary(summaries[0]!), { status: 'closed', ...expected }, summaries[0]!.raw);
};

describe('half-close travels through the proxy in both directions', () => {
  let dir = '';
  let pki: Pki;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    dir = makeTempDir('half-close');
    pki = await createPki(dir, 'server');
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    removeTempDir(dir);
  });

  const startServerMode = async (backendPort: number, version: SecureVersion): Promise<{ running: RunningEngine; acceptPort: number }> => {
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[half-close]', `sslVersion = ${version === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2'}`, `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backendPort}`, `cert = ${pki.pemFile}`],
    });
    cleanups.push(() => running.stop());
    return { running, acceptPort };
  };

  it('client mode: a plain client that ends its write side receives the whole reply the TLS backend sends after reading to EOF', async () => {
    const request = randomBytes(REQUEST_BYTES);
    const reply = randomBytes(REPLY_BYTES);
    let backendSawRequest: Promise<Buffer> | undefined;
    const tlsSockets = new Set<Socket>();
    const tlsBackend = createTlsServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile), allowHalfOpen: true }, (socket) => {
      tlsSockets.add(socket);
      backendSawRequest = readToEnd(socket, 'the TLS backend reading the request');
      backendSawRequest.then(() => socket.end(reply), () => socket.destroy());
    });
    await new Promise<void>((resolve) => tlsBackend.listen({ port: 0, host: LOOPBACK }, () => resolve()));
    cleanups.push(async () => {
      for (const socket of tlsSockets) socket.destroy();
      await closeServer(tlsBackend);
    });
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[half-close client]', 'client = yes', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${portOf(tlsBackend)}`],
    });
    cleanups.push(() => running.stop());

    const client = await openTcpClient(acceptPort, { allowHalfOpen: true });
    const clientPort = client.localPort ?? 0;
    cleanups.push(() => client.destroy());
    const reader = hashUntilEnd(client, 'the plain client reading the reply');
    client.end(request);

    const received = await withTimeout(reader.ended, EXCHANGE_TIMEOUT_MS, 'the reply after the plain client half-closed');
    assert.equal(sha256Of(await backendSawRequest!), sha256Of(request), 'the TLS backend read the whole request to EOF');
    assert.deepEqual(received, { bytes: REPLY_BYTES, sha256: sha256Of(reply) }, 'the plain client received the whole reply');
    await assertOneClosedSummary(running, clientPort, { toTls: REQUEST_BYTES, toSocket: REPLY_BYTES });
  });

  for (const version of VERSIONS) {
    it(`${version}: a client that sends its request and ends its write side receives the whole reply the backend sends after reading to EOF`, async () => {
      const request = randomBytes(REQUEST_BYTES);
      const reply = randomBytes(REPLY_BYTES);
      let backendSawRequest: Promise<Buffer> | undefined;
      const backend = await startBackend((socket) => {
        // Reply only after EOF: the reply can only arrive if the half-close kept the return path open.
        backendSawRequest = readToEnd(socket, 'the backend reading the request');
        backendSawRequest.then(() => socket.end(reply), () => socket.destroy());
      });
      cleanups.push(() => backend.close());
      const { running, acceptPort } = await startServerMode(backend.port, version);

      const client = await openTlsClient(acceptPort, { allowHalfOpen: true });
      const clientPort = client.localPort ?? 0;
      cleanups.push(() => client.destroy());
      assert.equal(client.getProtocol(), version);
      const reader = hashUntilEnd(client, 'the TLS client reading the reply');
      client.end(request);

      const received = await withTimeout(reader.ended, EXCHANGE_TIMEOUT_MS, 'the reply after the client half-closed');
      assert.equal(sha256Of(await backendSawRequest!), sha256Of(request), 'the backend read the whole request to EOF');
      assert.deepEqual(received, { bytes: REPLY_BYTES, sha256: sha256Of(reply) }, 'the client received the whole reply');
      await assertOneClosedSummary(running, clientPort, { toTls: REPLY_BYTES, toSocket: REQUEST_BYTES });
    });

    it(`${version}: a backend that sends and half-closes first still receives everything the client sends afterwards`, async () => {
      const greeting = randomBytes(REPLY_BYTES);
      const upload = randomBytes(REQUEST_BYTES);
      let backendUpload: Promise<Buffer> | undefined;
      const backend = await startBackend((socket) => {
        backendUpload = readToEnd(socket, 'the backend reading the upload');
        backendUpload.catch(() => undefined);
        socket.end(greeting);
      });
      cleanups.push(() => backend.close());
      const { running, acceptPort } = await startServerMode(backend.port, version);

      const client = await openTlsClient(acceptPort, { allowHalfOpen: true });
      const clientPort = client.localPort ?? 0;
      cleanups.push(() => client.destroy());
      const reader = hashUntilEnd(client, 'the TLS client reading the greeting');
      const received = await withTimeout(reader.ended, EXCHANGE_TIMEOUT_MS, 'the greeting and the backend half-close at the client');
      assert.deepEqual(received, { bytes: REPLY_BYTES, sha256: sha256Of(greeting) }, 'the client received the whole greeting, then EOF');

      // The client's direction is still open: send after having seen EOF.
      client.end(upload);
      const uploaded = await withTimeout(backendUpload!, EXCHANGE_TIMEOUT_MS, 'the upload sent after the backend half-closed');
      assert.equal(uploaded.length, REQUEST_BYTES);
      assert.equal(sha256Of(uploaded), sha256Of(upload), 'the backend received the whole upload, then EOF');
      await assertOneClosedSummary(running, clientPort, { toTls: REPLY_BYTES, toSocket: REQUEST_BYTES });
    });
  }
});
