// A service as the data plane runs it: its validated section, its TLS context, the failover cursor
// and its counters. A reload builds new ones; live connections keep the one they started with.
import { randomInt } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { buildSecureContextOptions } from '../config/tls-material.js';
import type { ServiceConfig } from '../config/types.js';
import type { Endpoint } from '../config/values.js';

export class RuntimeService {
  readonly config: ServiceConfig;
  readonly secureContext: SecureContext;
  /** CA certificates in DER, for verifyPeer (the leaf must be one of them). */
  readonly trustedLeaves: ReadonlySet<string>;
  active = 0;
  total = 0;
  /** Client mode: the last TLS session of this service, offered for resumption. */
  clientSession: Buffer | undefined;
  private roundRobinCursor: number;

  constructor(config: ServiceConfig, trustedLeaves: ReadonlySet<string>) {
    this.config = config;
    this.secureContext = createSecureContext(buildSecureContextOptions(config));
    this.trustedLeaves = trustedLeaves;
    this.roundRobinCursor = config.connect.length > 1 ? randomInt(config.connect.length) : 0;
  }

  get name(): string {
    return this.config.name;
  }

  /** rr starts each connection one further along; prio always starts at the first target. */
  targetOrder(): { start: number; targets: Endpoint[] } {
    const targets = this.config.connect;
    if (this.config.failover === 'prio' || targets.length < 2) return { start: 0, targets: [...targets] };
    const start = this.roundRobinCursor % targets.length;
    this.roundRobinCursor = (this.roundRobinCursor + 1) % targets.length;
    return { start, targets: [...targets.slice(start), ...targets.slice(0, start)] };
  }

  /** The level this service's lines are filtered at. */
  get logLevel(): number {
    return this.config.debug.level;
  }
}
