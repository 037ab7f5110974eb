// Bulk throughput: generator -> client-mode worker -> TLS -> server-mode worker -> sink, both workers
// of the implementation under test, 1 and 4 streams, TLS 1.3 and 1.2 with AES-128-GCM. Gbit/s of
// payload from the sink's first byte to its last; every stream is verified block by block. Also the
// CPU time both workers spent per GiB carried, which a busy machine disturbs far less than Gbit/s.
import type { MeasureContext } from '../context.js';
import { THROUGHPUT_STREAMS, TLS_VERSIONS, bulkCpuFigureId, throughputFigureId } from '../figures.js';
import { reservePorts } from '../ports.js';
import { treeCpuSeconds } from '../proc-stats.js';
import { stopAll, type BenchProcess } from '../processes.js';
import type { ImplementationName, RunningProxy, TlsSettings } from '../proxies.js';

interface SinkResult {
  bytes: number;
  firstByteAtMs: number;
  lastByteAtMs: number;
  errors: string[];
}

interface SourceResult {
  sentBytes: number;
  error?: string;
}

/** A transfer of 256 MiB per stream at 100 Mbit/s would take about 20 s per stream. */
const TRANSFER_TIMEOUT_MS = 180_000;
const BITS_PER_BYTE = 8;
const BYTES_PER_GIB = 1024 ** 3;
const BYTES_PER_MIB = 1024 ** 2;

export const BULK_TLS: Record<'1.3' | '1.2', TlsSettings> = {
  '1.3': { version: 'TLSv1.3', ciphersuites: 'TLS_AES_128_GCM_SHA256' },
  '1.2': { version: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' },
};

/** Thrown for a corrupted or short stream: a harness error, not a slow figure. */
export class IntegrityError extends Error {
  override name = 'IntegrityError';
}

interface Transfer {
  gbits: number;
  bytes: number;
}

const transfer = async (
  context: MeasureContext, sink: BenchProcess, clientPort: number, streams: number, bytesPerStream: number, label: string,
): Promise<Transfer> => {
  const source = context.startAgent('bulk-source', label, { port: clientPort, streams, bytesPerStream, seed: 1 });
  try {
    const [sent, received] = await Promise.all([
      source.nextMessage<SourceResult>(TRANSFER_TIMEOUT_MS),
      sink.nextMessage<SinkResult>(TRANSFER_TIMEOUT_MS),
    ]);
    if (received.errors.length > 0) throw new IntegrityError(`${label}: the sink saw ${received.errors.join('; ')}`);
    if (sent.error !== undefined) throw new IntegrityError(`${label}: the generator failed: ${sent.error}`);
    if (received.bytes !== sent.sentBytes) throw new IntegrityError(`${label}: sent ${sent.sentBytes} bytes, received ${received.bytes}`);
    const seconds = (received.lastByteAtMs - received.firstByteAtMs) / 1000;
    return { gbits: (received.bytes * BITS_PER_BYTE) / seconds / 1e9, bytes: received.bytes };
  } finally {
    await source.stop();
  }
};

export const measureThroughput = async (context: MeasureContext, implementation: ImplementationName): Promise<void> => {
  const { settings } = context;
  for (const version of TLS_VERSIONS) {
    const tls = BULK_TLS[version];
    // The warm-up uses the most streams measured, so that every engine process of a multi-process
    // worker has carried bulk traffic before anything is counted.
    const runs = [
      { streams: Math.max(...THROUGHPUT_STREAMS), bytesPerStream: settings.bulkWarmupBytes },
      ...THROUGHPUT_STREAMS.map((streams) => ({ streams, bytesPerStream: settings.bulkBytesPerStream })),
    ];
    const processes: Array<BenchProcess | RunningProxy['process'] | undefined> = [];
    try {
      const sink = context.startAgent('bulk-sink', `sink-tls${version}`, { runs, seed: 1 });
      processes.push(sink);
      const { port: sinkPort } = await sink.nextMessage<{ port: number }>();
      const [clientPort, serverPort] = (await reservePorts(2)) as [number, number];
      const server = await context.startProxy(implementation, `bulk-server-tls${version}`, [
        { name: 'bulk-server', acceptPort: serverPort, connectPort: sinkPort, client: false, cert: context.certs.rsa, tls },
      ]);
      processes.push(server.process);
      const client = await context.startProxy(implementation, `bulk-client-tls${version}`, [
        { name: 'bulk-client', acceptPort: clientPort, connectPort: serverPort, client: true, tls },
      ]);
      processes.push(client.process);
      const workersCpuSeconds = (): number => treeCpuSeconds(server.process.pid) + treeCpuSeconds(client.process.pid);
      for (const [index, run] of runs.entries()) {
        const cpuBefore = workersCpuSeconds();
        const result = await transfer(context, sink, clientPort, run.streams, run.bytesPerStream, `${implementation} TLS ${version} ${run.streams}x${run.bytesPerStream}`);
        const cpuPerGib = (workersCpuSeconds() - cpuBefore) / (result.bytes / BYTES_PER_GIB);
        // The first run only warms up (JIT, buffers, TCP windows). A fresh Node process needs about
        // a GiB to reach its steady rate (3.5, 4.1, 4.5, 4.7 Gbit/s in four 256 MiB transfers through
        // the same two workers; stunnel: 4.6-4.9 from the first); the figure is the steady state.
        if (index === 0) {
          process.stdout.write(`    ${implementation.padEnd(10)} TLS ${version} warm-up ${run.streams}x${run.bytesPerStream / BYTES_PER_MIB} MiB  ${result.gbits.toFixed(2).padStart(5)} Gbit/s (not counted)\n`);
          continue;
        }
        context.results.record(throughputFigureId(version, run.streams), implementation, result.gbits);
        context.results.record(bulkCpuFigureId(version, run.streams), implementation, cpuPerGib);
        process.stdout.write(
          `    ${implementation.padEnd(10)} TLS ${version} ${run.streams} stream(s)  ${result.gbits.toFixed(2).padStart(5)} Gbit/s  ` +
            `workers ${cpuPerGib.toFixed(2)} CPU-s/GiB\n`,
        );
      }
    } finally {
      await stopAll(processes.reverse());
    }
  }
};
