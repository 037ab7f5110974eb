// `protocol = proxy`: before the first payload byte the backend receives HAProxy's PROXY v1 line naming
// the TLS client's address and port and the accepting address and port.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { LOOPBACK, closeServer, getFreePorts, portOf } from '../helpers/ports.js';
import { createPki } from '../helpers/pki.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { withTimeout } from '../helpers/wait.js';
import { GLOBAL_LINES, parseCloseSummary, startEngine } from './support/engine.js';
import type { RunningEngine } from './support/engine.js';
import { openTlsClient } from './support/peers.js';
import { sha256Of } from './support/streams.js';

describe('protocol = proxy sends a PROXY v1 header to the backend', () => {
  let dir = '';
  let running: RunningEngine;
  let acceptPort = 0;
  let received: Promise<Buffer>;
  let backendServer: ReturnType<typeof createServer>;
  const sockets = new Set<Socket>();

  before(async () => {
    dir = makeTempDir('proxy-protocol');
    const pki = await createPki(dir, 'server');
    let resolveReceived!: (data: Buffer) => void;
    received = new Promise((resolve) => {
      resolveReceived = resolve;
    });
    backendServer = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('end', () => {
        resolveReceived(Buffer.concat(chunks));
        socket.end();
      });
      socket.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => backendServer.listen({ port: 0, host: LOOPBACK }, () => resolve()));
    [acceptPort] = await getFreePorts(1) as [number];
    running = await startEngine({
      dir,
      config: [...GLOBAL_LINES, '[proxied]', 'protocol = proxy', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${portOf(backendServer)}`, `cert = ${pki.pemFile}`],
    });
  });

  after(async () => {
    running?.stop();
    for (const socket of sockets) socket.destroy();
    if (backendServer !== undefined) await closeServer(backendServer);
    removeTempDir(dir);
  });

  it('the backend receives "PROXY TCP4 127.0.0.1 127.0.0.1 <client port> <accept port>\\r\\n" and then the payload, byte-exact', async () => {
    const payload = randomBytes(256 * 1024);
    const client = await openTlsClient(acceptPort, { allowHalfOpen: true });
    const clientPort = client.localPort ?? 0;
    try {
      client.end(payload);
      const data = await withTimeout(received, 10_000, 'the backend to read the proxied connection to EOF');
      const header = `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${acceptPort}\r\n`;
      assert.equal(data.subarray(0, header.length).toString('latin1'), header);
      assert.equal(data.length, header.length + payload.length, 'nothing but the header precedes the payload');
      assert.equal(sha256Of(data.subarray(header.length)), sha256Of(payload));
      const id = await running.connectionId(clientPort);
      const summaries = await running.closeSummaries(id);
      assert.equal(summaries.length, 1);
      // stunnel counts payload only: the header is protocol negotiation, not relayed bytes.
      assert.deepEqual(parseCloseSummary(summaries[0]!), { status: 'closed', toTls: 0, toSocket: payload.length });
    } finally {
      client.destroy();
    }
  });
});
