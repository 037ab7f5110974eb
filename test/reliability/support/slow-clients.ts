// The slow clients of figure 5, run as their own process (`node slow-clients.js --slow --port P --count
// N`) so the probe measured against them has the test's event loop to itself. It opens N connections
// at once that never finish the TLS handshake (half silent, half stalled after part of a real
// ClientHello), waits until the worker has closed them all (or `--wait-ms` passes) and prints one JSON
// line: how many were closed, and how long each lived. Imported or run without --slow, it does nothing.
import { connect as connectTcp } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { captureClientHello } from './hostile-flood.js';

export interface SlowClientsSummary {
  count: number;
  closed: number;
  /** Shortest lifetime counted from the connect call: the worker's own count is never less. */
  shortestSinceCallMs: number;
  /** Longest lifetime counted from the `connect` event: the worker's own count is never more. */
  longestSinceConnectedMs: number;
}

const LOOPBACK = '127.0.0.1';

interface SlowClient {
  lifetime: { sinceCall: number; sinceConnected: number } | undefined;
  closed: Promise<void>;
  destroy(): void;
}

const openSlowClient = (port: number, prefix: Buffer | undefined): SlowClient => {
  const calledAt = performance.now();
  const socket = connectTcp({ host: LOOPBACK, port });
  let connectedAt = 0;
  const client: SlowClient = {
    lifetime: undefined,
    closed: new Promise((resolve) => {
      socket.once('close', () => {
        const now = performance.now();
        if (connectedAt > 0) client.lifetime = { sinceCall: now - calledAt, sinceConnected: now - connectedAt };
        resolve();
      });
    }),
    destroy: () => socket.destroy(),
  };
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  socket.once('connect', () => {
    connectedAt = performance.now();
    if (prefix !== undefined) socket.write(prefix);
  });
  return client;
};

export const runSlowClients = async (port: number, count: number, waitMs: number): Promise<SlowClientsSummary> => {
  const hello = await captureClientHello();
  const partialHello = hello.subarray(0, Math.floor(hello.length / 2));
  const clients = Array.from({ length: count }, (_, index) => openSlowClient(port, index % 2 === 0 ? undefined : partialHello));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(clients.map((client) => client.closed)),
    new Promise((resolve) => {
      timer = setTimeout(resolve, waitMs);
    }),
  ]);
  clearTimeout(timer);
  const lifetimes = clients.flatMap((client) => (client.lifetime === undefined ? [] : [client.lifetime]));
  for (const client of clients) client.destroy();
  return {
    count,
    closed: lifetimes.length,
    shortestSinceCallMs: Math.min(...lifetimes.map((lifetime) => lifetime.sinceCall)),
    longestSinceConnectedMs: Math.max(...lifetimes.map((lifetime) => lifetime.sinceConnected)),
  };
};

const main = async (): Promise<void> => {
  const { values } = parseArgs({
    options: { slow: { type: 'boolean' }, port: { type: 'string' }, count: { type: 'string' }, 'wait-ms': { type: 'string', default: '30000' } },
    strict: true,
  });
  const summary = await runSlowClients(Number(values.port), Number(values.count), Number(values['wait-ms']));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
};

if (process.argv.includes('--slow')) {
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
