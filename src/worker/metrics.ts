// The opt-in metrics listener (`metrics = [HOST:]PORT`, loopback unless a host is given): Prometheus
// text format, rendered by prom-client from the engine's counters at scrape time, so serving
// connections costs nothing extra.
import { createServer, type Server } from 'node:http';
import type { Endpoint } from '../config/values.js';
import type { ProxyEngine } from '../proxy/engine.js';
import type { WorkerState } from './state-file.js';

export interface MetricsSource {
  engine: ProxyEngine;
  state: () => WorkerState;
}

const buildRegistry = async (source: MetricsSource) => {
  const { Counter, Gauge, Registry } = await import('prom-client');
  const registry = new Registry();
  const registers = [registry];
  const services = () => source.engine.currentServices();
  const counters = () => [...source.engine.counters.entries()];

  new Gauge({
    name: 'stunnelctl_connections_active', help: 'Connections open now, per service.', labelNames: ['service'], registers,
    collect() {
      this.reset();
      for (const service of services()) this.set({ service: service.name }, service.active);
    },
  });
  new Counter({
    name: 'stunnelctl_connections_total', help: 'Connections accepted since the worker started, per service.', labelNames: ['service'], registers,
    collect() {
      this.reset();
      for (const [name, value] of counters()) this.inc({ service: name }, value.total);
    },
  });
  new Counter({
    name: 'stunnelctl_bytes_total', help: 'Bytes relayed by ended connections, per service and direction.', labelNames: ['service', 'direction'], registers,
    collect() {
      this.reset();
      for (const [name, value] of counters()) {
        this.inc({ service: name, direction: 'to_tls' }, value.bytesToTls);
        this.inc({ service: name, direction: 'to_socket' }, value.bytesToSocket);
      }
    },
  });
  new Counter({
    name: 'stunnelctl_handshake_failures_total', help: 'TLS handshakes or peer authentications that failed, per service and reason.', labelNames: ['service', 'reason'], registers,
    collect() {
      this.reset();
      for (const [name, value] of counters()) {
        for (const [reason, count] of value.handshakeFailures) this.inc({ service: name, reason }, count);
      }
    },
  });
  new Counter({
    name: 'stunnelctl_connections_rejected_total', help: 'Connections refused by a connection limit, per service.', labelNames: ['service'], registers,
    collect() {
      this.reset();
      for (const [name, value] of counters()) this.inc({ service: name }, value.rejected);
    },
  });
  new Counter({
    name: 'stunnelctl_connect_failures_total', help: 'Connections for which no connect target could be reached, per service.', labelNames: ['service'], registers,
    collect() {
      this.reset();
      for (const [name, value] of counters()) this.inc({ service: name }, value.connectFailures);
    },
  });
  new Counter({
    name: 'stunnelctl_reloads_total', help: 'Configuration reloads handled, by result.', labelNames: ['result'], registers,
    collect() {
      this.reset();
      const state = source.state();
      const failed = state.reloadSeq - (state.configGeneration - 1);
      this.inc({ result: 'ok' }, state.configGeneration - 1);
      this.inc({ result: 'failed' }, failed);
    },
  });
  new Gauge({
    name: 'stunnelctl_last_reload_success', help: '1 while the last configuration load (start or reload) was taken, 0 when the last reload was refused.', registers,
    collect() {
      this.set(source.state().lastReload?.ok === false ? 0 : 1);
    },
  });
  new Gauge({
    name: 'stunnelctl_config_generation', help: 'Configuration generation serving (1 at start, +1 per successful reload).', registers,
    collect() {
      this.set(source.state().configGeneration);
    },
  });
  new Gauge({
    name: 'stunnelctl_certificate_expiry_timestamp_seconds', help: 'notAfter of each service certificate, as a Unix time.', labelNames: ['service'], registers,
    collect() {
      this.reset();
      for (const service of services()) {
        if (service.certificateExpiresAt !== null) this.set({ service: service.name }, Math.floor(service.certificateExpiresAt.getTime() / 1000));
      }
    },
  });
  return registry;
};

export const startMetricsListener = async (endpoint: Endpoint, source: MetricsSource): Promise<Server> => {
  const registry = await buildRegistry(source);
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const options = endpoint.kind === 'unix' ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port };
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
};
