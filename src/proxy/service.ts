// A service as the data plane runs it: its validated section, its TLS context, the failover cursor
// and its counters. A reload builds new ones; live connections keep the one they started with.
import { createHmac, randomInt, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EventEmitter } from 'node:events';
import { createSecureContext, type SecureContext } from 'node:tls';
import { buildSecureContextOptions, isPkcs12File, ticketsDisabled } from '../config/tls-material.js';
import type { ServiceConfig } from '../config/types.js';
import type { Endpoint } from '../config/values.js';
import { loadPskSecrets } from '../config/psk-secrets.js';
import { createTlsServerShim, localSessionStore, needsSharing, SessionCache } from './session-cache.js';
import { ServiceCounters } from './counters.js';

/** What a service shares with the rest of the worker beyond its own section. */
export interface ServiceEnvironment {
  /**
   * The worker's secret for session tickets: every process derives the same ticket keys from it, so
   * a ticket resumes whichever process serves it, and across reloads. A section's own
   * ticketKeySecret/ticketMacSecret win.
   */
  ticketSeed?: Buffer;
  /**
   * Engine processes: called with each new server-side session other processes must know to resume
   * it (see `needsSharing`); the worker copies it into their caches.
   */
  shareSession?: (service: string, id: Buffer, session: Buffer) => void;
  /**
   * Engine processes, client mode: called with the session of a verified full handshake, which the
   * worker hands to the other processes, so a service resumes from its second connection whichever
   * process makes it, as stunnel's one process does.
   */
  shareClientSession?: (service: string, session: Buffer) => void;
}

/** Node's 48-byte ticket key block (name, HMAC secret, AES key), one per service name. */
const deriveTicketKeys = (seed: Buffer, serviceName: string): Buffer =>
  Buffer.concat([
    createHmac('sha256', seed).update(`name\0${serviceName}`).digest().subarray(0, 16),
    createHmac('sha256', seed).update(`hmac\0${serviceName}`).digest().subarray(0, 16),
    createHmac('sha256', seed).update(`aes\0${serviceName}`).digest().subarray(0, 16),
  ]);

const readCertificateExpiry = (certFile: string | null): Date | null => {
  if (certFile === null || isPkcs12File(certFile)) return null;
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(readFileSync(certFile, 'utf8'))?.[0];
  return pem === undefined ? null : new Date(new X509Certificate(pem).validTo);
};

/**
 * The fingerprints of a TLS context's `ca` option: one PEM certificate per entry (readTrustedCertificates).
 * An entry X509Certificate cannot read (OpenSSL's TRUSTED CERTIFICATE form) is left out.
 */
const fingerprintsOf = (ca: string | Buffer | Array<string | Buffer> | undefined): Set<string> =>
  new Set((ca === undefined ? [] : Array.isArray(ca) ? ca : [ca]).flatMap((pem) => {
    try {
      return [new X509Certificate(pem).fingerprint256];
    } catch {
      return [];
    }
  }));

/** The rotation counter wraps here: a multiple of every target count up to 16, so wrapping keeps the order. */
const ROTATION_CYCLE = 720720;

export class RuntimeService {
  readonly config: ServiceConfig;
  readonly secureContext: SecureContext;
  /**
   * SHA-256 fingerprints of the certificates the TLS context trusts (CAfile and CApath's hashed
   * names): where stunnel looks for an untrusted chain's root, and for verifyPeer's own certificate.
   */
  readonly trustAnchors: ReadonlySet<string>;
  active = 0;
  total = 0;
  /** Shared with the services of the same name before and after a reload. */
  counters: ServiceCounters = new ServiceCounters();
  /** Client mode: the last TLS session of this service, offered for resumption (see `keepClientSession`). */
  clientSession: Buffer | undefined;
  private readonly shareClientSession: ((service: string, session: Buffer) => void) | undefined;
  /** Server mode: the `server` a TLSSocket reports session events to (the session cache). */
  readonly tlsServerShim: EventEmitter & { _contexts: unknown[] };
  /** PSK identities and keys (PSKsecrets), empty without. */
  readonly pskKeys: ReadonlyMap<string, Buffer>;
  /** Server mode: SNI secondaries reached through this service's listeners. */
  sniSecondaries: RuntimeService[] = [];
  /** notAfter of the service certificate (the first in the cert file). */
  readonly certificateExpiresAt: Date | null;
  private rotationCursor: number;

  /** Server mode with session resumption: the sessions this process keeps (the worker's cache). */
  readonly sessionCache: SessionCache | undefined;

  constructor(config: ServiceConfig, environment: ServiceEnvironment = {}) {
    this.config = config;
    const contextOptions = buildSecureContextOptions(config);
    if (contextOptions.ticketKeys === undefined && environment.ticketSeed !== undefined) {
      contextOptions.ticketKeys = deriveTicketKeys(environment.ticketSeed, config.name);
    }
    this.secureContext = createSecureContext(contextOptions);
    this.trustAnchors = fingerprintsOf(contextOptions.ca);
    this.rotationCursor = randomInt(ROTATION_CYCLE);
    const resumes = config.sessionResume && !config.client;
    this.sessionCache = resumes ? new SessionCache(config.sessionCacheSize, config.sessionCacheTimeoutSeconds * 1000) : undefined;
    let store = this.sessionCache === undefined ? undefined : localSessionStore(this.sessionCache);
    const share = environment.shareSession;
    if (store !== undefined && share !== undefined) {
      const local = store;
      const withoutTickets = ticketsDisabled(config);
      store = {
        lookup: local.lookup,
        store: (id, session) => {
          local.store(id, session);
          if (needsSharing(session, withoutTickets)) share(config.name, id, session);
        },
      };
    }
    this.tlsServerShim = createTlsServerShim(store);
    this.shareClientSession = config.client && config.sessionResume ? environment.shareClientSession : undefined;
    const psk = config.pskSecrets === null ? undefined : loadPskSecrets(config.pskSecrets);
    this.pskKeys = psk?.ok === true ? psk.keys : new Map();
    this.certificateExpiresAt = readCertificateExpiry(config.cert);
  }

  /**
   * Client mode: a session of a connection that passed verification, offered to the next ones.
   * `share`: it came from a full handshake, so the other engine processes have nothing as fresh; the
   * sessions of resumed handshakes stay in this process (one message per full handshake at most).
   */
  keepClientSession(session: Buffer, share: boolean): void {
    this.clientSession = session;
    if (share) this.shareClientSession?.(this.config.name, session);
  }

  /** The secondary whose `sni = PRIMARY:PATTERN` matches a client's server name (`*.dom` allowed). */
  findSniSecondary(serverName: string): RuntimeService | undefined {
    const name = serverName.toLowerCase();
    return this.sniSecondaries.find((secondary) => {
      const pattern = secondary.config.sniRoute?.pattern.toLowerCase() ?? '';
      if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1)) && !name.slice(0, -pattern.length + 1).includes('.');
      return pattern === name;
    });
  }

  get name(): string {
    return this.config.name;
  }

  /** rr starts each connection one further along; prio always starts at the first target. */
  targetOrder(start?: number): { start: number; targets: Endpoint[] } {
    return this.rotated(this.config.connect, start);
  }

  /** The redirect targets in the order to try them: `failover = rr` rotates over them too. */
  redirectOrder(start?: number): { start: number; targets: Endpoint[] } {
    return this.rotated(this.config.redirect, start);
  }

  /**
   * The next place in the service's rotation, one per connection, as stunnel's per-service counter
   * (it starts at a random place). The worker hands them out when engine processes share a service.
   */
  nextRotation(): number {
    const place = this.rotationCursor;
    this.rotationCursor = (this.rotationCursor + 1) % ROTATION_CYCLE;
    return place;
  }

  private rotated(targets: readonly Endpoint[], start?: number): { start: number; targets: Endpoint[] } {
    if (this.config.failover === 'prio' || targets.length < 2) return { start: 0, targets: [...targets] };
    const first = (start ?? this.nextRotation()) % targets.length;
    return { start: first, targets: [...targets.slice(first), ...targets.slice(0, first)] };
  }

  /** Whether connections rotate over the targets or the redirect targets (the worker then hands out the places). */
  get rotates(): boolean {
    return this.config.failover === 'rr' && (this.config.connect.length > 1 || this.config.redirect.length > 1);
  }

  /** The level this service's lines are filtered at. */
  get logLevel(): number {
    return this.config.debug.level;
  }
}
