// The generator of the bulk figure: opens N plain TCP streams to the client-mode worker, writes a
// fixed number of stamped blocks on each with backpressure, ends them, and waits for the far end to
// close. Prints {"sentBytes", "startedAtMs", "error"?}.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { epochNowMs, exitOnTerm, readAgentParameters, sendMessage } from './agent-io.js';
import { BLOCK_BYTES, makeBlock, makeFill } from './bulk-pattern.js';

interface Parameters {
  port: number;
  streams: number;
  bytesPerStream: number;
  seed: number;
}

const parameters = readAgentParameters<Parameters>();
const fill = makeFill(parameters.seed);
const blocksPerStream = Math.ceil(parameters.bytesPerStream / BLOCK_BYTES);

const open = async (): Promise<Socket> => {
  const socket = connect({ host: '127.0.0.1', port: parameters.port, noDelay: true });
  await once(socket, 'connect');
  return socket;
};

const send = async (socket: Socket): Promise<number> => {
  const closed = once(socket, 'close');
  socket.resume();
  let sent = 0;
  for (let index = 0; index < blocksPerStream; index += 1) {
    if (!socket.write(makeBlock(fill, index))) await once(socket, 'drain');
    sent += BLOCK_BYTES;
  }
  socket.end();
  const [hadError] = (await closed) as [boolean];
  if (hadError) throw new Error('the stream closed with an error');
  return sent;
};

exitOnTerm();
try {
  const sockets = await Promise.all(Array.from({ length: parameters.streams }, open));
  const startedAtMs = epochNowMs();
  const sent = await Promise.all(sockets.map(send));
  sendMessage({ sentBytes: sent.reduce((a, b) => a + b, 0), startedAtMs });
} catch (error) {
  sendMessage({ sentBytes: 0, startedAtMs: 0, error: (error as Error).message });
}
process.exit(0);
