// stunnel's per-connection timeouts as the engine enforces them: TIMEOUTidle ends a connection with no
// traffic but not one that keeps talking; TIMEOUTclose ends a half-closed connection whose other side
// goes quiet, but not one whose other side still answers; TIMEOUTbusy ends a handshake that never
// comes (a silent TLS client, or a client-mode target that never answers the ClientHello) while others
// are served.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { setInterval as every } from 'node:timers/promises';
import { startBackend, startEchoServer } from '../helpers/echo-server.js';
import { LOOPBACK, closeServer, getFreePorts, portOf } from '../helpers/ports.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { CONNECTION_CLOSED } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { GLOBAL_LINES, parseCloseSummary, startEngine } from './support/engine.js';
import type { RunningEngine } from './support/engine.js';
import { openTcpClient, openTlsClient, whenClosed } from './support/peers.js';

const ACTIVE_INTERVAL_MS = 300;
const ACTIVE_DURATION_MS = 3_000;
/** A 1 s timeout is checked against a window: not before it, and well within a few seconds after. */
const EARLIEST_MS = 900;
const LATEST_MS = 3_500;

describe('connection timeouts', () => {
  let dir = '';
  let pki: Pki;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    dir = makeTempDir('timeouts');
    pki = await createPki(dir, 'server');
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    removeTempDir(dir);
  });

  const startServerMode = async (extra: readonly string[]): Promise<{ running: RunningEngine; acceptPort: number }> => {
    const backend = await startEchoServer();
    cleanups.push(() => backend.close());
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[timeouts]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pki.pemFile}`, ...extra],
    });
    cleanups.push(() => running.stop());
    return { running, acceptPort };
  };

  it('TIMEOUTidle = 1 resets an idle connection after ~1 s while one that sends every 300 ms for 3 s survives', async () => {
    const { running, acceptPort } = await startServerMode(['TIMEOUTidle = 1']);

    const idle = await openTlsClient(acceptPort);
    const idlePort = idle.localPort ?? 0;
    cleanups.push(() => idle.destroy());
    const idleClosed = whenClosed(idle, 10_000, 'the idle connection to be closed by TIMEOUTidle');
    const active = await openTlsClient(acceptPort);
    const activePort = active.localPort ?? 0;
    cleanups.push(() => active.destroy());
    const echoed: Buffer[] = [];
    active.on('data', (chunk: Buffer) => echoed.push(chunk));

    let sent = 0;
    const startedMs = Date.now();
    for await (const _ of every(ACTIVE_INTERVAL_MS)) {
      assert.ok(!active.destroyed, `the active connection was closed after ${Date.now() - startedMs} ms of traffic every ${ACTIVE_INTERVAL_MS} ms`);
      active.write('tick\n');
      sent += 5;
      if (Date.now() - startedMs >= ACTIVE_DURATION_MS) break;
    }
    await waitFor(() => Buffer.concat(echoed).length >= sent, { what: `the echo of ${sent} bytes on the active connection` });
    const activeClosed = whenClosed(active, 10_000, 'the active connection to close after its end()');
    active.end();
    await activeClosed;

    const idleOutcome = await idleClosed;
    assert.ok(idleOutcome.afterMs >= EARLIEST_MS && idleOutcome.afterMs <= LATEST_MS, `the idle connection was closed after ${idleOutcome.afterMs} ms, expected ~1 s`);
    const idleId = await running.connectionId(idlePort);
    const idleSummaries = await running.closeSummaries(idleId);
    const idleTexts = running.linesOf(idleId).map((line) => line.text);
    assert.ok(idleTexts.includes('transfer: s_poll_wait: TIMEOUTidle exceeded: sending reset'), idleTexts.join('\n'));
    assert.equal(idleSummaries.length, 1);
    assert.deepEqual(parseCloseSummary(idleSummaries[0]!), { status: 'reset', toTls: 0, toSocket: 0 });

    const activeId = await running.connectionId(activePort);
    const activeSummaries = await running.closeSummaries(activeId);
    const activeTexts = running.linesOf(activeId).map((line) => line.text);
    assert.ok(!activeTexts.some((text) => /TIMEOUTidle/.test(text)), activeTexts.join('\n'));
    assert.equal(activeSummaries.length, 1);
    assert.deepEqual(parseCloseSummary(activeSummaries[0]!), { status: 'closed', toTls: sent, toSocket: sent });
  });

  it('TIMEOUTclose = 1 closes a half-closed connection whose backend goes quiet ~1 s after the client\'s end, while one whose backend answers every 300 ms for 3 s stays open until the backend ends', async () => {
    const TICKS = ACTIVE_DURATION_MS / ACTIVE_INTERVAL_MS;
    // The first line says what to do: "quiet" reads on and never answers nor closes; "ticks" answers
    // every 300 ms for 3 s, then ends.
    const backend = await startBackend((socket) => {
      socket.once('data', (first: Buffer) => {
        if (!first.toString().startsWith('ticks')) return;
        let sent = 0;
        const timer = setInterval(() => {
          sent += 1;
          if (sent < TICKS) socket.write('tick\n');
          else {
            clearInterval(timer);
            socket.end('tick\n');
          }
        }, ACTIVE_INTERVAL_MS);
        socket.once('close', () => clearInterval(timer));
      });
    });
    cleanups.push(() => backend.close());
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[close]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pki.pemFile}`, 'TIMEOUTclose = 1', 'TIMEOUTidle = 60'],
    });
    cleanups.push(() => running.stop());

    const quiet = await openTlsClient(acceptPort, { allowHalfOpen: true });
    const quietPort = quiet.localPort ?? 0;
    cleanups.push(() => quiet.destroy());
    const quietClosed = whenClosed(quiet, 10_000, 'the half-closed connection to a quiet backend to be closed by TIMEOUTclose');
    quiet.end('quiet\n');
    const ticking = await openTlsClient(acceptPort, { allowHalfOpen: true });
    const tickingPort = ticking.localPort ?? 0;
    cleanups.push(() => ticking.destroy());
    const tickingClosed = whenClosed(ticking, 15_000, 'the half-closed connection to a ticking backend to end with the backend');
    ticking.end('ticks\n');

    const quietOutcome = await quietClosed;
    assert.ok(quietOutcome.afterMs >= EARLIEST_MS && quietOutcome.afterMs <= LATEST_MS, `the quiet connection was closed after ${quietOutcome.afterMs} ms, expected ~1 s`);
    assert.equal(quietOutcome.errorCode, undefined, 'closed, not reset');
    const quietId = await running.connectionId(quietPort);
    const quietSummaries = await running.closeSummaries(quietId);
    const timeoutLines = running.linesOf(quietId).filter((line) => line.text === 'transfer: s_poll_wait: TIMEOUTclose exceeded: closing');
    assert.deepEqual(timeoutLines.map((line) => line.level), [3], running.linesOf(quietId).map((line) => line.raw).join('\n'));
    assert.equal(quietSummaries.length, 1);
    assert.deepEqual(parseCloseSummary(quietSummaries[0]!), { status: 'closed', toTls: 0, toSocket: 'quiet\n'.length });

    const tickingOutcome = await tickingClosed;
    assert.equal(tickingOutcome.received.toString(), 'tick\n'.repeat(TICKS), 'every tick arrived, then the end');
    assert.ok(tickingOutcome.afterMs >= ACTIVE_DURATION_MS - ACTIVE_INTERVAL_MS, `ended after ${tickingOutcome.afterMs} ms, before the backend had finished`);
    const tickingId = await running.connectionId(tickingPort);
    const tickingSummaries = await running.closeSummaries(tickingId);
    const tickingTexts = running.linesOf(tickingId).map((line) => line.text);
    assert.ok(!tickingTexts.some((text) => /TIMEOUTclose/.test(text)), tickingTexts.join('\n'));
    assert.deepEqual(parseCloseSummary(tickingSummaries[0]!), { status: 'closed', toTls: 'tick\n'.length * TICKS, toSocket: 'ticks\n'.length });
  });

  it('TIMEOUTidle "sending reset" resets both sockets with TCP RST (reset = yes, the default): client and backend see ECONNRESET', async () => {
    let backendSide: { closed: Promise<{ errorCode: string | undefined }> } | undefined;
    const backendSockets = new Set<Socket>();
    // Not half-open: a FIN closes this socket too, so a missing RST shows as a close without error.
    const backendServer = createServer((socket) => {
      backendSockets.add(socket);
      let errorCode: string | undefined;
      socket.on('error', (error: NodeJS.ErrnoException) => {
        errorCode = error.code;
      });
      socket.resume();
      backendSide = { closed: new Promise((resolve) => socket.once('close', () => resolve({ errorCode }))) };
    });
    await new Promise<void>((resolve) => backendServer.listen({ port: 0, host: LOOPBACK }, () => resolve()));
    cleanups.push(async () => {
      for (const socket of backendSockets) socket.destroy();
      await closeServer(backendServer);
    });
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[reset]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${portOf(backendServer)}`, `cert = ${pki.pemFile}`, 'TIMEOUTidle = 1'],
    });
    cleanups.push(() => running.stop());

    const client = await openTlsClient(acceptPort);
    const clientPort = client.localPort ?? 0;
    cleanups.push(() => client.destroy());
    const clientOutcome = await whenClosed(client, 10_000, 'TIMEOUTidle to end the connection');
    const id = await running.connectionId(clientPort);
    await running.waitForLine(/^transfer: s_poll_wait: TIMEOUTidle exceeded: sending reset$/, { id });
    const { closed: backendClosed } = await waitFor(() => backendSide, { what: 'the engine to connect the backend' });
    const atBackend = await withTimeout(backendClosed, 10_000, 'the backend connection to close');
    assert.deepEqual(
      { client: clientOutcome.errorCode, backend: atBackend.errorCode },
      { client: 'ECONNRESET', backend: 'ECONNRESET' },
      'a "Connection reset" must be a TCP RST on both sockets, not an orderly FIN',
    );
  });

  it('TIMEOUTbusy = 1 resets a client that never sends a ClientHello after ~1 s while a normal client is served meanwhile', async () => {
    const { running, acceptPort } = await startServerMode(['TIMEOUTbusy = 1']);

    const silent = await openTcpClient(acceptPort);
    const silentPort = silent.localPort ?? 0;
    cleanups.push(() => silent.destroy());
    const silentClosed = whenClosed(silent, 10_000, 'the silent client to be closed by TIMEOUTbusy');

    const normal = await openTlsClient(acceptPort);
    cleanups.push(() => normal.destroy());
    const normalClosed = whenClosed(normal, 10_000, 'the echo through the normal client');
    normal.end('served meanwhile\n');
    const normalOutcome = await normalClosed;
    assert.equal(normalOutcome.received.toString(), 'served meanwhile\n');
    assert.ok(!silent.closed, 'the normal client was served while the silent one was still waiting for its deadline');

    const silentOutcome = await silentClosed;
    assert.ok(silentOutcome.afterMs >= EARLIEST_MS - 100 && silentOutcome.afterMs <= LATEST_MS, `the silent client was closed after ${silentOutcome.afterMs} ms, expected ~1 s`);
    assert.equal(silentOutcome.received.length, 0);
    const id = await running.connectionId(silentPort);
    const summaries = await running.closeSummaries(id);
    const texts = running.linesOf(id).map((line) => line.text);
    assert.ok(texts.includes('ssl_start: s_poll_wait: TIMEOUTbusy exceeded: sending reset'), texts.join('\n'));
    assert.equal(summaries.length, 1, texts.join('\n'));
    assert.deepEqual(parseCloseSummary(summaries[0]!), { status: 'reset', toTls: 0, toSocket: 0 });
  });

  it('TIMEOUTbusy = 1 in client mode resets a connection whose TLS target accepts TCP but never answers the ClientHello', async () => {
    const mute = new Set<Socket>();
    const muteServer = createServer((socket) => {
      mute.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => muteServer.listen({ port: 0, host: LOOPBACK }, () => resolve()));
    cleanups.push(async () => {
      for (const socket of mute) socket.destroy();
      await closeServer(muteServer);
    });
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[mute target]', 'client = yes', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${portOf(muteServer)}`, 'TIMEOUTbusy = 1'],
    });
    cleanups.push(() => running.stop());

    const client = await openTcpClient(acceptPort);
    const clientPort = client.localPort ?? 0;
    cleanups.push(() => client.destroy());
    const outcome = await withTimeout(whenClosed(client, 10_000, 'the client-mode connection to be closed by TIMEOUTbusy'), 10_000, 'TIMEOUTbusy');
    assert.ok(outcome.afterMs >= EARLIEST_MS - 100 && outcome.afterMs <= LATEST_MS, `closed after ${outcome.afterMs} ms, expected ~1 s`);
    const id = await running.connectionId(clientPort);
    const summaries = await running.closeSummaries(id);
    const texts = running.linesOf(id).map((line) => line.text);
    assert.ok(texts.includes('ssl_start: s_poll_wait: TIMEOUTbusy exceeded: sending reset'), texts.join('\n'));
    assert.equal(running.linesOf(id).filter((line) => CONNECTION_CLOSED.test(line.text)).length, 1, texts.join('\n'));
    assert.equal(parseCloseSummary(summaries[0]!).status, 'reset');
  });
});
