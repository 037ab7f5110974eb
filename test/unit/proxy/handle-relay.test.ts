// The relay's handle-to-handle fast path on real loopback sockets and real TLS: a server-mode relay
// (TLS in, TCP out) built from startHandleRelay alone, as connection.ts builds it, with the client and the
// backend as ordinary Node sockets.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { handleRelayAvailable, startHandleRelay } from '../../../src/proxy/handle-relay.js';
import { createPki, type Pki } from '../../helpers/pki.js';
import { LOOPBACK, closeServer, portOf } from '../../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../../helpers/temp-dir.js';
import { waitFor, withTimeout } from '../../helpers/wait.js';

const MIB = 1024 * 1024;
const EXCHANGE_TIMEOUT_MS = 30_000;

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

interface RelayedConnection {
  /** What startHandleRelay answered for TLS → backend and backend → TLS. */
  piped: [boolean, boolean];
  /** Bytes the relay read, as its onData saw them. */
  toBackend: number;
  toClient: number;
}

interface Relay {
  port: number;
  connections: RelayedConnection[];
  close: () => Promise<void>;
}

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen({ port: 0, host: LOOPBACK }, () => resolve()));
  return portOf(server);
};

/** Where the relay connects: a TCP port on loopback, or a Unix socket's path. */
type BackendAddress = number | string;

/** TLS in, TCP out to `backendAddress`, each direction by startHandleRelay; ends are passed on as half-closes. */
const startRelay = async (pki: Pki, backendAddress: BackendAddress, queueLimitBytes?: number): Promise<Relay> => {
  const connections: RelayedConnection[] = [];
  const sockets = new Set<Socket>();
  const key = readFileSync(pki.keyFile);
  const cert = readFileSync(pki.certFile);
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (raw) => {
    sockets.add(raw);
    const tls = new TLSSocket(raw, { isServer: true, key, cert });
    tls.on('error', () => raw.destroy());
    tls.once('secure', () => {
      tls.pause();
      const target = typeof backendAddress === 'string' ? { path: backendAddress } : { host: LOOPBACK, port: backendAddress };
      const backend = netConnect({ ...target, allowHalfOpen: true }, () => {
        const connection: RelayedConnection = { piped: [false, false], toBackend: 0, toClient: 0 };
        connections.push(connection);
        connection.piped = [
          startHandleRelay(tls, backend, (bytes) => { connection.toBackend += bytes; }) !== null,
          startHandleRelay(backend, tls, (bytes) => { connection.toClient += bytes; }, queueLimitBytes) !== null,
        ];
        tls.on('end', () => backend.end());
        backend.on('end', () => tls.end());
        tls.resume();
        backend.resume();
      });
      sockets.add(backend);
      backend.on('error', () => tls.destroy());
    });
    raw.resume();
  });
  const port = await listen(server);
  return {
    port,
    connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
};

const startBackend = async (handler: (socket: Socket) => void, path?: string): Promise<{ port: BackendAddress; close: () => Promise<void> }> => {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    handler(socket);
  });
  const port = path === undefined
    ? await listen(server)
    : await new Promise<string>((resolve) => server.listen(path, () => resolve(path)));
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
};

const openClient = async (port: number): Promise<TLSSocket> => {
  const client = tlsConnect({ host: LOOPBACK, port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    client.once('secureConnect', () => resolve());
    client.once('error', reject);
  });
  return client;
};

/** Everything a socket receives until its end of stream. */
const readToEnd = (socket: Socket): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
    // A 'data' listener does not restart a socket that was paused explicitly.
    socket.resume();
  });

describe('handle relay: startHandleRelay on real TLS and TCP sockets', () => {
  let dir = '';
  let pki: Pki;

  before(async () => {
    dir = makeTempDir('handle-relay');
    pki = await createPki(dir, 'relay');
  });

  after(() => removeTempDir(dir));

  it('is available on the Node this project runs on (else every relay falls back to the slower streams)', () => {
    assert.equal(handleRelayAvailable(), true);
  });

  const exchange = async (backendPath?: string): Promise<void> => {
    const upload = randomBytes(16 * MIB);
    const download = randomBytes(16 * MIB);
    let backendReceived: (data: Promise<Buffer>) => void = () => undefined;
    const received = new Promise<Buffer>((resolve) => {
      backendReceived = resolve;
    });
    const backend = await startBackend((socket) => {
      backendReceived(readToEnd(socket));
      socket.end(download);
    }, backendPath);
    const relay = await startRelay(pki, backend.port);
    try {
      const client = await openClient(relay.port);
      const reply = readToEnd(client);
      client.end(upload);
      const [got, back] = await withTimeout(Promise.all([reply, received]), EXCHANGE_TIMEOUT_MS, 'both directions');
      assert.equal(sha256(got), sha256(download), `client received ${got.length} of ${download.length} bytes`);
      assert.equal(sha256(back), sha256(upload), `backend received ${back.length} of ${upload.length} bytes`);
      const [connection] = relay.connections;
      assert.deepEqual(connection?.piped, [true, true], 'both directions by handles');
      assert.equal(connection?.toBackend, upload.length);
      assert.equal(connection?.toClient, download.length);
    } finally {
      await relay.close();
      await backend.close();
    }
  };

  it('relays 16 MiB each way at once, byte for byte, and counts every byte it reads', async () => {
    await exchange();
  });

  it('does the same to a backend on a Unix socket (connect = /path)', async () => {
    await exchange(join(dir, 'backend.sock'));
  });

  it('a backend that sends and half-closes at once: its last bytes reach the TLS client before close_notify', async () => {
    // A TLS socket takes one write at a time, so chunks wait in the relay while a write is in flight.
    // Here they pile up: the client reads nothing until the backend has sent everything and its FIN,
    // and the queue limit is lifted so the relay reads all of it. The FIN arrives with megabytes still
    // waiting; ending the TLS side then (close_notify) would cut the reply short.
    const reply = randomBytes(24 * MIB);
    let sent: () => void = () => undefined;
    const backendDone = new Promise<void>((resolve) => {
      sent = resolve;
    });
    const backend = await startBackend((socket) => {
      socket.resume();
      socket.end(reply, () => sent());
    });
    const relay = await startRelay(pki, backend.port, 64 * MIB);
    try {
      const client = await openClient(relay.port);
      client.pause();
      await withTimeout(backendDone, EXCHANGE_TIMEOUT_MS, 'the backend to send everything');
      const connection = await waitFor(() => (relay.connections[0]?.toClient === reply.length ? relay.connections[0] : undefined), { timeoutMs: EXCHANGE_TIMEOUT_MS, what: 'the relay to read the whole reply' });
      assert.equal(connection.toClient, reply.length);
      const got = await withTimeout(readToEnd(client), EXCHANGE_TIMEOUT_MS, 'the reply');
      assert.equal(got.length, reply.length, `${got.length} of ${reply.length} bytes before the end`);
      assert.equal(sha256(got), sha256(reply));
      client.end();
    } finally {
      await relay.close();
      await backend.close();
    }
  });

  it('a backend that stops reading stops the relay reading from the client; everything arrives once it reads again', async () => {
    let backendSocket: Socket | undefined;
    const backend = await startBackend((socket) => {
      backendSocket = socket;
      socket.pause();
    });
    const relay = await startRelay(pki, backend.port);
    const upload = randomBytes(64 * MIB);
    try {
      const client = await openClient(relay.port);
      const done = new Promise<void>((resolve) => client.end(upload, () => resolve()));
      const connection = await waitFor(() => relay.connections[0], { timeoutMs: 5_000, what: 'the relayed connection' });
      // Let the relay run into the stalled backend, then check it stopped: what it read is bounded by
      // the sockets' kernel buffers and its own queue, far below the 64 MiB on offer.
      let last = -1;
      await waitFor(() => {
        const now = connection.toBackend;
        const settled = now > 0 && now === last;
        last = now;
        return settled ? true : undefined;
      }, { timeoutMs: 15_000, intervalMs: 300, what: 'the relay to stop reading' });
      assert.ok(connection.toBackend < 24 * MIB, `the relay read ${connection.toBackend} bytes towards a backend that reads nothing`);
      const socket = backendSocket;
      assert.ok(socket !== undefined);
      const received = readToEnd(socket);
      socket.resume();
      const got = await withTimeout(received, EXCHANGE_TIMEOUT_MS, 'the upload');
      await done;
      assert.equal(sha256(got), sha256(upload), `backend received ${got.length} of ${upload.length} bytes`);
      assert.equal(connection.toBackend, upload.length);
      client.destroy();
    } finally {
      await relay.close();
      await backend.close();
    }
  });

  it('declines what only the streams can relay: a non-socket stream, a source already at its end', async () => {
    const backend = await startBackend((socket) => {
      socket.end('bye');
    });
    try {
      const socket = netConnect({ host: LOOPBACK, port: Number(backend.port), allowHalfOpen: true });
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const stdio = new PassThrough();
      assert.equal(startHandleRelay(stdio, socket, () => undefined), null, 'a PassThrough has no handle');
      assert.equal(startHandleRelay(socket, stdio, () => undefined), null, 'nor as a destination');
      // The backend's "bye" and FIN: once Node has read the end of stream, the socket emits `end` by itself.
      socket.pause();
      await waitFor(() => ((socket as unknown as { _readableState: { ended: boolean } })._readableState.ended ? true : undefined), { timeoutMs: 5_000, what: 'the backend FIN to be read' });
      const other = netConnect({ host: LOOPBACK, port: Number(backend.port) });
      await new Promise<void>((resolve) => other.once('connect', () => resolve()));
      assert.equal(startHandleRelay(socket, other, () => undefined), null, 'a source already ended');
      other.cork();
      other.write('queued');
      assert.equal(startHandleRelay(other, other, () => undefined), null, 'a destination with writes queued in its stream');
      socket.destroy();
      other.destroy();
    } finally {
      await backend.close();
    }
  });
});
