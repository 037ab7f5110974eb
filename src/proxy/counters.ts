// Per-service counters that outlive a reload (kept by service name): what status and the metrics
// listener report. Updated once per connection event, never per chunk.

export type HandshakeFailureReason =
  | 'timeout' | 'tls_error' | 'peer_closed' | 'certificate_rejected' | 'no_certificate';

export class ServiceCounters {
  total = 0;
  bytesToTls = 0;
  bytesToSocket = 0;
  rejected = 0;
  connectFailures = 0;
  readonly handshakeFailures = new Map<HandshakeFailureReason, number>();

  recordHandshakeFailure(reason: HandshakeFailureReason, count = 1): void {
    this.handshakeFailures.set(reason, (this.handshakeFailures.get(reason) ?? 0) + count);
  }
}

export class CounterStore {
  private readonly byService = new Map<string, ServiceCounters>();

  for(serviceName: string): ServiceCounters {
    let counters = this.byService.get(serviceName);
    if (counters === undefined) {
      counters = new ServiceCounters();
      this.byService.set(serviceName, counters);
    }
    return counters;
  }

  entries(): IterableIterator<[string, ServiceCounters]> {
    return this.byService.entries();
  }
}
