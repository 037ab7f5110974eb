// The hostile-input flood of figure 4, run as its own process (`node hostile-flood.js --flood --port P
// --count N`) so it does not share the test's event loop with the probe it is measured against. It
// opens N connections, `--concurrency` at a time, each sending one of: random bytes, a real
// ClientHello cut short, plaintext HTTP, a TLS 1.0-only ClientHello; then it half-closes and waits for
// the worker to close the connection. Prints one JSON line: what was sent and how each connection ended.
// Imported or run without --flood (as `node --test` does with every file under test/), it does nothing.
import { randomBytes, randomInt } from 'node:crypto';
import { connect as connectTcp, createServer } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { parseArgs } from 'node:util';
import { buildTls10ClientHello } from '../../helpers/client-hello.js';

export const FLOOD_KINDS = ['random-bytes', 'truncated-client-hello', 'plaintext-http', 'tls1.0-client-hello'] as const;
export type FloodKind = (typeof FLOOD_KINDS)[number];

export interface FloodSummary {
  attempted: number;
  byKind: Record<FloodKind, number>;
  /** Closed by the worker (FIN or RST) within the per-connection deadline. */
  closedByWorker: number;
  /** Still open at the per-connection deadline: the worker did not end them. */
  timedOut: number;
  /** Connections that could not be made at all, by error code. */
  connectErrors: Record<string, number>;
  durationMs: number;
}

const LOOPBACK = '127.0.0.1';
const PER_CONNECTION_DEADLINE_MS = 10_000;

/** The first flight of a real Node TLS client (TLS 1.2/1.3 ClientHello), captured on a plain listener. */
export const captureClientHello = (): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
        server.close();
      });
    });
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('no capture port'));
        return;
      }
      const client = connectTls({ host: LOOPBACK, port: address.port, rejectUnauthorized: false, servername: 'localhost' });
      client.on('error', () => undefined);
    });
  });

const HTTP_REQUEST = Buffer.from(`GET / HTTP/1.1\r\nHost: ${LOOPBACK}\r\nUser-Agent: hostile-flood\r\n\r\n`);

const buildPayload = (kind: FloodKind, clientHello: Buffer): Buffer => {
  switch (kind) {
    case 'random-bytes':
      return randomBytes(1 + randomInt(4096));
    case 'truncated-client-hello':
      return clientHello.subarray(0, randomInt(1, clientHello.length));
    case 'plaintext-http':
      return HTTP_REQUEST;
    case 'tls1.0-client-hello':
      return buildTls10ClientHello();
  }
};

type Ending = { kind: 'closed' } | { kind: 'timeout' } | { kind: 'connect-error'; code: string };

const hitOnce = (port: number, payload: Buffer): Promise<Ending> =>
  new Promise((resolve) => {
    const socket = connectTcp({ host: LOOPBACK, port });
    let connected = false;
    let done = false;
    const finish = (ending: Ending): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ending);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), PER_CONNECTION_DEADLINE_MS);
    socket.once('connect', () => {
      connected = true;
      socket.end(payload);
    });
    // Whatever the worker answers (an alert, nothing) is read and dropped.
    socket.on('data', () => undefined);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected) finish({ kind: 'connect-error', code: error.code ?? error.message });
    });
    socket.once('close', () => finish(connected ? { kind: 'closed' } : { kind: 'connect-error', code: 'closed before connect' }));
  });

export const runFlood = async (port: number, count: number, concurrency: number): Promise<FloodSummary> => {
  const startedAt = Date.now();
  const clientHello = await captureClientHello();
  const summary: FloodSummary = {
    attempted: 0,
    byKind: { 'random-bytes': 0, 'truncated-client-hello': 0, 'plaintext-http': 0, 'tls1.0-client-hello': 0 },
    closedByWorker: 0,
    timedOut: 0,
    connectErrors: {},
    durationMs: 0,
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const kind = FLOOD_KINDS[next % FLOOD_KINDS.length] ?? 'random-bytes';
      next += 1;
      summary.attempted += 1;
      summary.byKind[kind] += 1;
      const ending = await hitOnce(port, buildPayload(kind, clientHello));
      if (ending.kind === 'closed') summary.closedByWorker += 1;
      else if (ending.kind === 'timeout') summary.timedOut += 1;
      else summary.connectErrors[ending.code] = (summary.connectErrors[ending.code] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  summary.durationMs = Date.now() - startedAt;
  return summary;
};

const main = async (): Promise<void> => {
  const { values } = parseArgs({
    options: { flood: { type: 'boolean' }, port: { type: 'string' }, count: { type: 'string' }, concurrency: { type: 'string', default: '64' } },
    strict: true,
  });
  const summary = await runFlood(Number(values.port), Number(values.count), Number(values.concurrency));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
};

if (process.argv.includes('--flood')) {
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
