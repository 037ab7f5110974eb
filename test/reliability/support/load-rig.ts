// The load rig of figures 1-3: plain clients -> a client-mode worker (home B) -> TLS -> a server-mode
// worker (home A) -> an echo backend, both workers started by the CLI with the *HIGH job class. A load
// run streams random bytes both ways on many connections at once and can interleave operator
// commands with the data in flight: command k runs while segment k is moving, and segment k+1 is
// released only when it has finished, so every command meets every connection established.
import { performance } from 'node:perf_hooks';
import { startEchoServer } from '../../helpers/echo-server.js';
import type { Backend } from '../../helpers/echo-server.js';
import type { TestHome } from '../../helpers/home.js';
import { getFreePorts } from '../../helpers/ports.js';
import { waitFor } from '../../helpers/wait.js';
import { streamRandom } from './traffic.js';
import type { StreamOutcome } from './traffic.js';
import { editConfig, installHome, startHome, withServiceLines } from './workers.js';

export interface LoadRig {
  backend: Backend;
  /** Server mode: TLS in, plain out to the backend. */
  server: TestHome;
  /** Client mode: plain in (the test's clients), TLS out to `server`. */
  client: TestHome;
  serverPid: number;
  clientPid: number;
  cleanup(): Promise<void>;
}

export const startLoadRig = async (): Promise<LoadRig> => {
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step();
  };
  try {
    const backend = await startEchoServer();
    cleanups.push(() => backend.close());
    const server = await installHome(backend.port);
    cleanups.push(() => server.cleanup());
    const client = await installHome(server.acceptPort);
    cleanups.push(() => client.cleanup());
    editConfig(client, withServiceLines(['    client = yes']));
    const serverPid = await startHome(server);
    const clientPid = await startHome(client);
    return { backend, server, client, serverPid, clientPid, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
};

export interface LoadRun {
  outcomes: Array<PromiseSettledResult<StreamOutcome>>;
  durationMs: number;
  /** Errors of the interleaved commands (empty when all succeeded). */
  commandErrors: string[];
}

export interface LoadOptions {
  connections: number;
  bytesPerConnection: number;
  /** Operator commands run one after another while the load is in flight. */
  commands?: ReadonlyArray<() => Promise<void>>;
  timeoutMs: number;
}

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

const createGate = (): Gate => {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
};

/** How long all connections may take to be established end to end before the commands start. */
const FLOWING_TIMEOUT_MS = 120_000;

export const runLoad = async (rig: LoadRig, options: LoadOptions): Promise<LoadRun> => {
  const commands = options.commands ?? [];
  const gates = commands.map(createGate);
  let flowing = 0;
  let settled = 0;
  const startedAt = performance.now();
  const streams = Array.from({ length: options.connections }, () =>
    streamRandom(rig.client.acceptPort, {
      bytes: options.bytesPerConnection,
      segments: commands.length + 1,
      gate: (segment) => gates[segment]?.promise ?? Promise.resolve(),
      onFlowing: () => {
        flowing += 1;
      },
      timeoutMs: options.timeoutMs,
    }).finally(() => {
      settled += 1;
    }),
  );
  const commandErrors: string[] = [];
  try {
    if (commands.length > 0) {
      // Every connection carries data end to end before the first command: "established" is proven.
      await waitFor(() => flowing === options.connections || settled > 0, {
        what: `${options.connections} connections to carry data end to end (${flowing} do)`,
        timeoutMs: FLOWING_TIMEOUT_MS,
      });
    }
    for (const [index, command] of commands.entries()) {
      try {
        await command();
      } catch (error) {
        commandErrors.push(`command ${index + 1}: ${(error as Error).message}`);
      }
      gates[index]?.open();
    }
  } finally {
    for (const gate of gates) gate.open();
  }
  const outcomes = await Promise.allSettled(streams);
  return { outcomes, durationMs: performance.now() - startedAt, commandErrors };
};

/** How many streams came back byte for byte (sha256 and length both ways), and why the others did not. */
export const checkIntegrity = (run: LoadRun, bytesPerConnection: number): { intact: number; problems: string[] } => {
  const problems: string[] = [];
  let intact = 0;
  run.outcomes.forEach((outcome, index) => {
    if (outcome.status === 'rejected') {
      problems.push(`connection ${index}: ${(outcome.reason as Error).message}`);
      return;
    }
    const { sentBytes, receivedBytes, sentSha256, receivedSha256, localPort } = outcome.value;
    if (sentBytes === bytesPerConnection && receivedBytes === sentBytes && receivedSha256 === sentSha256) intact += 1;
    else problems.push(`connection ${index} (port ${localPort}): sent ${sentBytes} bytes ${sentSha256}, received ${receivedBytes} bytes ${receivedSha256}`);
  });
  return { intact, problems };
};

/** A fresh free port for a service a command adds. */
export const freePort = async (): Promise<number> => ((await getFreePorts(1)) as [number])[0];

export const formatMiB = (bytes: number): string =>
  bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} KiB` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
