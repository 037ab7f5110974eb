// Latency: 5,000 sequential 64-byte round trips over one TLS connection through a server-mode
// worker to the echo backend (after a warm-up), timed here with the high-resolution clock:
// p50, p99 and max in microseconds, one sample of each per run (a tail is noisy on a shared
// machine, so a full run makes several runs per round). Each implementation's first run of a bench
// run only settles the machine and is not counted: stunnel always runs first in a round (A B A B), so
// without it stunnel alone took the first run after the previous group, whose tail was 3-4x the others.
import { once } from 'node:events';
import { connect, type TLSSocket } from 'node:tls';
import type { MeasureContext } from '../context.js';
import { LOOPBACK, reservePorts } from '../ports.js';
import type { ImplementationName } from '../proxies.js';
import { percentile } from '../stats.js';

const ROUND_TRIP_TIMEOUT_MS = 10_000;
const NANOSECONDS_PER_MICROSECOND = 1000n;

/** Sends `payload`, resolves when as many bytes have come back, and checks they are the same. */
const makeRoundTripper = (socket: TLSSocket): ((payload: Buffer) => Promise<void>) => {
  let pending: { payload: Buffer; received: Buffer[]; length: number; resolve: () => void; reject: (error: Error) => void } | undefined;
  socket.on('data', (chunk: Buffer) => {
    if (pending === undefined) return;
    pending.received.push(chunk);
    pending.length += chunk.length;
    if (pending.length < pending.payload.length) return;
    const { payload, received, resolve, reject } = pending;
    pending = undefined;
    if (Buffer.concat(received).equals(payload)) resolve();
    else reject(new Error('the echo differs from what was sent'));
  });
  const onGone = (error?: Error): void => {
    pending?.reject(error ?? new Error('the connection closed during a round trip'));
    pending = undefined;
  };
  socket.on('error', onGone);
  socket.on('close', () => onGone());
  return (payload) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo within ${ROUND_TRIP_TIMEOUT_MS} ms`)), ROUND_TRIP_TIMEOUT_MS);
      pending = {
        payload, received: [], length: 0,
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      };
      socket.write(payload);
    });
};

interface LatencyRun { p50: number; p99: number; max: number }

const measureLatencyOnce = async (context: MeasureContext, implementation: ImplementationName): Promise<LatencyRun> => {
  const { settings } = context;
  const [port] = (await reservePorts(1)) as [number];
  const proxy = await context.startProxy(implementation, 'latency', [{
    name: 'latency', acceptPort: port, connectPort: context.echoPort, client: false, cert: context.certs.rsa,
    tls: { version: 'TLSv1.3', ciphersuites: 'TLS_AES_128_GCM_SHA256' },
  }]);
  let socket: TLSSocket | undefined;
  try {
    socket = connect({ host: LOOPBACK, port, rejectUnauthorized: false });
    socket.setNoDelay(true);
    await once(socket, 'secureConnect');
    const roundTrip = makeRoundTripper(socket);
    const payload = Buffer.alloc(settings.latencyPayloadBytes, 0x61);
    for (let index = 0; index < settings.latencyWarmupRoundTrips; index += 1) await roundTrip(payload);
    const microseconds: number[] = [];
    for (let index = 0; index < settings.latencyRoundTrips; index += 1) {
      payload.writeUInt32BE(index, 0);
      const started = process.hrtime.bigint();
      await roundTrip(payload);
      microseconds.push(Number((process.hrtime.bigint() - started) / NANOSECONDS_PER_MICROSECOND));
    }
    return { p50: percentile(microseconds, 50), p99: percentile(microseconds, 99), max: Math.max(...microseconds) };
  } finally {
    socket?.destroy();
    await proxy.stop();
  }
};

/** The implementations whose settling run a bench run (its context) has made. */
const settled = new WeakMap<MeasureContext, Set<ImplementationName>>();

export const measureLatency = async (context: MeasureContext, implementation: ImplementationName): Promise<void> => {
  const done = settled.get(context) ?? new Set<ImplementationName>();
  settled.set(context, done);
  if (!done.has(implementation)) {
    done.add(implementation);
    const run = await measureLatencyOnce(context, implementation);
    process.stdout.write(`    ${implementation.padEnd(10)} settling run: p50 ${run.p50} us, p99 ${run.p99} us, max ${run.max} us (not counted)\n`);
  }
  for (let index = 0; index < context.settings.latencyRunsPerRound; index += 1) {
    const run = await measureLatencyOnce(context, implementation);
    context.results.record('latency.p50', implementation, run.p50);
    context.results.record('latency.p99', implementation, run.p99);
    context.results.record('latency.max', implementation, run.max);
  }
};
