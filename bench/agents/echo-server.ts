// The backend behind every server-mode worker: writes back whatever it receives, ends when the peer
// ends. Prints {"port": N} once listening on 127.0.0.1.
import { createServer } from 'node:net';
import { exitOnTerm, sendMessage } from './agent-io.js';

const LISTEN_BACKLOG = 4096;

const server = createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
server.on('error', (error) => {
  process.stderr.write(`echo-server: ${error.message}\n`);
});
server.listen({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG }, () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  sendMessage({ port: address.port });
});
exitOnTerm();
