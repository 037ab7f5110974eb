// The metrics listener as Prometheus sees it: a started worker with `metrics = 127.0.0.1:PORT`,
// a known amount of traffic (k echo connections of n bytes, one plaintext client that fails the
// handshake, one client refused by serviceMaxConnections, a reload), then a scrape over HTTP parsed
// with a Prometheus text-format parser: every value is the traffic that was sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { startEchoServer } from '../helpers/echo-server.js';
import { createHome, type TestHome } from '../helpers/home.js';
import { getFreePorts } from '../helpers/ports.js';
import { formatResult } from '../helpers/processes.js';
import { openNodeTlsSession } from '../helpers/tls-peers.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { findSample, scrapeMetrics, sumSamples, type Scrape } from './support/metrics-scrape.js';

const SERVICE = 'MT9750';
const ECHO_CONNECTIONS = 5;
const PAYLOAD_BYTES = 1500;
const CLOSE_TIMEOUT_MS = 10_000;

/** Adds `metrics =` to the global part and a per-service connection limit of 1 to [MT9750]. */
const enableMetrics = (configFile: string, metricsPort: number): void => {
  const text = readFileSync(configFile, 'utf8');
  const withGlobal = text.replace(/^\[MT9750\]$/m, `metrics = 127.0.0.1:${metricsPort}\n[MT9750]`);
  const withLimit = withGlobal.replace(/^(\s*accept = .*)$/m, '$1\n    serviceMaxConnections = 1');
  assert.notEqual(withLimit, text);
  writeFileSync(configFile, withLimit);
};

/** Waits until the worker has ended every connection (bytes are counted when a connection ends). */
const waitUntilIdle = (metricsPort: number): Promise<Scrape> =>
  waitFor(async () => {
    const scrape = await scrapeMetrics(metricsPort);
    return findSample(scrape, 'stunnelctl_connections_active', { service: SERVICE }) === 0 ? scrape : undefined;
  }, { what: 'stunnelctl_connections_active to be 0' });

/** A client that speaks plaintext to the TLS port and waits for the worker to hang up. */
const sendPlaintext = (port: number): Promise<void> =>
  withTimeout(
    new Promise<void>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => socket.write('GET / HTTP/1.0\r\n\r\n'));
      socket.on('error', () => socket.destroy());
      socket.on('close', () => resolve());
    }),
    CLOSE_TIMEOUT_MS,
    'the worker to close a plaintext connection',
  );

/** A plain TCP connection the worker refuses (closes before any TLS): resolves once it is closed. */
const connectAndWaitForClose = (port: number): Promise<void> =>
  withTimeout(
    new Promise<void>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => resolve());
    }),
    CLOSE_TIMEOUT_MS,
    'the worker to refuse a connection over serviceMaxConnections',
  );

test('scraped metrics match the traffic sent: connections, bytes, handshake failures, rejections, reloads, expiry', async () => {
  const backend = await startEchoServer();
  const [acceptPort = 0, metricsPort = 0] = await getFreePorts(2);
  let home: TestHome | undefined;
  try {
    home = await createHome({ acceptPort, connectPort: backend.port, installArgs: ['--naming', 'posix'] });
    enableMetrics(home.files.config, metricsPort);
    const start = await home.cli('start');
    assert.equal(start.code, 0, formatResult(start));

    const before = await scrapeMetrics(metricsPort);
    assert.equal(before.status, 200);
    assert.match(before.contentType, /^text\/plain/);
    assert.equal(findSample(before, 'stunnelctl_connections_total', { service: SERVICE }), 0);

    const payload = Buffer.alloc(PAYLOAD_BYTES, 'm');
    for (let index = 0; index < ECHO_CONNECTIONS; index += 1) {
      const session = await openNodeTlsSession(acceptPort);
      const echoed = await session.echo(payload);
      assert.equal(echoed.length, PAYLOAD_BYTES);
      await session.close();
      // One connection at a time: the next must not meet serviceMaxConnections = 1.
      await waitUntilIdle(metricsPort);
    }
    await sendPlaintext(acceptPort);
    await waitUntilIdle(metricsPort);
    const held = await openNodeTlsSession(acceptPort);
    await connectAndWaitForClose(acceptPort);
    await held.echo(payload);
    await held.close();
    const reload = await home.cli('reload-config');
    assert.equal(reload.code, 0, formatResult(reload));
    const scrape = await waitUntilIdle(metricsPort);

    const served = ECHO_CONNECTIONS + 1;
    const metric = (name: string, labels: Record<string, string> = {}) => findSample(scrape, name, labels);
    assert.equal(metric('stunnelctl_connections_total', { service: SERVICE }), served + 1, 'the echo connections, the held one and the plaintext one');
    assert.equal(metric('stunnelctl_connections_active', { service: SERVICE }), 0);
    assert.equal(metric('stunnelctl_bytes_total', { service: SERVICE, direction: 'to_socket' }), served * PAYLOAD_BYTES);
    assert.equal(metric('stunnelctl_bytes_total', { service: SERVICE, direction: 'to_tls' }), served * PAYLOAD_BYTES);
    assert.equal(metric('stunnelctl_handshake_failures_total', { service: SERVICE, reason: 'tls_error' }), 1);
    assert.equal(sumSamples(scrape, 'stunnelctl_handshake_failures_total', { service: SERVICE }), 1, 'no other handshake failure');
    assert.equal(metric('stunnelctl_connections_rejected_total', { service: SERVICE }), 1);
    assert.equal(metric('stunnelctl_connect_failures_total', { service: SERVICE }), 0);
    assert.equal(metric('stunnelctl_reloads_total', { result: 'ok' }), 1);
    assert.equal(metric('stunnelctl_reloads_total', { result: 'failed' }), 0);
    assert.equal(metric('stunnelctl_config_generation'), 2);
    assert.equal(metric('stunnelctl_last_reload_success'), 1);
    const notAfter = new Date(new X509Certificate(readFileSync(home.files.testPem)).validTo);
    assert.equal(metric('stunnelctl_certificate_expiry_timestamp_seconds', { service: SERVICE }), Math.floor(notAfter.getTime() / 1000));
    assert.equal(backend.connectionCount(), served, 'the backend saw exactly the connections that passed the proxy');

    const notFound = await scrapeMetrics(metricsPort, '/');
    assert.equal(notFound.status, 404);
  } finally {
    await home?.cleanup();
    await backend.close();
  }
});
