// Free loopback ports for the proxies under test: bound to port 0 together (so they are distinct),
// read, and released. Another program could take one in between; a bind failure of the proxy then
// shows up as a start-up error of that round, not as a wrong figure.
import { createServer, type Server } from 'node:net';

export const LOOPBACK = '127.0.0.1';

const listenOnAnyPort = (): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve(server));
  });

export const reservePorts = async (count: number): Promise<number[]> => {
  const servers = await Promise.all(Array.from({ length: count }, listenOnAnyPort));
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('a TCP server without a port');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
};
