// One proxied connection, from accept to the close summary: the TLS handshake on the TLS side, the
// connect to a target (with failover), the byte relay in both directions with backpressure and
// half-close, and stunnel's timeouts. Every path ends in `finish`, which logs exactly one
// `Connection closed|reset` line.
import { spawn, type ChildProcess } from 'node:child_process';
import { ADDRCONFIG, lookup } from 'node:dns';
import { connect as netConnect, isIP, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, checkServerIdentity, TLSSocket, type PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { SocketSetting, SocketSide } from '../config/socket-options.js';
import type { Endpoint } from '../config/values.js';
import { formatEndpoint } from '../config/values.js';
import type { Logger } from '../log/logger.js';
import type { ConnectionInfo } from '../worker/state-file.js';
import type { ConnectionRegistry, LiveConnection } from './registry.js';
import type { RuntimeService } from './service.js';
import { formatSystemError } from './system-error.js';
import { FULL_TLS_RECORD_BYTES, startHandleRelay } from './handle-relay.js';
import type { HandshakeFailureReason } from './counters.js';

export interface ConnectionDependencies {
  logger: Logger;
  registry: ConnectionRegistry;
  /** Called once per connection when it has ended (for counters). */
  onFinished: (connection: ProxyConnection) => void;
}

const MS_PER_SECOND = 1000;

/** stunnel's `ADDRESS:PORT`, IPv6 included (`::1:443`, no brackets); a Unix socket has no name. */
const formatAddress = (address: string | undefined, port: number | undefined): string =>
  address === undefined ? 'unnamed socket' : `${address}:${port ?? 0}`;

/** A target as stunnel's s_connect lines name it: a Unix socket as `localhost:PATH`. */
const formatTarget = (endpoint: Endpoint): string =>
  endpoint.kind === 'unix' ? `localhost:${endpoint.path}` : formatEndpoint(endpoint);

const cipherBits = (name: string): number => (/128/.test(name) ? 128 : /256|CHACHA20/.test(name) ? 256 : 0);

const applySocketOptions = (socket: Socket, settings: readonly SocketSetting[], sides: readonly SocketSide[]): void => {
  for (const setting of settings) {
    if (!sides.includes(setting.side)) continue;
    switch (setting.option) {
      case 'TCP_NODELAY':
        socket.setNoDelay(setting.enabled);
        break;
      case 'SO_KEEPALIVE':
        socket.setKeepAlive(setting.enabled, (setting.intervalSeconds ?? 0) * MS_PER_SECOND);
        break;
      case 'TCP_KEEPIDLE':
        socket.setKeepAlive(true, setting.seconds * MS_PER_SECOND);
        break;
      default:
        // SO_REUSEADDR / IPV6_V6ONLY belong to the listener and are applied when it binds.
        break;
    }
  }
};

export class ProxyConnection implements LiveConnection {
  readonly id: string;
  readonly startedAtMs: number;
  readonly service: RuntimeService;
  /** Where the connection goes: the service itself, or the SNI secondary the client asked for. */
  private route: RuntimeService;
  private redirected = false;
  /** The server's PSK callback found the client's identity. */
  private pskUsed = false;
  private handshakeDone = false;
  /** Why the handshake failed, counted once the connection ends (metrics). */
  private handshakeFailure: HandshakeFailureReason | undefined;
  private readonly deps: ConnectionDependencies;
  /** The accepted socket, or an exec+connect program's stdio (client mode). */
  private readonly local: Duplex;
  private readonly peer: string;
  private tls: TLSSocket | undefined;
  /** The TCP socket under `tls`, once there is one. */
  private tlsRaw: Duplex | undefined;
  /** The plain leg of a server-mode connection: the target socket, or an exec'd program's stdio. */
  private remote: Duplex | undefined;
  private target: string | null = null;
  private bytesToTls = 0;
  private bytesToSocket = 0;
  private lastActivityMs: number;
  private tlsEnded = false;
  private plainEnded = false;
  private finished = false;
  private busyTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Bytes read from either side and not yet handed on to the other (set when the relay starts). */
  private queuedBytes: () => number = () => 0;
  /** Bytes read from one side and not yet handed to the other, per direction (once the relay runs). */
  private queuedToTls: () => number = () => 0;
  private queuedToPlain: () => number = () => 0;
  /** A peer reset one side during the relay: the connection is closing in order (closedByPeerReset). */
  private peerReset = false;
  /** Bytes flow both ways: errors and closes from now on are transfer events, not handshake ones. */
  private relayStarted = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;

  /** Position in the `failover = rr` rotation the worker handed out (engine processes), else the service's own. */
  private readonly rotation: number | undefined;

  /**
   * `handover`: what the worker decided for a connection it accepted and handed to an engine process:
   * its log id and its place in the service's rr rotation (shared by all processes, as in stunnel).
   */
  constructor(local: Duplex, service: RuntimeService, deps: ConnectionDependencies, peer?: string, handover?: { id?: string; rotation?: number }) {
    this.local = local;
    this.service = service;
    this.route = service;
    this.deps = deps;
    this.id = handover?.id ?? deps.registry.nextId(service.config.logId);
    this.rotation = handover?.rotation;
    this.startedAtMs = Date.now();
    this.lastActivityMs = this.startedAtMs;
    this.peer = peer ?? (local instanceof Socket ? formatAddress(local.remoteAddress, local.remotePort) : 'unknown');
  }

  /** The accepted TCP socket; server mode always has one (exec+connect is client mode only). */
  private get acceptedSocket(): Socket {
    if (!(this.local instanceof Socket)) throw new Error('server mode needs an accepted socket');
    return this.local;
  }

  start(): void {
    this.deps.registry.add(this);
    this.service.active += 1;
    this.service.total += 1;
    this.service.counters.total += 1;
    this.log(5, this.local instanceof Socket ? `Service [${this.service.name}] accepted connection from ${this.peer}` : `Service [${this.service.name}] started ${this.peer}`);
    if (this.local instanceof Socket) applySocketOptions(this.local, this.service.config.socketOptions, ['a', 'l']);
    // Plain side first (client mode, or an exec+connect program): connect, then TLS on the way out.
    if (this.service.config.client || !(this.local instanceof Socket)) {
      this.local.on('error', (error) => {
        if (!this.closedByPeerReset('plain', error)) this.fail(`readsocket: ${formatSystemError(error)}`, 6);
      });
      this.local.on('close', () => this.onSideClosed());
      // Plain bytes that arrive before the TLS connection is up wait in the socket, unread.
      this.local.pause();
      const order = this.service.targetOrder(this.rotation);
      this.logFailoverStart(order.targets.length, order.start, this.service.rotates);
      this.connectTarget(0, order.targets);
    } else {
      this.acceptTls(this.acceptedSocket, (tls) => this.onServerHandshake(tls));
    }
  }

  info(nowMs: number): ConnectionInfo {
    const cipher = this.tls?.getCipher();
    return {
      id: this.id,
      service: this.service.name,
      peer: this.peer,
      target: this.target,
      tlsVersion: this.tls?.getProtocol() ?? null,
      cipher: cipher?.standardName ?? cipher?.name ?? null,
      bytesToTls: this.bytesToTls,
      bytesToSocket: this.bytesToSocket,
      ageMs: nowMs - this.startedAtMs,
      idleMs: nowMs - this.lastActivityMs,
    };
  }

  abort(reason: string): void {
    this.log(6, reason);
    this.finish('reset');
  }

  private log(level: number, text: string): void {
    this.deps.logger.log(level, this.id, text, this.service.logLevel);
  }

  private fail(text: string, level = 3): void {
    if (this.finished) return;
    this.log(level, text);
    this.finish('reset');
  }

  /** The handshake must finish within TIMEOUTbusy and the (shorter) handshake deadline. */
  private startBusyTimer(what: string): void {
    const { busy, handshake } = this.service.config.timeouts;
    const useHandshake = handshake >= 0 && (busy < 0 || handshake < busy);
    const seconds = useHandshake ? handshake : busy;
    if (seconds < 0) return;
    const reason = useHandshake ? 'TIMEOUThandshake exceeded' : 'TIMEOUTbusy exceeded';
    this.busyTimer = setTimeout(() => {
      this.handshakeFailure = 'timeout';
      this.fail(`${what}: s_poll_wait: ${reason}: sending reset`, 6);
    }, seconds * MS_PER_SECOND);
  }

  private clearBusyTimer(): void {
    if (this.busyTimer !== undefined) clearTimeout(this.busyTimer);
    this.busyTimer = undefined;
  }

  // --- server mode: TLS in ---------------------------------------------------------------------

  /**
   * The TLS server handshake on `raw`: the accepted socket, or (exec+connect in server mode) the
   * outgoing one; `onSecure` runs once the handshake is done.
   */
  private acceptTls(raw: Socket, onSecure: (tls: TLSSocket) => void): void {
    const { verify } = this.service.config;
    const service = this.service;
    this.tlsRaw = raw;
    const tls = new TLSSocket(raw, {
      isServer: true,
      secureContext: service.secureContext,
      requestCert: verify.request,
      // Verification is decided here, after the handshake, to log it the way stunnel does.
      rejectUnauthorized: false,
      server: service.tlsServerShim as unknown as import('node:net').Server,
      ...(service.sniSecondaries.length === 0 ? {} : {
        SNICallback: (serverName: string, done: (error: Error | null, context?: import('node:tls').SecureContext) => void) => {
          done(null, service.findSniSecondary(serverName)?.secureContext ?? service.secureContext);
        },
      }),
      ...(service.pskKeys.size === 0 ? {} : {
        pskCallback: (_socket: TLSSocket, identity: string) => {
          const key = service.pskKeys.get(identity);
          // stunnel's words and levels: the identity is not logged when it is unknown.
          if (key === undefined) this.log(6, 'PSK identity not found (session resumption?)');
          else {
            this.pskUsed = true;
            this.log(5, `Key configured for PSK identity "${identity}"`);
          }
          return key ?? null;
        },
      }),
    });
    this.tls = tls;
    this.startBusyTimer('ssl_start');
    this.logCertificateRequirement();
    this.watchTlsSocket(tls, 'SSL_accept');
    tls.once('secure', () => {
      this.clearBusyTimer();
      this.handshakeDone = true;
      onSecure(tls);
    });
  }

  /** Server mode, after the handshake: SNI routing, verification, then the target or program. */
  private onServerHandshake(tls: TLSSocket): void {
    const serverName = (tls as TLSSocket & { servername?: string | false }).servername;
    const secondary = typeof serverName === 'string' ? this.service.findSniSecondary(serverName) : undefined;
    if (secondary !== undefined) {
      this.route = secondary;
      this.log(6, `SNI: switched to service [${secondary.name}]`);
    }
    if (!this.verifyPeer(tls, 'SSL_accept')) return;
    this.logHandshake(tls, 'accepted');
    // Bytes the client sends before the target is connected stay buffered in the TLS socket.
    tls.pause();
    if (this.route.config.exec !== null && !this.redirected) {
      this.startProgram(tls);
      return;
    }
    if (this.redirected) {
      // After the handshake lines, as in stunnel (it decides when it connects).
      this.log(5, 'Redirecting connection');
      const order = this.service.redirectOrder(this.rotation);
      this.logFailoverStart(order.targets.length, order.start, this.service.config.failover === 'rr');
      this.connectTarget(0, order.targets);
      return;
    }
    const order = this.route.targetOrder(this.route === this.service ? this.rotation : undefined);
    this.logFailoverStart(order.targets.length, order.start, this.route.rotates);
    this.connectTarget(0, order.targets);
  }

  /** Errors and closes of the TLS side, before the handshake (a handshake failure) and after. */
  private watchTlsSocket(tls: TLSSocket, operation: 'SSL_accept' | 'SSL_connect'): void {
    tls.on('error', (error) => {
      if (this.closedByPeerReset('tls', error)) return;
      this.handshakeFailure ??= 'tls_error';
      // A relayed write that failed (the peer gone: EPIPE) is SSL_write's error, as stunnel logs it.
      const during = !this.relaying() ? operation : (error as NodeJS.ErrnoException).syscall === 'write' ? 'SSL_write' : 'SSL_read';
      this.fail(`${during}: ${describeTlsError(error)}`);
    });
    tls.on('close', () => {
      this.handshakeFailure ??= 'peer_closed';
      if (!this.relaying() && !this.finished) this.fail(`${operation}: Peer suddenly disconnected`);
      else this.onSideClosed();
    });
    // The sockets are half-open capable, so a peer that gives up mid-handshake arrives as `end`, not
    // `close`; without this it would hold its slot until the handshake deadline.
    tls.on('end', () => {
      if (this.handshakeDone) return;
      this.handshakeFailure ??= 'peer_closed';
      this.fail(`${operation}: Peer suddenly disconnected`);
    });
  }

  // --- the outgoing leg -------------------------------------------------------------------------

  /** stunnel's LOG6 line before it tries several targets: which entry it starts at. */
  private logFailoverStart(targets: number, start: number, roundRobin: boolean): void {
    if (targets < 2) return;
    this.log(6, roundRobin ? `failover: round-robin, starting at entry #${start}` : 'failover: priority, starting at entry #0');
  }

  private connectTarget(index: number, targets: readonly Endpoint[]): void {
    if (this.finished) return;
    const endpoint = targets[index];
    if (endpoint === undefined) {
      this.service.counters.connectFailures += 1;
      this.fail('No more addresses to connect');
      return;
    }
    // A host name is resolved first, as stunnel resolves `connect` (at start, or per connection with
    // delay): its addresses take its place in the list, each logged and tried as stunnel does.
    if (endpoint.kind === 'inet' && isIP(endpoint.host) === 0 && endpoint.name === undefined) {
      lookup(endpoint.host, { all: true, hints: ADDRCONFIG }, (error, addresses) => {
        if (this.finished) return;
        if (error !== null || addresses.length === 0) {
          // Node's connect reports the resolver's error as the connect error, as before.
          this.connectTarget(index, [...targets.slice(0, index), { ...endpoint, name: endpoint.host }, ...targets.slice(index + 1)]);
          return;
        }
        const resolved: Endpoint[] = addresses.map(({ address }) => ({
          kind: 'inet', text: endpoint.text, host: address, port: endpoint.port, name: endpoint.host,
        }));
        this.connectTarget(index, [...targets.slice(0, index), ...resolved, ...targets.slice(index + 1)]);
      });
      return;
    }
    const text = formatTarget(endpoint);
    this.log(6, `s_connect: connecting ${text}`);
    const options = endpoint.kind === 'unix'
      ? { path: endpoint.path, allowHalfOpen: true }
      : { host: endpoint.host, port: endpoint.port, allowHalfOpen: true, ...(this.service.config.local === null ? {} : { localAddress: this.service.config.local }) };
    const socket = netConnect(options);
    this.remote = socket;
    const seconds = this.service.config.timeouts.connect;
    const giveUp = (message: string): void => {
      if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      this.remote = undefined;
      if (this.finished) return;
      this.log(3, message);
      this.connectTarget(index + 1, targets);
    };
    if (seconds >= 0) {
      this.connectTimer = setTimeout(() => giveUp(`s_connect: s_poll_wait ${text}: TIMEOUTconnect exceeded`), seconds * MS_PER_SECOND);
    }
    socket.once('error', (error) => giveUp(`s_connect: connect ${text}: ${formatSystemError(error)}`));
    socket.once('connect', () => {
      if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
      socket.removeAllListeners('error');
      this.target = formatEndpoint(endpoint);
      // A Unix socket connects at once, which stunnel reports at info level.
      this.log(endpoint.kind === 'unix' ? 6 : 5, `s_connect: connected ${text}`);
      this.log(5, `Service [${this.service.name}] connected remote server from ${formatAddress(socket.localAddress, socket.localPort)}`);
      applySocketOptions(socket, this.service.config.socketOptions, ['r']);
      if (this.service.config.client) this.startClientTls(socket, endpoint);
      else if (!(this.local instanceof Socket)) this.acceptTlsOnOutgoing(socket);
      else this.onServerTargetConnected(socket);
    });
  }

  private onServerTargetConnected(socket: Socket): void {
    const tls = this.tls;
    if (tls === undefined) return;
    socket.on('error', (error) => {
      if (!this.closedByPeerReset('plain', error)) this.fail(`writesocket: ${formatSystemError(error)}`, 6);
    });
    socket.on('close', () => this.onSideClosed());
    if (this.route.config.protocol === 'proxy') socket.write(buildProxyV1Header(this.acceptedSocket));
    this.startRelay(tls, socket);
  }

  /** inetd-style `exec`: the program's stdin/stdout are the plain side of this connection. */
  private startProgram(tls: TLSSocket): void {
    const config = this.route.config;
    const program = config.exec ?? '';
    const [argv0, ...args] = config.execArgs;
    const certificate = tls.getPeerCertificate();
    const present = certificate !== null && Object.keys(certificate).length > 0;
    this.log(6, `Local mode child started (${program})`);
    const { child, stdio } = spawnProgram(program, argv0, args, {
      REMOTE_HOST: this.acceptedSocket.remoteAddress ?? '',
      REMOTE_PORT: String(this.acceptedSocket.remotePort ?? ''),
      ...(present ? { SSL_CLIENT_DN: formatSubject(certificate), SSL_CLIENT_I_DN: formatIssuer(certificate) } : {}),
    });
    this.remote = stdio;
    this.target = `${program} (pid ${child.pid ?? 'none'})`;
    child.on('error', (error) => this.fail(`Failed to execute ${program}: ${formatSystemError(error)}`));
    child.on('exit', (code, signal) => this.log(6, `Child process ${child.pid ?? ''} finished with ${signal === null ? `code ${code ?? 0}` : `signal ${signal}`}`));
    stdio.on('error', (error) => this.fail(`writesocket: ${formatSystemError(error)}`, 6));
    stdio.on('close', () => this.onSideClosed());
    this.startRelay(tls, stdio);
  }

  /** exec+connect in server mode: the target is the TLS client; the program is the plain side. */
  private acceptTlsOnOutgoing(socket: Socket): void {
    this.remote = socket;
    this.acceptTls(socket, (tls) => {
      if (!this.verifyPeer(tls, 'SSL_accept')) return;
      this.logHandshake(tls, 'accepted');
      this.startRelay(tls, this.local);
    });
  }

  // --- client mode: TLS out ---------------------------------------------------------------------

  private startClientTls(socket: Socket, endpoint: Endpoint): void {
    const config = this.service.config;
    // stunnel's default: the connect host, `localhost` for a bare port or a Unix socket. An IP address
    // is not sent (RFC 6066 forbids it; stunnel sends it): README, deliberate differences.
    const host = endpoint.kind === 'inet' && endpoint.text.includes(':') ? endpoint.name ?? endpoint.host : 'localhost';
    const sni = config.sni ?? (isIP(host) === 0 ? host : null);
    this.tlsRaw = socket;
    const tls = tlsConnect({
      socket,
      secureContext: this.service.secureContext,
      ...(sni === null || sni === '' ? {} : { servername: sni }),
      rejectUnauthorized: false,
      ...(this.service.clientSession === undefined || !config.sessionResume ? {} : { session: this.service.clientSession }),
      ...(this.service.pskKeys.size === 0 ? {} : { pskCallback: () => this.clientPsk() }),
    });
    this.tls = tls;
    this.startBusyTimer('ssl_start');
    this.log(6, sni !== null && sni !== '' ? `SNI: sending servername: ${sni}` : 'SNI: extension disabled');
    this.logCertificateRequirement();
    // A session is offered for resumption only once its connection has passed verification (the relay
    // starts only then): a resumed handshake carries no certificate (Node reports none for a resumed
    // client session), so it is not verified again, as stunnel (OpenSSL) does not either. A TLS 1.2
    // session arrives before `secureConnect`, a TLS 1.3 ticket after it.
    // The first session of a full handshake also goes to the other engine processes (TLS 1.3 sends
    // two tickets per connection; one is enough).
    let sessionBeforeVerification: Buffer | undefined;
    let shared = false;
    const keep = (session: Buffer): void => {
      const share = !shared && !tls.isSessionReused();
      shared ||= share;
      this.service.keepClientSession(session, share);
    };
    tls.on('session', (session: Buffer) => {
      if (this.relayStarted) keep(session);
      else sessionBeforeVerification = session;
    });
    this.watchTlsSocket(tls, 'SSL_connect');
    tls.once('secureConnect', () => {
      this.clearBusyTimer();
      this.handshakeDone = true;
      if (!tls.isSessionReused() && !this.verifyPeer(tls, 'SSL_connect')) return;
      if (sessionBeforeVerification !== undefined) keep(sessionBeforeVerification);
      this.logHandshake(tls, 'connected');
      this.startRelay(tls, this.local);
    });
  }

  private clientPsk(): { psk: Buffer; identity: string } | null {
    const keys = this.service.pskKeys;
    const identity = this.service.config.pskIdentity ?? keys.keys().next().value;
    const psk = identity === undefined ? undefined : keys.get(identity);
    if (identity === undefined || psk === undefined) return null;
    this.log(6, `PSK client configured for identity "${identity}"`);
    return { psk, identity };
  }

  // --- verification and handshake log lines -------------------------------------------------------

  /** stunnel's verifyChain / verifyPeer / requireCert / checkHost, with its log lines. */
  private verifyPeer(tls: TLSSocket, operation: string): boolean {
    const { verify, client } = this.service.config;
    const checks = verify.verifyChain || verify.verifyPeer;
    // stunnel's verify callback says so for a certificate it is not asked to check.
    if (client && !checks) {
      if (!tls.isSessionReused()) this.log(6, 'Certificate verification disabled');
      return true;
    }
    if (!client && !verify.request) return true;
    const certificate = tls.getPeerCertificate(true);
    const present = certificate !== null && Object.keys(certificate).length > 0;
    if (!present) {
      if (verify.requireCert || client) {
        if (!client && this.service.config.redirect.length > 0) {
          // stunnel lets the handshake finish and redirects the unauthenticated client, quietly.
          this.redirected = true;
          return true;
        }
        this.handshakeFailure = 'no_certificate';
        this.fail(`${operation}: error:0A0000C7:SSL routines::peer did not return a certificate`);
        return false;
      }
      return true;
    }
    // stunnel's verify callback runs from the top of the chain down, and not at all for a resumed
    // session; the certificate a resumed session carries is still checked here, quietly.
    const quiet = tls.isSessionReused();
    if (!checks) {
      // A certificate requested (requireCert, verify = 0 or 1 without a CA) but not verified.
      if (!quiet) this.log(6, 'Certificate verification disabled');
      return true;
    }
    const subject = formatSubject(certificate);
    const chain = [certificate, ...issuerChain(certificate)];
    const errors = chainErrors(tls, chain, this.service.trustAnchors);
    const rejectFor = (error: ChainError): boolean => {
      this.log(4, `CERT: Pre-verification error: ${error.message}`);
      return this.reject(`Rejected by CERT at depth=${error.depth}: ${formatSubject(chain[error.depth] ?? certificate)}`, operation);
    };
    if (verify.verifyChain) {
      const first = errors?.structural ?? errors?.other;
      if (first !== undefined && first !== null) return rejectFor(first);
    } else {
      // verifyPeer alone: stunnel sets aside a missing issuer, and any error above depth 0, for the
      // certificate itself is looked up in CAfile. Its verify callback runs once per error OpenSSL
      // meets, each time with the depth-0 checks: a pinned certificate whose issuer is nowhere meets
      // two ("unable to get local issuer certificate", then "unable to verify the first certificate").
      const { structural, other } = errors ?? { structural: null, other: null };
      if (structural !== null && structural.depth === 0 && !IGNORABLE_WITHOUT_CHAIN.has(structural.code)) return rejectFor(structural);
      if (structural !== null && structural.depth > 0) {
        if (!quiet) this.log(6, `CERT: Pre-verification error ignored: ${structural.message}`);
      } else if (structural !== null) {
        for (const message of PINNED_WITHOUT_ISSUER) {
          if (!quiet) this.log(6, `CERT: Pre-verification error ignored: ${message}`);
          if (!this.depthZeroChecks(certificate, subject, operation, quiet)) return false;
        }
      }
      if (other !== null && other.depth === 0) return rejectFor(other);
      if (other !== null && !quiet) this.log(6, `CERT: Pre-verification error ignored: ${other.message}`);
    }
    if (errors === null && !quiet) {
      for (let depth = chain.length - 1; depth >= 1; depth -= 1) {
        const issuer = chain[depth];
        if (issuer !== undefined) this.log(6, `Certificate accepted at depth=${depth}: ${formatSubject(issuer)}`);
      }
    }
    return this.depthZeroChecks(certificate, subject, operation, quiet);
  }

  /** stunnel's checks of the peer's own certificate, with their lines: subject, CAfile (verifyPeer), accepted. */
  private depthZeroChecks(certificate: PeerCertificate, subject: string, operation: string, quiet: boolean): boolean {
    const { verify } = this.service.config;
    const matched = this.subjectChecks(certificate);
    if (matched === null) {
      this.log(4, 'CERT: Subject checks failed');
      return this.reject(`Rejected by CERT at depth=0: ${subject}`, operation);
    }
    if (!quiet) this.log(6, matched);
    if (verify.verifyPeer && !this.service.trustAnchors.has(certificate.fingerprint256)) {
      this.log(4, 'CERT: Certificate not found in local repository');
      return this.reject(`Rejected by CERT at depth=0: ${subject}`, operation);
    }
    if (verify.verifyPeer && !quiet) this.log(6, 'CERT: Locally installed certificate matched');
    if (!quiet) this.log(5, `Certificate accepted at depth=0: ${subject}`);
    return true;
  }

  /**
   * checkHost / checkEmail / checkIP, in stunnel's order: its LOG6 line for the first that matches
   * (or for none configured), null when none matches.
   */
  private subjectChecks(certificate: PeerCertificate): string | null {
    const { checkHost, checkIP, checkEmail } = this.service.config.verify;
    if (checkHost.length + checkIP.length + checkEmail.length === 0) return 'CERT: No subject checks configured';
    for (const host of checkHost) {
      const name = matchedHostName(host, certificate);
      if (name !== null) return `CERT: Host name "${host}" matched with "${name}"`;
    }
    if (checkEmail.length > 0 && certificate.raw !== undefined) {
      const x509 = new X509Certificate(certificate.raw);
      for (const email of checkEmail) if (x509.checkEmail(email) !== undefined) return `CERT: Email address "${email}" matched`;
    }
    for (const ip of checkIP) if (checkServerIdentity(ip, certificate) === undefined) return `CERT: IP address "${ip}" matched`;
    return null;
  }

  /** LOG6, as stunnel at the start of each handshake: whether the peer must present a certificate. */
  private logCertificateRequirement(): void {
    this.log(6, `Peer certificate ${this.service.config.verify.requireCert ? 'required' : 'not required'}`);
  }

  /** A failed check ends the connection, or, with `redirect`, sends it to the redirect targets. */
  private reject(text: string, operation: string): boolean {
    this.log(4, text);
    if (!this.service.config.client && this.service.config.redirect.length > 0) {
      this.redirected = true;
      return true;
    }
    this.handshakeFailure = 'certificate_rejected';
    // stunnel's verify callback fails the handshake, and OpenSSL's error is its LOG3 line: the one an
    // operator at `debug = err` sees.
    this.fail(`${operation}: error:0A000086:SSL routines::certificate verify failed`);
    return false;
  }

  private logHandshake(tls: TLSSocket, verb: 'accepted' | 'connected'): void {
    // An external PSK in TLS 1.3 rides on the resumption mechanism, so it is asked about first.
    // stunnel 5.68 reports an external PSK handshake as a new session.
    const how = !this.pskUsed && tls.isSessionReused() ? 'previous session reused' : 'new session negotiated';
    this.log(6, `TLS ${verb}: ${how}`);
    // OpenSSL's own suite name (ECDHE-RSA-AES128-GCM-SHA256), as stunnel logs it.
    const { name } = tls.getCipher();
    this.log(6, `${tls.getProtocol() ?? 'TLS'} ciphersuite: ${name} (${cipherBits(name)}-bit encryption)`);
    // Node tells only a client which key exchange the server chose (a server gets null). A native
    // call per connection: only when the line is logged.
    if (this.service.logLevel >= 6) {
      const temporary = tls.getEphemeralKeyInfo();
      if (temporary !== null) this.log(6, describeTemporaryKey(temporary));
    }
  }

  // --- the relay ----------------------------------------------------------------------------------

  private relaying(): boolean {
    return this.relayStarted || this.tlsEnded || this.plainEnded;
  }

  /**
   * Bytes flow both ways with backpressure: a side is paused while the other cannot take more, so
   * memory per connection stays at the sockets' high-water marks. An `end` on one side is passed on
   * as a half-close (FIN, or close_notify + FIN on the TLS side); the connection is done when both
   * directions have ended and both writes have been flushed.
   */
  private startRelay(tls: TLSSocket, plain: Duplex): void {
    this.relayStarted = true;
    // Socket to socket, each direction goes handle to handle (handle-relay.ts), with no stream
    // machinery per chunk; a program's stdio, or a Node without the handles, goes through the streams.
    const toPlain = startHandleRelay(tls, plain, (bytes) => {
      this.bytesToSocket += bytes;
      this.lastActivityMs = Date.now();
    });
    if (toPlain === null) this.relayTlsToPlainByStreams(tls, plain);
    const toTls = startHandleRelay(plain, tls, (bytes) => {
      this.bytesToTls += bytes;
      this.lastActivityMs = Date.now();
    });
    if (toTls === null) this.relayPlainToTlsByStreams(tls, plain);
    this.queuedToPlain = () => toPlain?.queuedBytes() ?? plain.writableLength;
    this.queuedToTls = () => toTls?.queuedBytes() ?? tls.writableLength;
    this.queuedBytes = () => this.queuedToPlain() + this.queuedToTls();
    this.armIdleTimer();
    const onTlsEnd = (): void => {
      if (this.tlsEnded) return;
      this.log(6, 'TLS closed (SSL_read)');
      this.tlsEnded = true;
      plain.end();
      this.directionEnded();
    };
    const onPlainEnd = (): void => {
      if (this.plainEnded) return;
      this.log(6, 'Read socket closed (readsocket)');
      this.plainEnded = true;
      // On the check phase, not now: Node 20's TLS handle completes a TCP write it made at once only
      // on the check phase, and a shutdown before then parks the close_notify behind that write and
      // marks the TCP socket unwritable, so the close_notify is lost and the peer sees a bare FIN
      // (stunnel's OpenSSL answers it with a decode_error alert). That happens when the plain side
      // ends right after the handshake (a client that sent nothing and went away).
      setImmediate(() => {
        if (tls.destroyed) return;
        // Before checkDone's listener: the line comes before the close summary, as in stunnel.
        tls.prependOnceListener('finish', () => this.log(6, 'SSL_shutdown successfully sent close_notify alert'));
        tls.end();
      });
      this.directionEnded();
    };
    tls.on('end', onTlsEnd);
    plain.on('end', onPlainEnd);
    tls.on('finish', () => this.checkDone());
    plain.on('finish', () => this.checkDone());
    tls.resume();
    plain.resume();
    // A stream whose buffer is empty emits `end` at EOF even while paused: a peer that half-closed
    // before the relay began (a client that only listens) has already ended, with no one listening.
    if (tls.readableEnded) onTlsEnd();
    if (plain.readableEnded) onPlainEnd();
  }

  private relayTlsToPlainByStreams(tls: TLSSocket, plain: Duplex): void {
    // One read of the TLS socket decrypts up to four 16 KiB records and hands them over one by one,
    // each with its own callback (and next-tick queue run): corked until the check phase, they go to
    // the plain socket in one writev instead of one write each. Only a full record starts the cork:
    // a small one (interactive traffic) is written at once, as a round trip must not wait.
    let plainCorked = false;
    const uncorkPlain = (): void => {
      plainCorked = false;
      plain.uncork();
    };
    tls.on('data', (chunk: Buffer) => {
      this.bytesToSocket += chunk.length;
      this.lastActivityMs = Date.now();
      if (!plainCorked && chunk.length >= FULL_TLS_RECORD_BYTES) {
        plainCorked = true;
        plain.cork();
        setImmediate(uncorkPlain);
      }
      if (!plain.write(chunk)) tls.pause();
    });
    plain.on('drain', () => tls.resume());
  }

  private relayPlainToTlsByStreams(tls: TLSSocket, plain: Duplex): void {
    // A large chunk goes into the TLS socket alone: the plain side is paused until its write has
    // completed (its records are encrypted and handed to the kernel, or queued there under
    // backpressure). Chunks read while a write is in flight would otherwise be queued and handed over
    // together, and Node's TLS stream copies such a batch into one buffer before SSL_write: 7% of a
    // client-mode worker's CPU in bulk transfers (perf; bench/RESULTS.md). Small chunks (interactive
    // traffic) are written at once, whatever is in flight.
    const resumePlain = (): void => {
      plain.resume();
    };
    plain.on('data', (chunk: Buffer) => {
      this.bytesToTls += chunk.length;
      this.lastActivityMs = Date.now();
      if (chunk.length >= FULL_TLS_RECORD_BYTES) {
        plain.pause();
        tls.write(chunk, resumePlain);
      } else if (!tls.write(chunk)) {
        plain.pause();
      }
    });
    tls.on('drain', () => plain.resume());
  }

  /**
   * stunnel's transfer timeout: TIMEOUTidle while both directions are open, TIMEOUTclose (of
   * inactivity too) once one side has closed its direction and nothing waits to be written, so a
   * half-closed connection whose other side neither answers nor closes does not hold its sockets for
   * twelve hours. Negative means never. Once both directions have ended, `checkDone` takes over.
   */
  private inactivityLimit(queued: number): { ms: number; closing: boolean } {
    const { idle, close } = this.service.config.timeouts;
    const closing = this.halfClosed() && queued === 0;
    return { ms: (closing ? close : idle) * MS_PER_SECOND, closing };
  }

  /** Exactly one direction has ended. */
  private halfClosed(): boolean {
    return this.tlsEnded !== this.plainEnded;
  }

  /**
   * A peer's TCP reset during the relay, taken as stunnel takes it: poll reports an error on that
   * socket, stunnel logs it at info level (reading it with SO_ERROR) and from then on the socket
   * reads as closed and writes as `Socket is closed`. So that side is closed both ways, the other
   * side is closed in order once what is queued for it has gone out (FIN, or close_notify), and the
   * summary says `Connection closed`. Bytes still queued for a TLS peer that reset can never arrive:
   * stunnel's `TLS socket closed (SSL_read) with N unsent byte(s)` and a reset.
   */
  private closedByPeerReset(side: 'tls' | 'plain', error: Error): boolean {
    if (!this.relayStarted || this.finished || (error as NodeJS.ErrnoException).code !== 'ECONNRESET') return false;
    // The rest of the same teardown (a write to the socket that reset) says nothing new.
    if (this.peerReset) return true;
    const tls = this.tls;
    const plain = this.tlsRaw === this.local ? this.remote : this.local;
    if (tls === undefined || plain === undefined) return false;
    this.peerReset = true;
    if (side === 'tls') {
      this.log(6, `TLS fd: ${formatSystemError(error)}`);
      const unsent = this.queuedToTls();
      if (unsent > 0) {
        this.log(3, `TLS socket closed (SSL_read) with ${unsent} unsent byte(s)`);
        this.finish('reset');
        return true;
      }
      this.log(6, 'TLS socket closed (SSL_read)');
      this.whenDrained(this.queuedToPlain, () => plain.end());
    } else {
      this.log(6, `socket fd: ${formatSystemError(error)}`);
      this.log(6, 'writesocket: Socket is closed');
      this.whenDrained(this.queuedToTls, () => tls.end());
    }
    this.tlsEnded = true;
    this.plainEnded = true;
    this.directionEnded();
    return true;
  }

  /** Runs `then` once nothing is queued any more (looked at every few ms; TIMEOUTclose bounds the wait). */
  private whenDrained(queued: () => number, then: () => void): void {
    const attempt = (): void => {
      if (this.finished) return;
      // On the check phase at the earliest: a TLS handle completes a write it made at once only then.
      if (queued() === 0) setImmediate(() => {
        if (!this.finished) then();
      });
      else setTimeout(attempt, DRAIN_POLL_MS);
    };
    attempt();
  }

  /** A side's end: activity (TIMEOUTclose counts from it, as stunnel's poll does), and maybe the last one. */
  private directionEnded(): void {
    this.lastActivityMs = Date.now();
    this.armIdleTimer();
    this.checkDone();
  }

  /** (Re)arms the one inactivity timer of the connection: no per-chunk timer work. */
  private armIdleTimer(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.finished) return;
    const queued = this.halfClosed() ? this.queuedBytes() : 0;
    const { ms } = this.inactivityLimit(queued);
    let dueAtMs = ms < 0 ? Number.POSITIVE_INFINITY : this.lastActivityMs + ms;
    // Half-closed with bytes still queued, the limit turns from TIMEOUTidle to TIMEOUTclose once they
    // are out: look again every TIMEOUTclose (every second at most).
    const { close } = this.service.config.timeouts;
    if (queued > 0 && close >= 0) {
      dueAtMs = Math.min(dueAtMs, Date.now() + Math.max(close * MS_PER_SECOND, MS_PER_SECOND));
    }
    if (!Number.isFinite(dueAtMs)) return;
    this.idleTimer = setTimeout(() => this.onInactivity(), Math.max(dueAtMs - Date.now(), 1));
  }

  private onInactivity(): void {
    this.idleTimer = undefined;
    const queued = this.halfClosed() ? this.queuedBytes() : 0;
    const { ms, closing } = this.inactivityLimit(queued);
    // Half-closed with bytes still queued, and the TLS side's TCP connection is gone: they can never
    // be delivered. Node 20 can lose the error of a TLS write whose TCP write failed at once (the TLS
    // handle keeps its next writes pending for good, and the read side sees only an EOF), so this is
    // looked at here, at each TIMEOUTclose check, rather than left to TIMEOUTidle.
    if (queued > 0 && this.tlsTransportGone()) {
      this.log(3, `TLS socket closed (SSL_read) with ${queued} unsent byte(s)`);
      this.finish('reset');
      return;
    }
    if (ms < 0 || Date.now() - this.lastActivityMs < ms) {
      this.armIdleTimer();
      return;
    }
    if (!closing) {
      this.fail('transfer: s_poll_wait: TIMEOUTidle exceeded: sending reset', 6);
      return;
    }
    // As stunnel: an error line, then the connection ends normally (closed, not reset).
    this.log(3, 'transfer: s_poll_wait: TIMEOUTclose exceeded: closing');
    this.finish('closed');
  }

  /** Whether the TCP connection under the TLS socket is no longer connected (getpeername fails). */
  private tlsTransportGone(): boolean {
    const tcp = (this.tls as unknown as { _handle?: { _parent?: { getpeername?: (out: object) => number } } | null } | undefined)?._handle?._parent;
    if (tcp === undefined || typeof tcp.getpeername !== 'function') return false;
    return tcp.getpeername({}) !== 0;
  }

  private checkDone(): void {
    if (this.finished || !this.tlsEnded || !this.plainEnded) return;
    const tls = this.tls;
    const plain = this.tlsRaw === this.local ? this.remote : this.local;
    // Done only when every byte handed to each side has been flushed to it (or that side is gone):
    // ending earlier would destroy a socket with relayed bytes still in its write buffer.
    const flushed = (stream: Duplex | undefined): boolean => stream === undefined || stream.writableFinished || stream.destroyed;
    if (flushed(tls) && flushed(plain)) {
      this.finish('closed');
      return;
    }
    if (this.closeTimer === undefined && this.service.config.timeouts.close >= 0) {
      this.closeTimer = setTimeout(
        () => this.fail('transfer: s_poll_wait: TIMEOUTclose exceeded: closing'),
        this.service.config.timeouts.close * MS_PER_SECOND,
      );
    }
  }

  private onSideClosed(): void {
    if (this.finished) return;
    // Both directions ended: the other side may still be flushing what it was given.
    if (this.tlsEnded && this.plainEnded) this.checkDone();
    else if (this.relaying() || this.service.config.client) this.finish('reset');
  }

  /**
   * Ends every socket of the connection; with `reset` (stunnel's `reset = yes` on errors and
   * timeouts) the TCP connections get an RST instead of a FIN. After a TLS alert the TLS side is
   * closed, not reset, as in stunnel 5.68+. Resetting the TCP socket under a TLS socket from inside a
   * TLS callback crashes Node 20 (SIGSEGV), so that reset is deferred to its own turn of the loop.
   */
  private closeSockets(reset: boolean): string {
    const client = this.service.config.client;
    const tlsRaw = this.tlsRaw ?? (client ? this.remote : this.local);
    const plain = tlsRaw === this.local ? this.remote : this.local;
    // A refused peer certificate ends with a fatal alert: that side is closed, as in stunnel 5.68+.
    const alerted = this.handshakeFailure === 'certificate_rejected' || this.handshakeFailure === 'no_certificate';
    const resetTls = reset && !alerted;
    // stunnel's status word: one word when both sockets ended alike, else OUTGOING/ACCEPTED.
    const tlsWord = resetTls ? 'reset' : 'closed';
    const plainWord = reset ? 'reset' : 'closed';
    const outgoing = tlsRaw === this.remote ? tlsWord : plainWord;
    const accepted = tlsRaw === this.remote ? plainWord : tlsWord;
    const word = outgoing === accepted ? accepted : `${outgoing}/${accepted}`;
    this.closeSocketsNow(reset, resetTls, tlsRaw, plain);
    return word;
  }

  private closeSocketsNow(reset: boolean, resetTls: boolean, tlsRaw: Duplex | undefined, plain: Duplex | undefined): void {
    for (const socket of [this.tls, this.remote, this.local]) socket?.on('error', () => undefined);
    if (plain instanceof Socket && reset && !plain.connecting && !plain.destroyed) plain.resetAndDestroy();
    else plain?.destroy();
    const tls = this.tls;
    if (tls === undefined) {
      if (tlsRaw instanceof Socket && resetTls && !tlsRaw.connecting && !tlsRaw.destroyed) tlsRaw.resetAndDestroy();
      else tlsRaw?.destroy();
      return;
    }
    if (resetTls && tlsRaw instanceof Socket && !tlsRaw.destroyed) {
      setImmediate(() => {
        if (!tlsRaw.destroyed) tlsRaw.resetAndDestroy();
        tls.destroy();
      });
      return;
    }
    tls.destroy();
    tlsRaw?.destroy();
  }

  private finish(status: 'closed' | 'reset'): void {
    if (this.finished) return;
    this.finished = true;
    this.clearBusyTimer();
    for (const timer of [this.idleTimer, this.closeTimer, this.connectTimer]) if (timer !== undefined) clearTimeout(timer);
    const word = this.closeSockets(status === 'reset' && this.service.config.reset);
    this.deps.registry.delete(this);
    this.service.active -= 1;
    const counters = this.service.counters;
    counters.bytesToTls += this.bytesToTls;
    counters.bytesToSocket += this.bytesToSocket;
    // A verified-then-rejected peer has completed the TLS handshake but still failed authentication.
    if (this.handshakeFailure !== undefined && (!this.handshakeDone || this.handshakeFailure === 'certificate_rejected' || this.handshakeFailure === 'no_certificate')) {
      counters.recordHandshakeFailure(this.handshakeFailure);
    }
    this.log(5, `Connection ${status === 'closed' ? 'closed' : word}: ${this.bytesToTls} byte(s) sent to TLS, ${this.bytesToSocket} byte(s) sent to socket`);
    this.deps.onFinished(this);
  }
}

interface ChainError { code: string; message: string; depth: number }

const STRUCTURAL_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

/**
 * OpenSSL's verdict on the peer's chain, in OpenSSL's words (`self-signed certificate`), or null when
 * it verified. `tls.authorized` is no use here: a standalone server TLSSocket never sets it, and on a
 * client it also folds in Node's host-name check against the connect address, which stunnel leaves
 * to checkHost/checkIP. The handle's verifyError() is what tls.Server itself reads.
 *
 * Node's verify callback lets OpenSSL go on past each error, so verifyError() is the last one;
 * stunnel's callback stops at the first, and logs that one with its depth. The two differ for the
 * commonest rejection, an issuer that is nowhere (not sent, not in CAfile): first "unable to get local
 * issuer certificate" at the depth of the last certificate there is, then "unable to verify the first
 * certificate"; or a self-signed certificate that is not trusted. Both are read off the chain as Node
 * links it (the peer's certificates, then the issuers it found in the trust store). For a certificate
 * out of its validity period, the depth is the highest one that is (OpenSSL checks from the top
 * down); anything else is taken to be about the peer's own certificate.
 */
const chainErrors = (tls: TLSSocket, chain: readonly PeerCertificate[], trusted: ReadonlySet<string>): { structural: ChainError | null; other: ChainError | null } | null => {
  const handle = (tls as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  const error = handle?.verifyError?.() ?? null;
  if (error === null) return null;
  const code = error.code ?? '';
  const top = chain.length - 1;
  const last = chain[top];
  // Building the chain comes first: its errors are the ones stunnel meets first.
  let structural: ChainError | null = null;
  if (last !== undefined && formatSubject(last) !== formatIssuer(last)) {
    structural = { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', message: 'unable to get local issuer certificate', depth: top };
  } else if (last !== undefined && !trusted.has(last.fingerprint256)) {
    structural = top === 0
      ? { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate', depth: 0 }
      : { code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain', depth: top };
  }
  if (STRUCTURAL_CODES.has(code)) return { structural: structural ?? { code, message: error.message, depth: top }, other: null };
  let depth = 0;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    const now = Date.now();
    const outOfDate = (certificate: PeerCertificate): boolean => code === 'CERT_HAS_EXPIRED'
      ? Date.parse(certificate.valid_to) < now
      : Date.parse(certificate.valid_from) > now;
    for (let index = top; index >= 0; index -= 1) {
      const certificate = chain[index];
      if (certificate !== undefined && outOfDate(certificate)) {
        depth = index;
        break;
      }
    }
  }
  return { structural, other: { code, message: error.message, depth } };
};

/** The two errors OpenSSL meets, in order, for a certificate whose issuer is nowhere. */
const PINNED_WITHOUT_ISSUER = ['unable to get local issuer certificate', 'unable to verify the first certificate'] as const;

/** With verifyPeer alone, stunnel passes over these at depth 0: the certificate is then looked up in CAfile. */
const IGNORABLE_WITHOUT_CHAIN: ReadonlySet<string> = new Set(['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_UNTRUSTED']);

/** A local program whose stdin/stdout form one duplex stream (stderr goes to the worker's SYSLST). */
export const spawnProgram = (
  program: string,
  argv0: string | undefined,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): { child: ChildProcess; stdio: Duplex } => {
  const child = spawn(program, args, { argv0: argv0 ?? program, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const stdio = Duplex.from({ readable: child.stdout, writable: child.stdin });
  // When the program exits while its stdin is being ended, Duplex.from can miss the pipe closing:
  // the composite then never reports its writable side finished, and the connection waited for it
  // until TIMEOUTclose. Once the pipe is closed nothing more can be written: when the program's
  // output has been read to its end as well, the composite is done.
  child.stdin?.once('close', () => {
    if (stdio.writableFinished || stdio.destroyed) return;
    if (stdio.readableEnded) stdio.destroy();
    else stdio.once('end', () => setImmediate(() => stdio.destroy()));
  });
  return { child, stdio };
};

/** OpenSSL errors as stunnel prints them: `error:0A000102:SSL routines::unsupported protocol`. */
const describeTlsError = (error: Error): string => {
  const { code, reason, library } = error as { code?: string; reason?: string; library?: string };
  if (code !== undefined && /^E[A-Z]+$/.test(code)) return formatSystemError(error);
  const hex = /error:([0-9A-F]{8})/.exec(error.message)?.[1];
  if (hex !== undefined && reason !== undefined) return `error:${hex}:${library ?? 'SSL routines'}::${reason}`;
  return error.message;
};

/** The issuers of a peer certificate as Node links them (the peer's chain, then the trust store), depth 1 first. */
const issuerChain = (certificate: PeerCertificate): PeerCertificate[] => {
  const issuers: PeerCertificate[] = [];
  let current = certificate as PeerCertificate & { issuerCertificate?: PeerCertificate };
  // A self-signed root is its own issuer: the walk stops there (and at a bound, whatever the input).
  while (issuers.length < MAX_CHAIN_DEPTH) {
    const issuer = current.issuerCertificate as (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined;
    if (issuer === undefined || issuer === null || issuer === current || issuer.fingerprint256 === current.fingerprint256) break;
    issuers.push(issuer);
    current = issuer;
  }
  return issuers;
};

/**
 * The name in the certificate that `host` matches, as OpenSSL's X509_check_host (flags 0) finds it
 * for stunnel's checkHost, or null: the DNS subject alternative names, or the common names when there
 * are none; a `*` in the leftmost label of a name with at least two more labels matches one label
 * (partially, `f*o`, except for an IDNA label). The host is compared as text, so an IP address matches
 * a name written that way, not an IP address entry (that is checkIP).
 */
const matchedHostName = (host: string, certificate: PeerCertificate): string | null => {
  const wanted = host.toLowerCase().replace(/\.$/, '');
  const dnsNames = (certificate.subjectaltname ?? '').split(', ').filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4));
  const candidates = dnsNames.length > 0 ? dnsNames : [certificate.subject?.CN].flat().filter((name): name is string => typeof name === 'string');
  return candidates.find((name) => hostMatchesName(wanted, name.toLowerCase())) ?? null;
};

const hostMatchesName = (host: string, name: string): boolean => {
  if (name === host) return true;
  const star = name.indexOf('*');
  if (star === -1 || name.indexOf('*', star + 1) !== -1) return false;
  const firstDot = name.indexOf('.');
  // The wildcard only in the leftmost label, followed by at least two labels (not `*.com`).
  if (firstDot === -1 || star > firstDot || name.slice(firstDot + 1).split('.').length < 2) return false;
  const hostDot = host.indexOf('.');
  if (hostDot <= 0 || host.slice(hostDot) !== name.slice(firstDot)) return false;
  const label = host.slice(0, hostDot);
  const prefix = name.slice(0, star);
  const suffix = name.slice(star + 1, firstDot);
  if ((prefix !== '' || suffix !== '') && label.startsWith('xn--')) return false;
  return label.length >= prefix.length + suffix.length && label.startsWith(prefix) && label.endsWith(suffix);
};

/** stunnel's line for the server's key exchange (OpenSSL's NIST names for the prime curves). */
const describeTemporaryKey = (info: { type?: string; name?: string; size?: number }): string => {
  if (info.type === undefined) return 'No peer temporary key received';
  if (info.type === 'ECDH' && info.name !== undefined && NIST_CURVE_NAMES[info.name] !== undefined) {
    return `Peer temporary key: ECDH, ${NIST_CURVE_NAMES[info.name]}, ${info.size ?? 0} bits`;
  }
  return `Peer temporary key: ${info.type === 'ECDH' ? info.name ?? 'ECDH' : info.type}, ${info.size ?? 0} bits`;
};

const NIST_CURVE_NAMES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521', secp224r1: 'P-224', prime192v1: 'P-192' };

/** OpenSSL's default verify depth is 100: no real chain is longer. */
const MAX_CHAIN_DEPTH = 100;

/** How often a connection closing after a peer's reset looks whether the other side's queue is empty. */
const DRAIN_POLL_MS = 10;

const formatName = (name: Record<string, string | string[]> | undefined): string =>
  name === undefined ? '' : Object.entries(name).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`).join(', ');

const formatSubject = (certificate: PeerCertificate): string =>
  formatName(certificate.subject as unknown as Record<string, string | string[]> | undefined);

const formatIssuer = (certificate: PeerCertificate): string =>
  formatName(certificate.issuer as unknown as Record<string, string | string[]> | undefined);

/** HAProxy PROXY protocol v1, as stunnel's `protocol = proxy` sends it to the backend. */
const buildProxyV1Header = (client: Socket): string => {
  const source = client.remoteAddress;
  const destination = client.localAddress;
  if (source === undefined || destination === undefined) return 'PROXY UNKNOWN\r\n';
  const family = client.remoteFamily === 'IPv6' ? 'TCP6' : 'TCP4';
  const strip = (address: string): string => address.replace(/^::ffff:/, '');
  const v4 = family === 'TCP4';
  return `PROXY ${family} ${v4 ? strip(source) : source} ${v4 ? strip(destination) : destination} ${client.remotePort ?? 0} ${client.localPort ?? 0}\r\n`;
};
