// Relay integrity: 8 MiB of random data each way at the same time through one proxied connection,
// byte-exact in both directions (sha256), in server mode, in client mode, and through a client-mode
// worker process chained into a server-mode engine. The close summary counts every byte.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSinkSourceServer } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import type { Pki } from '../helpers/pki.js';
import { getFreePorts } from '../helpers/ports.js';
import { stopProcess } from '../helpers/processes.js';
import { acceptedLinePattern, waitForConnectionClosed, waitForLogLine } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { withTimeout } from '../helpers/wait.js';
import { readKeyPair } from './support/certificates.js';
import { GLOBAL_LINES, parseCloseSummary, startEngine } from './support/engine.js';
import { openTcpClient, openTlsClient, startTlsBackend } from './support/peers.js';
import { hashUntilEnd, sha256Of, writeRandom } from './support/streams.js';
import { startWorkerProcess } from './support/worker-process.js';

const EIGHT_MIB = 8 * 1024 * 1024;
const TRANSFER_TIMEOUT_MS = 60_000;

describe('relay integrity: 8 MiB each way simultaneously through one connection', () => {
  let dir = '';
  let pki: Pki;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    dir = makeTempDir('relay');
    pki = await createPki(dir, 'server');
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    removeTempDir(dir);
  });

  it('server mode (TLS in, plain out) delivers both directions byte-exactly and counts them in the close summary', async () => {
    const reply = randomBytes(EIGHT_MIB);
    const backend = await startSinkSourceServer({ reply });
    cleanups.push(() => backend.close());
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[relay]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pki.pemFile}`],
    });
    cleanups.push(() => running.stop());

    const client = await openTlsClient(acceptPort, { allowHalfOpen: true });
    const clientPort = client.localPort ?? 0;
    cleanups.push(() => client.destroy());
    const reader = hashUntilEnd(client, 'the TLS client');
    const writer = writeRandom(client, EIGHT_MIB, { end: true });
    const [sent, received, atBackend] = await withTimeout(
      Promise.all([writer.done, reader.ended, backend.received(0)]),
      TRANSFER_TIMEOUT_MS,
      '8 MiB each way through the server-mode engine',
    );

    assert.deepEqual(atBackend, sent, 'the backend received exactly what the TLS client sent');
    assert.deepEqual(received, { bytes: EIGHT_MIB, sha256: sha256Of(reply) }, 'the TLS client received exactly what the backend sent');
    const id = await running.connectionId(clientPort);
    const summaries = await running.closeSummaries(id);
    assert.equal(summaries.length, 1, `one close summary for connection [${id}]`);
    assert.deepEqual(parseCloseSummary(summaries[0]!), { status: 'closed', toTls: EIGHT_MIB, toSocket: EIGHT_MIB });
  });

  it('client mode (plain in, TLS out) delivers both directions byte-exactly and counts them in the close summary', async () => {
    const reply = randomBytes(EIGHT_MIB);
    const backend = await startTlsBackend({ ...readKeyPair(pki), reply });
    cleanups.push(() => backend.close());
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[relay]', 'client = yes', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`],
    });
    cleanups.push(() => running.stop());

    const client = await openTcpClient(acceptPort, { allowHalfOpen: true });
    const clientPort = client.localPort ?? 0;
    cleanups.push(() => client.destroy());
    const reader = hashUntilEnd(client, 'the plain client');
    const writer = writeRandom(client, EIGHT_MIB, { end: true });
    const [sent, received, atBackend] = await withTimeout(
      Promise.all([writer.done, reader.ended, backend.received(0)]),
      TRANSFER_TIMEOUT_MS,
      '8 MiB each way through the client-mode engine',
    );

    assert.deepEqual(atBackend, sent, 'the TLS backend received exactly what the plain client sent');
    assert.deepEqual(received, { bytes: EIGHT_MIB, sha256: sha256Of(reply) }, 'the plain client received exactly what the TLS backend sent');
    const id = await running.connectionId(clientPort);
    const summaries = await running.closeSummaries(id);
    assert.equal(summaries.length, 1, `one close summary for connection [${id}]`);
    assert.deepEqual(parseCloseSummary(summaries[0]!), { status: 'closed', toTls: EIGHT_MIB, toSocket: EIGHT_MIB });
  });

  it('a client-mode worker process chained into a server-mode engine delivers both directions byte-exactly', async () => {
    const reply = randomBytes(EIGHT_MIB);
    const backend = await startSinkSourceServer({ reply });
    cleanups.push(() => backend.close());
    const [engineAcceptPort, workerAcceptPort] = await getFreePorts(2) as [number, number];
    const running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, 'sslVersion = TLSv1.3', '[server side]', `accept = 127.0.0.1:${engineAcceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pki.pemFile}`],
    });
    cleanups.push(() => running.stop());
    const workerConfig = join(dir, 'client-worker.conf');
    const workerPid = join(dir, 'client-worker.pid');
    const workerLog = join(dir, 'client-worker.log');
    writeFileSync(workerConfig, [
      `pid = ${workerPid}`,
      `output = ${workerLog}`,
      'debug = info',
      '[client side]',
      'client = yes',
      `accept = 127.0.0.1:${workerAcceptPort}`,
      `connect = 127.0.0.1:${engineAcceptPort}`,
      '',
    ].join('\n'));
    const worker = await startWorkerProcess(workerConfig, workerPid);
    cleanups.push(() => stopProcess(worker));

    const client = await openTcpClient(workerAcceptPort, { allowHalfOpen: true });
    const clientPort = client.localPort ?? 0;
    cleanups.push(() => client.destroy());
    const reader = hashUntilEnd(client, 'the plain client of the client-mode worker');
    const writer = writeRandom(client, EIGHT_MIB, { end: true });
    const [sent, received, atBackend] = await withTimeout(
      Promise.all([writer.done, reader.ended, backend.received(0)]),
      TRANSFER_TIMEOUT_MS,
      '8 MiB each way through the worker and the engine',
    );

    assert.deepEqual(atBackend, sent, 'the backend received exactly what the plain client sent');
    assert.deepEqual(received, { bytes: EIGHT_MIB, sha256: sha256Of(reply) }, 'the plain client received exactly what the backend sent');
    const engineLines = running.lines();
    assert.ok(engineLines.some((line) => /^TLSv1\.3 ciphersuite: /.test(line.text)), 'the hop between worker and engine is TLS 1.3');
    const summary = engineLines.filter((line) => /^Connection (closed|reset)/.test(line.text));
    assert.equal(summary.length, 1, `one close summary in the engine log: ${summary.map((line) => line.raw).join(' | ')}`);
    assert.deepEqual(parseCloseSummary(summary[0]!), { status: 'closed', toTls: EIGHT_MIB, toSocket: EIGHT_MIB });
    const accepted = await waitForLogLine(workerLog, acceptedLinePattern('client side', clientPort));
    const workerSummary = await waitForConnectionClosed(workerLog, accepted.id);
    assert.deepEqual(parseCloseSummary(workerSummary), { status: 'closed', toTls: EIGHT_MIB, toSocket: EIGHT_MIB }, workerSummary.raw);
  });
});
