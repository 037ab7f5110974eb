// Listening sockets, keyed by bound address so a reload can keep an unchanged listener open (no
// window without a listener) and only re-point it at the new service.
import { lookup } from 'node:dns/promises';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { Endpoint } from '../config/values.js';
import type { RuntimeService } from './service.js';

export interface Listener {
  /** `host:port` or the Unix path: the identity a reload matches on. */
  readonly key: string;
  readonly server: Server;
  /** Swapped by a reload; each accepted connection uses the service current at accept time. */
  service: RuntimeService;
}

export type ConnectionHandler = (listener: Listener, socket: Socket) => void;
export type ListenerErrorHandler = (listener: Listener, error: Error) => void;

export interface BindTarget {
  key: string;
  endpoint: Endpoint;
  host: string | null;
  ipv6Only: boolean;
}

const keyOf = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Every address an `accept` resolves to (stunnel binds them all). */
export const resolveBindTargets = async (endpoint: Endpoint, ipv6Only: boolean): Promise<BindTarget[]> => {
  if (endpoint.kind === 'unix') return [{ key: endpoint.path, endpoint, host: null, ipv6Only }];
  const hosts = isIP(endpoint.host) !== 0
    ? [endpoint.host]
    : (await lookup(endpoint.host, { all: true })).map((entry) => entry.address);
  return [...new Set(hosts)].map((host) => ({ key: keyOf(host, endpoint.port), endpoint, host, ipv6Only }));
};

export const bindListener = (
  target: BindTarget,
  service: RuntimeService,
  onConnection: ConnectionHandler,
  onError: ListenerErrorHandler,
  handsOver = false,
): Promise<Listener> =>
  new Promise((resolvePromise, reject) => {
    // A socket handed over to an engine process must not be read here: its first bytes belong there.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: handsOver });
    const listener: Listener = { key: target.key, server, service };
    const onStartupError = (error: Error): void => {
      server.close();
      reject(error);
    };
    server.once('error', onStartupError);
    server.on('connection', (socket: Socket) => onConnection(listener, socket));
    const options = target.endpoint.kind === 'unix'
      ? { path: target.endpoint.path }
      : { host: target.host ?? undefined, port: target.endpoint.port, ipv6Only: target.ipv6Only, backlog: 1024 };
    server.listen(options, () => {
      server.off('error', onStartupError);
      // After start-up an error is an accept failure (EMFILE, ENFILE): the listener stays open.
      server.on('error', (error: Error) => onError(listener, error));
      resolvePromise(listener);
    });
  });

/**
 * Stops accepting at once. `server.close`'s callback would wait for every connection accepted on it
 * to end, which a reload must not do: those connections live on with their old service.
 */
export const closeListener = (listener: Listener): void => {
  listener.server.close();
};

/** `ADDRESS:PORT` as stunnel writes it (IPv6 without brackets), or the Unix path. */
/** The listener as stunnel's `bound to` line names it: a Unix socket as `localhost:PATH`. */
export const listenerLogName = (listener: Listener): string => {
  const name = describeListener(listener);
  return typeof listener.server.address() === 'string' ? `localhost:${name}` : name;
};

export const describeListener = (listener: Listener): string => {
  const address = listener.server.address();
  if (address === null) return listener.key;
  if (typeof address === 'string') return address;
  return `${address.address}:${address.port}`;
};
