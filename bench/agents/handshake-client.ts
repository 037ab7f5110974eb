// One load-generating process of the handshake figures: connects again and again, `inFlight`
// connections at a time, counting the handshakes that complete inside [startAtMs, endAtMs) (epoch
// ms; the time before is warm-up). With `resume`, it first takes a session from a full handshake
// and offers it on every connection (openssl s_time cannot do that for TLS 1.3: it never reads the
// ticket that arrives after the handshake). Each connection is ended as soon as its handshake
// completes and is not waited on, so a proxy that is slow to close cannot slow the generator down.
// Prints {"resumed", "full", "failed", "cpuSeconds", "firstError"?}.
import { once } from 'node:events';
import { connect, createSecureContext, type TLSSocket } from 'node:tls';
import { epochNowMs, exitOnTerm, readAgentParameters, sendMessage } from './agent-io.js';

interface Parameters {
  port: number;
  version: 'TLSv1.3' | 'TLSv1.2';
  resume: boolean;
  inFlight: number;
  startAtMs: number;
  endAtMs: number;
}

const SESSION_TIMEOUT_MS = 5000;
/** How long an ended connection may wait for the server's close before it is destroyed. */
const LINGER_MS = 500;

const parameters = readAgentParameters<Parameters>();
const context = createSecureContext({ minVersion: parameters.version, maxVersion: parameters.version });
const options = { host: '127.0.0.1', port: parameters.port, rejectUnauthorized: false, secureContext: context };
let resumed = 0;
let full = 0;
let failed = 0;
let firstError: string | undefined;

const retire = (socket: TLSSocket): void => {
  socket.removeAllListeners('error');
  socket.on('error', () => undefined);
  socket.end();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
};

const firstSession = async (): Promise<Buffer> => {
  const socket = connect(options);
  socket.setTimeout(SESSION_TIMEOUT_MS, () => socket.destroy(new Error('no session ticket from the server')));
  const [session] = (await once(socket, 'session')) as [Buffer];
  retire(socket);
  return session;
};

const handshake = (session: Buffer | undefined): Promise<void> =>
  new Promise((resolve) => {
    const socket = connect(session === undefined ? options : { ...options, session });
    socket.once('secureConnect', () => {
      const now = epochNowMs();
      if (now >= parameters.startAtMs && now < parameters.endAtMs) {
        if (socket.isSessionReused()) resumed += 1;
        else full += 1;
      }
      retire(socket);
      resolve();
    });
    socket.once('error', (error) => {
      failed += 1;
      firstError ??= error.message;
      socket.destroy();
      resolve();
    });
  });

exitOnTerm();
try {
  const session = parameters.resume ? await firstSession() : undefined;
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  const loop = async (): Promise<void> => {
    while (epochNowMs() < parameters.endAtMs) {
      if (cpuAtStart === undefined && epochNowMs() >= parameters.startAtMs) cpuAtStart = process.cpuUsage();
      await handshake(session);
    }
  };
  await Promise.all(Array.from({ length: parameters.inFlight }, loop));
  const cpu = process.cpuUsage(cpuAtStart);
  sendMessage({ resumed, full, failed, cpuSeconds: (cpu.user + cpu.system) / 1e6, ...(firstError === undefined ? {} : { firstError }) });
} catch (error) {
  sendMessage({ resumed: 0, full: 0, failed: failed + 1, cpuSeconds: 0, firstError: (error as Error).message });
}
process.exit(0);
