// The XCOM deployment of seeds/003, end to end with two real workers (`stunnelctl run CONF`): a
// client-mode worker (plain accept -> TLS 1.3 connect) in front of a server-mode worker (TLS 1.3
// accept -> plain connect). 10 MiB cross both in each direction byte-exactly, half-close included.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { exchangeLine, exchangePlain, sha256, startSinkSourceServer } from '../helpers/echo-server.js';
import type { SinkSourceBackend } from '../helpers/echo-server.js';
import { createPki } from '../helpers/pki.js';
import { getFreePorts } from '../helpers/ports.js';
import { stopProcess } from '../helpers/processes.js';
import type { StartedProcess } from '../helpers/processes.js';
import { CONNECTION_CLOSED, acceptedLinePattern, findMalformedLines, readLogLines, waitForConnectionClosed, waitForLogLine } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { openSClient, startSServer } from '../helpers/tls-peers.js';
import { readPid, startWorker, writeConfig } from '../helpers/worker.js';
import { withTimeout } from '../helpers/wait.js';

const TEN_MIB = 10 * 1024 * 1024;
const TRANSFER_TIMEOUT_MS = 60_000;

interface WorkerFiles {
  config: string;
  pid: string;
  log: string;
}

const workerFiles = (dir: string, name: string): WorkerFiles => ({
  config: join(dir, `${name}.conf`),
  pid: join(dir, `${name}.pid`),
  log: join(dir, `${name}.log`),
});

/**
 * The global part of both files, as in seeds/003 (minus chroot/setuid, which need root paths), with
 * `debug = info` so that the INFO line `Accepting new connections` is logged.
 */
const globalLines = (files: WorkerFiles): string[] => [
  `pid = ${files.pid}`,
  `output = ${files.log}`,
  'debug = info',
  'socket = l:TCP_NODELAY=1',
  'socket = r:TCP_NODELAY=1',
];

describe('XCOM shape: client-mode worker -> TLS 1.3 -> server-mode worker -> plain backend', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let dir = '';
  let clientFiles: WorkerFiles;
  let serverFiles: WorkerFiles;
  let clientWorker: StartedProcess;
  let serverWorker: StartedProcess;
  let sink: SinkSourceBackend;
  let source: SinkSourceBackend;
  let clientAcceptPort = 0;
  let reverseAcceptPort = 0;
  let serverAcceptPort = 0;
  let reverseServerAcceptPort = 0;
  const forwardPayload = randomBytes(TEN_MIB);
  const reversePayload = randomBytes(TEN_MIB);

  before(async () => {
    dir = makeTempDir('xcom');
    cleanups.push(() => removeTempDir(dir));
    const clientPki = await createPki(dir, 'client');
    const serverPki = await createPki(dir, 'server');
    sink = await startSinkSourceServer();
    cleanups.push(() => sink.close());
    source = await startSinkSourceServer({ reply: reversePayload });
    cleanups.push(() => source.close());
    [clientAcceptPort, reverseAcceptPort, serverAcceptPort, reverseServerAcceptPort] = await getFreePorts(4) as [number, number, number, number];

    serverFiles = workerFiles(dir, 'server');
    writeConfig(serverFiles.config, [
      ...globalLines(serverFiles),
      '',
      '[txpi service]',
      `cert = ${serverPki.pemFile}`,
      'ciphers = ALL',
      'sslVersion = TLSv1.3',
      `accept = 127.0.0.1:${serverAcceptPort}`,
      `connect = 127.0.0.1:${sink.port}`,
      '',
      '[txpi reverse]',
      `cert = ${serverPki.pemFile}`,
      'sslVersion = TLSv1.3',
      `accept = 127.0.0.1:${reverseServerAcceptPort}`,
      `connect = 127.0.0.1:${source.port}`,
    ]);
    clientFiles = workerFiles(dir, 'client');
    writeConfig(clientFiles.config, [
      ...globalLines(clientFiles),
      '',
      '[xcom service]',
      'client = yes',
      `cert = ${clientPki.pemFile}`,
      'ciphers = ALL',
      'sslVersion = TLSv1.3',
      `accept = 127.0.0.1:${clientAcceptPort}`,
      `connect = 127.0.0.1:${serverAcceptPort}`,
      '',
      '[xcom reverse]',
      'client = yes',
      'sslVersion = TLSv1.3',
      `accept = 127.0.0.1:${reverseAcceptPort}`,
      `connect = 127.0.0.1:${reverseServerAcceptPort}`,
    ]);

    const server = await startWorker(serverFiles.config, serverFiles.pid);
    serverWorker = server.worker;
    cleanups.push(async () => {
      await stopProcess(serverWorker);
    });
    const client = await startWorker(clientFiles.config, clientFiles.pid);
    clientWorker = client.worker;
    cleanups.push(async () => {
      await stopProcess(clientWorker);
    });
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('writes the pid file with its own pid and logs "Accepting new connections"', async () => {
    for (const [worker, files] of [[serverWorker, serverFiles], [clientWorker, clientFiles]] as const) {
      assert.equal(readPid(files.pid), worker.pid, `pid file ${files.pid} names the worker itself`);
      await waitForLogLine(files.log, /^Accepting new connections$/);
    }
  });

  it('carries 10 MiB from the plain client to the backend, sha256 equal, then half-closes back', async () => {
    const exchange = await exchangePlain(clientAcceptPort, forwardPayload, TRANSFER_TIMEOUT_MS);
    const received = await withTimeout(sink.received(0), TRANSFER_TIMEOUT_MS, 'the sink to see the client half-close');
    assert.equal(received.bytes, TEN_MIB);
    assert.equal(received.sha256, sha256(forwardPayload));
    // The sink half-closed after the client's end arrived: nothing came back, and the end did.
    assert.equal(exchange.bytes, 0);

    const accepted = await waitForLogLine(clientFiles.log, acceptedLinePattern('xcom service', exchange.localPort));
    const closed = await waitForConnectionClosed(clientFiles.log, accepted.id);
    assert.match(closed.text, new RegExp(`: ${TEN_MIB} byte\\(s\\) sent to TLS, 0 byte\\(s\\) sent to socket$`));
    const serverClosed = await waitForLogLine(serverFiles.log, CONNECTION_CLOSED);
    assert.match(serverClosed.text, new RegExp(`: 0 byte\\(s\\) sent to TLS, ${TEN_MIB} byte\\(s\\) sent to socket$`));
  });

  it('carries 10 MiB from the backend back to the plain client, sha256 equal', async () => {
    const exchange = await exchangePlain(reverseAcceptPort, Buffer.alloc(0), TRANSFER_TIMEOUT_MS);
    assert.equal(exchange.bytes, TEN_MIB);
    assert.equal(exchange.sha256, sha256(reversePayload));
    const received = await withTimeout(source.received(0), TRANSFER_TIMEOUT_MS, 'the source backend to see the client half-close');
    assert.equal(received.bytes, 0);
  });

  it('the server-mode worker refuses TLS 1.2 (sslVersion = TLSv1.3) and completes TLS 1.3', async () => {
    const tls12 = openSClient({ port: serverAcceptPort, version: 'tls1_2' });
    try {
      const outcome = await tls12.handshake();
      assert.ok(!outcome.ok, `a TLS 1.2 handshake must fail: ${JSON.stringify(outcome)}`);
      assert.notEqual(outcome.exit.code, 0);
    } finally {
      await tls12.stop();
    }
    const tls13 = openSClient({ port: serverAcceptPort, version: 'tls1_3' });
    try {
      const outcome = await tls13.handshake();
      assert.ok(outcome.ok, `a TLS 1.3 handshake must succeed: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.protocol, 'TLSv1.3');
    } finally {
      await tls13.stop();
    }
  });

  it('the client-mode worker speaks TLS 1.3 to a real OpenSSL server', async () => {
    const [clientPort, sServerPort] = await getFreePorts(2) as [number, number];
    const files = workerFiles(dir, 'client-to-sserver');
    const pki = await createPki(dir, 'sserver');
    const sServer = await startSServer({ port: sServerPort, certFile: pki.certFile, keyFile: pki.keyFile, version: 'tls1_3' });
    let worker: StartedProcess | undefined;
    try {
      writeConfig(files.config, [
        ...globalLines(files),
        '[to s_server]',
        'client = yes',
        'sslVersion = TLSv1.3',
        `accept = 127.0.0.1:${clientPort}`,
        `connect = 127.0.0.1:${sServerPort}`,
      ]);
      worker = (await startWorker(files.config, files.pid)).worker;
      const echo = await exchangeLine(clientPort, 'xcom transfer record 0001\n');
      assert.equal(echo, '1000 drocer refsnart mocx\n');
    } finally {
      if (worker !== undefined) await stopProcess(worker);
      await stopProcess(sServer);
    }
  });

  it('SIGTERM stops both workers with exit 0 and removes their pid files; logs are stunnel-format', async () => {
    for (const [worker, files] of [[clientWorker, clientFiles], [serverWorker, serverFiles]] as const) {
      worker.child.kill('SIGTERM');
      const status = await withTimeout(worker.exited, 10_000, `${files.config} worker to exit after SIGTERM`);
      assert.deepEqual(status, { code: 0, signal: null });
      assert.equal(existsSync(files.pid), false, `pid file ${files.pid} removed`);
      assert.deepEqual(findMalformedLines(files.log), []);
      assert.ok(readLogLines(files.log).length > 0);
    }
  });
});
