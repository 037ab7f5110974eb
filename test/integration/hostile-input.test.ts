// Hostile input on the TLS port: plaintext HTTP, random bytes, a ClientHello cut short, a TLS 1.0-only
// ClientHello (handcrafted, and from a real `openssl s_client -tls1`). Each ends only its own connection
// with one `Connection reset:` summary, never reaches the backend, and the engine keeps serving.
import { afterEach, before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { LOOPBACK, closeServer, getFreePorts, portOf } from '../helpers/ports.js';
import { createPki } from '../helpers/pki.js';
import { CONNECTION_CLOSED } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { openSClient } from '../helpers/tls-peers.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { GLOBAL_LINES, parseCloseSummary, startEngine } from './support/engine.js';
import type { RunningEngine } from './support/engine.js';
import { openTcpClient, openTlsClient, whenClosed } from './support/peers.js';
import { buildTls10ClientHello } from '../helpers/client-hello.js';

const CLOSE_TIMEOUT_MS = 5_000;

/** The first flight of a real Node TLS client, captured by a plain TCP listener. */
const captureClientHello = async (): Promise<Buffer> => {
  let resolveHello!: (hello: Buffer) => void;
  const hello = new Promise<Buffer>((resolve) => {
    resolveHello = resolve;
  });
  const server = createServer((socket) => {
    socket.once('data', (chunk: Buffer) => {
      resolveHello(chunk);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: LOOPBACK }, () => resolve()));
  const client = connectTls({ host: LOOPBACK, port: portOf(server), rejectUnauthorized: false, servername: 'localhost' });
  client.on('error', () => undefined);
  try {
    return await withTimeout(hello, CLOSE_TIMEOUT_MS, 'a ClientHello from a Node TLS client');
  } finally {
    client.destroy();
    await closeServer(server);
  }
};

/** Random bytes that cannot be the start of a TLS or SSLv2 record, so the engine must reject them at once. */
const randomGarbage = (): Buffer => {
  const bytes = randomBytes(1024);
  bytes[0] = 0x01 + ((bytes[0] ?? 0) % 0x13);
  return bytes;
};

describe('hostile input on the TLS port ends that connection only', () => {
  let dir = '';
  let backend: Backend;
  let running: RunningEngine;
  let acceptPort = 0;
  let served = 0;
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    dir = makeTempDir('hostile');
    const pki = await createPki(dir, 'server');
    backend = await startEchoServer();
    [acceptPort] = await getFreePorts(1) as [number];
    running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[hostile]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pki.pemFile}`],
    });
  });

  after(async () => {
    running?.stop();
    await backend?.close();
    removeTempDir(dir);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Sends `payload` (then FIN when `end`), waits for the engine to close, checks the log and that a normal client is served. */
  const sendHostile = async (payload: Buffer, options: { end: boolean; errorLine?: RegExp }): Promise<void> => {
    const hostile = await openTcpClient(acceptPort);
    const hostilePort = hostile.localPort ?? 0;
    cleanups.push(() => hostile.destroy());
    const closed = whenClosed(hostile, CLOSE_TIMEOUT_MS, 'the engine to close the hostile connection');
    if (options.end) hostile.end(payload);
    else hostile.write(payload);
    const id = await running.connectionId(hostilePort);
    try {
      await closed;
    } catch (error) {
      const transcript = running.linesOf(id).map((line) => line.raw).join('\n');
      throw new Error(`the engine did not end the hostile connection [${id}] within ${CLOSE_TIMEOUT_MS} ms (only TIMEOUTbusy / TIMEOUThandshake would end it, tens of seconds later); its log so far:\n${transcript}`, { cause: error });
    }
    await running.closeSummaries(id);
    const lines = running.linesOf(id);
    const summaries = lines.filter((line) => CONNECTION_CLOSED.test(line.text));
    const transcript = lines.map((line) => line.raw).join('\n');
    assert.equal(summaries.length, 1, `one close summary:\n${transcript}`);
    assert.deepEqual(parseCloseSummary(summaries[0]!), { status: 'reset', toTls: 0, toSocket: 0 }, transcript);
    if (options.errorLine !== undefined) assert.ok(lines.some((line) => options.errorLine!.test(line.text)), `a line matching ${options.errorLine}:\n${transcript}`);
    assert.equal(backend.connectionCount(), served, 'the hostile connection never reached the backend');

    const normal = await openTlsClient(acceptPort);
    cleanups.push(() => normal.destroy());
    const echoed = whenClosed(normal, CLOSE_TIMEOUT_MS, 'a normal echo after the hostile connection');
    normal.end('still serving\n');
    assert.equal((await echoed).received.toString(), 'still serving\n', 'a normal client is served after the hostile connection');
    served += 1;
  };

  it('plaintext HTTP to the TLS port is reset with stunnel\'s "http request" error', async () => {
    await sendHostile(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'), { end: false, errorLine: /^SSL_accept: .*http request$/ });
  });

  it('random bytes to the TLS port are reset with an SSL_accept error', async () => {
    await sendHostile(randomGarbage(), { end: false, errorLine: /^SSL_accept: / });
  });

  it('a ClientHello cut short, then FIN, is reset', async () => {
    const hello = await captureClientHello();
    assert.equal(hello[0], 0x16, 'the captured first flight is a TLS handshake record');
    await sendHostile(hello.subarray(0, Math.floor(hello.length / 2)), { end: true, errorLine: /^SSL_accept: / });
  });

  it('a TCP connect-and-close without a single byte (a health check) is ended at once, not held until TIMEOUTbusy', async () => {
    await sendHostile(Buffer.alloc(0), { end: true, errorLine: /^SSL_accept: Peer suddenly disconnected$/ });
  });

  it('a handcrafted TLS 1.0-only ClientHello is refused with "unsupported protocol" and reset', async () => {
    await sendHostile(buildTls10ClientHello(), { end: false, errorLine: /^SSL_accept: .*unsupported protocol$/ });
  });

  it('a real openssl s_client -tls1 is refused, reset, and the engine keeps serving', async () => {
    const linesBefore = running.lines().length;
    const session = openSClient({ port: acceptPort, version: 'tls1', extraArgs: ['-cipher', 'DEFAULT@SECLEVEL=0'] });
    cleanups.push(() => session.stop());
    const outcome = await session.handshake();
    assert.equal(outcome.ok, false, 'the TLS 1.0 handshake must fail');
    const rejected = await waitFor(
      () => running.lines().slice(linesBefore).find((line) => /^SSL_accept: .*unsupported protocol$/.test(line.text)),
      { what: 'the engine to log the refused TLS 1.0 handshake of s_client', timeoutMs: CLOSE_TIMEOUT_MS },
    );
    const summaries = await running.closeSummaries(rejected.id);
    assert.equal(summaries.length, 1);
    assert.equal(parseCloseSummary(summaries[0]!).status, 'reset');
    const normal = await openTlsClient(acceptPort);
    cleanups.push(() => normal.destroy());
    const echoed = whenClosed(normal, CLOSE_TIMEOUT_MS, 'a normal echo after s_client -tls1');
    normal.end('still serving\n');
    assert.equal((await echoed).received.toString(), 'still serving\n');
  });
});
