// Memory per idle connection: RSS of the proxy's whole process tree idle, then with N concurrent
// TLS connections (TLS 1.3, ECDSA P-256) through a server-mode worker to the echo backend, each
// proven end to end with a short echo before the measurement. Reported as (RSS_N - RSS_idle) / N
// in KiB. The counts are reached in steps with the same proxy; every step adds client processes
// (each has its own open-file budget).
import type { MeasureContext } from '../context.js';
import { memoryFigureId } from '../figures.js';
import { reservePorts } from '../ports.js';
import { treeOpenFds, treeRssKiB } from '../proc-stats.js';
import { stopAll, type BenchProcess } from '../processes.js';
import type { ImplementationName } from '../proxies.js';

interface ClientsReady {
  opened: number;
  verified: number;
  failed: number;
  lostAfterVerify: number;
  firstError?: string;
}

/** Handshakes in flight per client process while connections are opened. */
const IN_FLIGHT_PER_CLIENT = 32;
/** Opening 9,500 connections on a busy 2-core machine can take a minute. */
const OPEN_TIMEOUT_MS = 240_000;
/** RSS is read when two readings this far apart differ by less than SETTLED_FRACTION (bounded). */
const SETTLE_POLL_MS = 250;
const SETTLED_FRACTION = 0.005;
const SETTLE_MAX_POLLS = 20;
/** stunnel ends one thread per connection on stop: 9,500 of them take more than the usual grace. */
const PROXY_STOP_GRACE_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** RSS once it has stopped moving (allocators and GC settle after a burst of handshakes). */
const settledRssKiB = async (pid: number): Promise<number> => {
  let previous = treeRssKiB(pid);
  for (let poll = 0; poll < SETTLE_MAX_POLLS; poll += 1) {
    await sleep(SETTLE_POLL_MS);
    const current = treeRssKiB(pid);
    if (Math.abs(current - previous) <= previous * SETTLED_FRACTION) return current;
    previous = current;
  }
  return previous;
};

const splitEvenly = (total: number, parts: number): number[] =>
  Array.from({ length: parts }, (_, index) => Math.floor(total / parts) + (index < total % parts ? 1 : 0)).filter((count) => count > 0);

export const measureMemory = async (context: MeasureContext, implementation: ImplementationName): Promise<void> => {
  const { settings } = context;
  const [port] = (await reservePorts(1)) as [number];
  const proxy = await context.startProxy(implementation, 'memory', [{
    name: 'memory', acceptPort: port, connectPort: context.echoPort, client: false, cert: context.certs.ecdsa,
    tls: { version: 'TLSv1.3', ciphersuites: 'TLS_AES_128_GCM_SHA256' },
  }]);
  const clients: BenchProcess[] = [];
  try {
    const idleRss = await settledRssKiB(proxy.process.pid);
    let open = 0;
    for (const target of [...settings.memoryCounts].sort((a, b) => a - b)) {
      const batch = splitEvenly(target - open, settings.memoryClientProcesses).map((count, index) =>
        context.startAgent('idle-clients', `idle-${target}-${index}`, { port, count, inFlight: IN_FLIGHT_PER_CLIENT, version: 'TLSv1.3', tag: `${target}-${index}` }));
      clients.push(...batch);
      const ready = await Promise.all(batch.map((client) => client.nextMessage<ClientsReady>(OPEN_TIMEOUT_MS)));
      const verified = ready.reduce((sum, result) => sum + result.verified, 0);
      const failed = ready.reduce((sum, result) => sum + result.failed, 0);
      if (failed > 0 || verified !== target - open) {
        const firstError = ready.find((result) => result.firstError !== undefined)?.firstError ?? 'unknown';
        throw new Error(`${implementation}: only ${verified} of ${target - open} connections verified on the way to ${target} (${failed} failed; first: ${firstError})`);
      }
      open = target;
      const rss = await settledRssKiB(proxy.process.pid);
      const fds = treeOpenFds(proxy.process.pid);
      // Every idle connection holds two descriptors in the proxy (client side and backend side).
      if (fds < 2 * target) context.note(`${implementation} at ${target}: the proxy holds only ${fds} descriptors (expected >= ${2 * target})`);
      context.results.record(memoryFigureId(target), implementation, (rss - idleRss) / target);
      process.stdout.write(`    ${implementation.padEnd(10)} ${String(target).padStart(5)} idle connections: RSS ${(rss / 1024).toFixed(1)} MiB (idle ${(idleRss / 1024).toFixed(1)} MiB), ${fds} fds\n`);
    }
  } finally {
    await stopAll(clients);
    await proxy.stop(PROXY_STOP_GRACE_MS);
  }
};
