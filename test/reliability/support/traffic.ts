// Traffic for the reliability figures: streams of random bytes both ways with their sha256 (released
// in segments, so control commands can be interleaved with data in flight), a TLS echo probe that
// measures how long a normal client waits, and a probe loop that runs it every ~200 ms.
import { createHash, randomBytes } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { LOOPBACK } from '../../helpers/ports.js';
import { withTimeout } from '../../helpers/wait.js';

const CHUNK_BYTES = 64 * 1024;

export interface StreamOutcome {
  /** The client's own port: the proxy logs it in `accepted connection from 127.0.0.1:PORT`. */
  localPort: number;
  sentBytes: number;
  sentSha256: string;
  receivedBytes: number;
  receivedSha256: string;
}

export interface StreamOptions {
  /** Total random bytes sent (and, through an echo backend, expected back). */
  bytes: number;
  /** The payload is sent in this many equal segments; segment k+1 waits for `gate(k)`. */
  segments?: number;
  gate?: (segment: number) => Promise<unknown>;
  /** Resolves once the connection is up and the first echoed byte is back (end to end). */
  onFlowing?: () => void;
  timeoutMs: number;
}

/**
 * A plain TCP client that writes `bytes` random bytes with backpressure, half-closes, and hashes what
 * comes back until the far side half-closes. Rejects if the connection closes or fails before that.
 */
export const streamRandom = (port: number, options: StreamOptions): Promise<StreamOutcome> => {
  const socket = connectTcp({ host: LOOPBACK, port, allowHalfOpen: true });
  const sent = createHash('sha256');
  const received = createHash('sha256');
  let sentBytes = 0;
  let receivedBytes = 0;
  let localPort = 0;
  let failure: Error | undefined;
  let flowing = false;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', (error) => {
    failure ??= error;
  });
  socket.once('connect', () => {
    localPort = socket.localPort ?? 0;
  });
  socket.on('data', (chunk: Buffer) => {
    received.update(chunk);
    receivedBytes += chunk.length;
    if (!flowing) {
      flowing = true;
      options.onFlowing?.();
    }
  });
  const ended = new Promise<void>((resolve, reject) => {
    socket.once('end', () => resolve());
    void closed.then(() => reject(failure ?? new Error(`closed after ${receivedBytes} of ${options.bytes} bytes came back`)));
  });
  ended.catch(() => undefined);

  const writeAll = async (): Promise<void> => {
    const segments = options.segments ?? 1;
    const segmentBytes = Math.ceil(options.bytes / segments);
    for (let segment = 0; segment < segments; segment += 1) {
      if (segment > 0 && options.gate !== undefined) await options.gate(segment - 1);
      const segmentEnd = Math.min(options.bytes, (segment + 1) * segmentBytes);
      while (sentBytes < segmentEnd) {
        if (socket.destroyed) throw failure ?? new Error(`closed after ${sentBytes} of ${options.bytes} bytes were sent`);
        const chunk = randomBytes(Math.min(CHUNK_BYTES, segmentEnd - sentBytes));
        sent.update(chunk);
        sentBytes += chunk.length;
        if (!socket.write(chunk)) {
          await Promise.race([new Promise<void>((resolve) => socket.once('drain', () => resolve())), closed]);
        }
      }
    }
    socket.end();
  };

  const exchange = (async (): Promise<StreamOutcome> => {
    await Promise.all([writeAll(), ended]);
    return { localPort, sentBytes, sentSha256: sent.digest('hex'), receivedBytes, receivedSha256: received.digest('hex') };
  })();
  return withTimeout(exchange, options.timeoutMs, `a stream of ${options.bytes} bytes through ${LOOPBACK}:${port}`).finally(() => socket.destroy());
};

export interface EchoProbeResult {
  /** From the TCP connect to the echo coming back. */
  latencyMs: number;
  /** The probe's own port: the proxy logs it in `accepted connection from 127.0.0.1:PORT`. */
  localPort: number;
}

/** A normal client: TLS handshake, one line, its echo back, a clean close. */
export const tlsEchoProbe = async (port: number, timeoutMs = 5_000): Promise<EchoProbeResult> => {
  const startedAt = performance.now();
  const socket: TLSSocket = connectTls({ host: LOOPBACK, port, rejectUnauthorized: false });
  return probeEcho(socket, 'secureConnect', startedAt, timeoutMs);
};

/** The same through a client-mode listener (plain in). */
export const plainEchoProbe = async (port: number, timeoutMs = 5_000): Promise<EchoProbeResult> => {
  const startedAt = performance.now();
  const socket = connectTcp({ host: LOOPBACK, port });
  return probeEcho(socket, 'connect', startedAt, timeoutMs);
};

const probeEcho = async (socket: Socket, readyEvent: string, startedAt: number, timeoutMs: number): Promise<EchoProbeResult> => {
  const line = `probe ${randomBytes(8).toString('hex')}\n`;
  let text = '';
  const answered = new Promise<number>((resolve, reject) => {
    socket.once(readyEvent, () => socket.write(line));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.includes(line)) resolve(performance.now() - startedAt);
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed after "${text}"`)));
  });
  try {
    const latencyMs = await withTimeout(answered, timeoutMs, `an echo of a probe line through ${LOOPBACK}`);
    // A clean close, so the proxy logs `Connection closed`, not a reset.
    socket.end();
    return { latencyMs, localPort: socket.localPort ?? 0 };
  } catch (error) {
    socket.destroy();
    throw error;
  }
};

export interface ProbeSummary {
  count: number;
  failures: string[];
  maxLatencyMs: number;
}

export interface ProbeLoop {
  /** Stops probing after the probe in progress; resolves with the summary. */
  stop(): Promise<ProbeSummary>;
}

/** Runs `probe` every `intervalMs` (one at a time) until stopped; a probe over `timeoutMs` is a failure. */
export const startProbeLoop = (probe: (timeoutMs: number) => Promise<EchoProbeResult>, intervalMs = 200, timeoutMs = 5_000): ProbeLoop => {
  let running = true;
  const summary: ProbeSummary = { count: 0, failures: [], maxLatencyMs: 0 };
  const loop = (async () => {
    while (running) {
      const startedAt = performance.now();
      try {
        const { latencyMs } = await probe(timeoutMs);
        summary.maxLatencyMs = Math.max(summary.maxLatencyMs, latencyMs);
      } catch (error) {
        summary.failures.push(`probe ${summary.count + 1}: ${(error as Error).message}`);
        summary.maxLatencyMs = Math.max(summary.maxLatencyMs, performance.now() - startedAt);
      }
      summary.count += 1;
      // The rate of the probe, not a wait for a state: one probe every intervalMs at most.
      const rest = intervalMs - (performance.now() - startedAt);
      if (running && rest > 0) await delay(rest);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return summary;
    },
  };
};
