// The receiving end of the bulk figure, behind the server-mode worker. Serves a list of runs one
// after another (the runner starts each run's generator only after the previous result): verifies
// every stream (stamps, middle bytes, byte count), times first byte to last byte over all streams of
// the run, and prints {"port"} when listening, then per run {"bytes", "firstByteAtMs",
// "lastByteAtMs", "errors"}; exits after the last run.
import { createServer, type Socket } from 'node:net';
import { epochNowMs, exitOnTerm, readAgentParameters, sendMessage } from './agent-io.js';
import { BLOCK_BYTES, StreamVerifier, makeFill } from './bulk-pattern.js';

interface Run {
  streams: number;
  bytesPerStream: number;
}

interface Parameters {
  runs: Run[];
  seed: number;
}

interface RunState {
  run: Run;
  expectedBytes: number;
  firstByteAtMs: number;
  lastByteAtMs: number;
  bytes: number;
  finished: number;
  errors: string[];
}

const parameters = readAgentParameters<Parameters>();
const fill = makeFill(parameters.seed);
let runIndex = 0;

const newRunState = (run: Run): RunState => ({
  run,
  expectedBytes: Math.ceil(run.bytesPerStream / BLOCK_BYTES) * BLOCK_BYTES,
  firstByteAtMs: 0,
  lastByteAtMs: 0,
  bytes: 0,
  finished: 0,
  errors: [],
});

let current: RunState | undefined = parameters.runs[0] === undefined ? undefined : newRunState(parameters.runs[0]);

const finishStream = (state: RunState, socket: Socket, verifier: StreamVerifier, endError?: string): void => {
  state.lastByteAtMs = Math.max(state.lastByteAtMs, epochNowMs());
  state.bytes += verifier.bytes;
  if (endError !== undefined) state.errors.push(endError);
  else if (verifier.error !== undefined) state.errors.push(verifier.error);
  else if (verifier.bytes !== state.expectedBytes) state.errors.push(`a stream ended after ${verifier.bytes} bytes, expected ${state.expectedBytes}`);
  socket.end();
  state.finished += 1;
  if (state.finished < state.run.streams) return;
  sendMessage({ bytes: state.bytes, firstByteAtMs: state.firstByteAtMs, lastByteAtMs: state.lastByteAtMs, errors: state.errors });
  runIndex += 1;
  const next = parameters.runs[runIndex];
  if (next === undefined) {
    // The last stream's FIN must reach the generator before the process goes.
    socket.once('close', () => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
    return;
  }
  current = newRunState(next);
};

const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  const state = current;
  if (state === undefined) {
    socket.destroy();
    return;
  }
  const verifier = new StreamVerifier(fill);
  let done = false;
  socket.on('data', (chunk: Buffer) => {
    if (state.firstByteAtMs === 0) state.firstByteAtMs = epochNowMs();
    verifier.feed(chunk);
  });
  socket.on('end', () => {
    if (done) return;
    done = true;
    finishStream(state, socket, verifier);
  });
  socket.on('error', (error) => {
    if (done) return;
    done = true;
    finishStream(state, socket, verifier, `stream error: ${error.message}`);
  });
});
server.listen({ port: 0, host: '127.0.0.1' }, () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  sendMessage({ port: address.port });
});
exitOnTerm();
