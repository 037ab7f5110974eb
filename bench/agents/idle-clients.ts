// One client process of the memory figure: opens `count` TLS connections through the server-mode
// worker (at most `inFlight` handshakes at a time), proves each end to end with a short echo, then
// holds them all idle until SIGTERM. Prints {"opened", "verified", "failed", "firstError"?}.
import { connect, createSecureContext, type TLSSocket } from 'node:tls';
import { exitOnTerm, readAgentParameters, sendMessage } from './agent-io.js';

interface Parameters {
  port: number;
  count: number;
  inFlight: number;
  version: 'TLSv1.3' | 'TLSv1.2';
  /** Distinguishes the processes' tokens. */
  tag: string;
}

const VERIFY_TIMEOUT_MS = 30_000;

const parameters = readAgentParameters<Parameters>();
const context = createSecureContext({ minVersion: parameters.version, maxVersion: parameters.version });
const held: TLSSocket[] = [];
let verified = 0;
let failed = 0;
let lostAfterVerify = 0;
let firstError: string | undefined;

const openAndVerify = (index: number): Promise<void> =>
  new Promise((resolve) => {
    const token = Buffer.from(`${parameters.tag}:${index}:`.padEnd(32, '.'));
    const socket = connect({ host: '127.0.0.1', port: parameters.port, rejectUnauthorized: false, secureContext: context });
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (error === undefined) {
        verified += 1;
        held.push(socket);
        socket.on('close', () => {
          lostAfterVerify += 1;
        });
      } else {
        failed += 1;
        firstError ??= error;
        socket.destroy();
      }
      resolve();
    };
    const timer = setTimeout(() => settle(`no echo within ${VERIFY_TIMEOUT_MS} ms`), VERIFY_TIMEOUT_MS);
    socket.on('error', (error) => settle(error.message));
    socket.once('secureConnect', () => socket.write(token));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < token.length) return;
      settle(received.equals(token) ? undefined : 'the echo differs from what was sent');
    });
  });

exitOnTerm(() => {
  process.stderr.write(`idle-clients ${parameters.tag}: ${lostAfterVerify} connection(s) closed by the far end while idle\n`);
  for (const socket of held) socket.destroy();
});

let next = 0;
const worker = async (): Promise<void> => {
  while (next < parameters.count) {
    const index = next;
    next += 1;
    await openAndVerify(index);
  }
};
await Promise.all(Array.from({ length: Math.min(parameters.inFlight, parameters.count) }, worker));
sendMessage({ opened: parameters.count, verified, failed, lostAfterVerify, ...(firstError === undefined ? {} : { firstError }) });
// Stays alive, holding the connections, until the runner sends SIGTERM.
setInterval(() => undefined, 60_000);
