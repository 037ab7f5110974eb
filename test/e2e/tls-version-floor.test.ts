// TLS 1.1 and lower are refused by an installed home (its configuration sets sslVersionMin = TLSv1.2,
// as seeds/000 does) while TLS 1.2 and 1.3 get through; and the refusal is the configuration's doing:
// the same client is accepted by an OpenSSL server that allows TLS 1.1, and by a worker (and by the
// real stunnel) whose file lowers the floor.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256, startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { createHome } from '../helpers/home.js';
import type { TestHome } from '../helpers/home.js';
import { createPki } from '../helpers/pki.js';
import { getFreePorts } from '../helpers/ports.js';
import { formatResult, stopProcess } from '../helpers/processes.js';
import type { StartedProcess } from '../helpers/processes.js';
import { findStunnel, startStunnel } from '../helpers/reference-stunnel.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { openSClient, startSServer, tlsRoundTrip } from '../helpers/tls-peers.js';
import type { HandshakeOutcome, TlsVersionFlag } from '../helpers/tls-peers.js';
import { startWorker, writeConfig } from '../helpers/worker.js';

// Lets the OpenSSL 3 client offer TLS 1.0/1.1 at all (security level 0 permits their SHA-1 signatures).
const LEGACY_CLIENT_ARGS = ['-cipher', 'DEFAULT@SECLEVEL=0'];

const handshake = async (port: number, version: TlsVersionFlag, extraArgs: readonly string[] = []): Promise<HandshakeOutcome> => {
  const session = openSClient({ port, version, extraArgs });
  try {
    return await session.handshake();
  } finally {
    await session.stop();
  }
};

/** A legacy handshake through `port` that must succeed: TLS 1.1 and an echoed line. */
const assertLegacyClientGetsThrough = async (port: number): Promise<void> => {
  const payload = Buffer.from('legacy client line\n');
  const trip = await tlsRoundTrip({ port, version: 'tls1_1', payload, extraArgs: LEGACY_CLIENT_ARGS });
  assert.equal(trip.protocol, 'TLSv1.1');
  assert.equal(trip.exit.code, 0);
};

describe('TLS version floor of an installed home (sslVersionMin = TLSv1.2)', () => {
  let echo: Backend;
  let home: TestHome;

  before(async () => {
    echo = await startEchoServer();
    const [acceptPort] = (await getFreePorts(1)) as [number];
    home = await createHome({ acceptPort, connectPort: echo.port });
    const started = await home.cli('start');
    assert.equal(started.code, 0, formatResult(started));
  });

  after(async () => {
    await home?.cleanup();
    await echo?.close();
  });

  for (const version of ['tls1_1', 'tls1'] as const) {
    it(`refuses the handshake of openssl s_client -${version} (and the backend sees no connection)`, async () => {
      const connectionsBefore = echo.connectionCount();
      const outcome = await handshake(home.acceptPort, version, LEGACY_CLIENT_ARGS);
      assert.ok(!outcome.ok, `the -${version} handshake must fail: ${JSON.stringify(outcome)}`);
      assert.notEqual(outcome.exit.code, 0);
      assert.equal(echo.connectionCount(), connectionsBefore);
    });
  }

  it('still refuses TLS 1.1 and 1.0 once the service allows legacy ciphers: the floor is what refuses them', async () => {
    // With security level 0 nothing but sslVersionMin = TLSv1.2 stands between a TLS 1.1 client and
    // the service (the control below shows such a server accepts this client).
    appendFileSync(home.files.config, '    ciphers = DEFAULT@SECLEVEL=0\n');
    const reload = await home.cli('reload-config');
    assert.equal(reload.code, 0, formatResult(reload));
    for (const version of ['tls1_1', 'tls1'] as const) {
      const outcome = await handshake(home.acceptPort, version, LEGACY_CLIENT_ARGS);
      assert.ok(!outcome.ok, `the -${version} handshake must fail: ${JSON.stringify(outcome)}`);
    }
  });

  for (const [version, protocol] of [['tls1_2', 'TLSv1.2'], ['tls1_3', 'TLSv1.3']] as const) {
    it(`accepts openssl s_client -${version} and relays bytes unchanged`, async () => {
      const payload = randomBytes(32_768);
      const trip = await tlsRoundTrip({ port: home.acceptPort, version, payload });
      assert.equal(trip.protocol, protocol);
      assert.equal(trip.exit.code, 0);
      assert.equal(sha256(trip.received), sha256(payload));
    });
  }
});

describe('the floor is the configuration\'s: sslVersionMin = TLSv1.1 with ciphers = DEFAULT@SECLEVEL=0', () => {
  let dir = '';
  let echo: Backend;

  before(async () => {
    dir = makeTempDir('tls-floor-config');
    echo = await startEchoServer();
  });

  after(async () => {
    await echo?.close();
    removeTempDir(dir);
  });

  const writeLegacyConfig = (name: string, acceptPort: number, pemFile: string): { config: string; pid: string } => {
    const files = { config: join(dir, `${name}.conf`), pid: join(dir, `${name}.pid`) };
    writeConfig(files.config, [
      'foreground = yes',
      `pid = ${files.pid}`,
      `output = ${join(dir, `${name}.log`)}`,
      '[legacy]',
      `accept = 127.0.0.1:${acceptPort}`,
      `connect = 127.0.0.1:${echo.port}`,
      `cert = ${pemFile}`,
      'sslVersionMin = TLSv1.1',
      'ciphers = DEFAULT@SECLEVEL=0',
    ]);
    return files;
  };

  it('the legacy client used above can speak TLS 1.1 (control: an OpenSSL server that allows it)', async () => {
    let server: StartedProcess | undefined;
    try {
      const pki = await createPki(dir, 'control');
      const [port] = (await getFreePorts(1)) as [number];
      server = await startSServer({ port, certFile: pki.certFile, keyFile: pki.keyFile, extraArgs: ['-cipher', 'DEFAULT@SECLEVEL=0'] });
      await assertLegacyClientGetsThrough(port);
    } finally {
      if (server !== undefined) await stopProcess(server);
    }
  });

  it('stunnelctl run accepts a TLS 1.1 client and relays its bytes', async () => {
    const pki = await createPki(dir, 'worker');
    const [port] = (await getFreePorts(1)) as [number];
    const files = writeLegacyConfig('worker', port, pki.pemFile);
    const { worker } = await startWorker(files.config, files.pid);
    try {
      await assertLegacyClientGetsThrough(port);
      // TLS 1.0 stays below this floor.
      const outcome = await handshake(port, 'tls1', LEGACY_CLIENT_ARGS);
      assert.ok(!outcome.ok, `TLS 1.0 is below sslVersionMin = TLSv1.1: ${JSON.stringify(outcome)}`);
    } finally {
      await stopProcess(worker);
    }
  });

  it('the real stunnel reads the same file the same way', async (t) => {
    const stunnel = findStunnel();
    if (stunnel === undefined) {
      t.skip('no stunnel binary installed (Debian package stunnel4); the reference run is not possible');
      return;
    }
    const pki = await createPki(dir, 'reference');
    const [port] = (await getFreePorts(1)) as [number];
    const files = writeLegacyConfig('reference', port, pki.pemFile);
    const reference = await startStunnel(stunnel, files.config, files.pid);
    try {
      await assertLegacyClientGetsThrough(port);
      const outcome = await handshake(port, 'tls1', LEGACY_CLIENT_ARGS);
      assert.ok(!outcome.ok, `stunnel refuses TLS 1.0 below sslVersionMin = TLSv1.1: ${JSON.stringify(outcome)}`);
    } finally {
      await stopProcess(reference);
    }
  });
});
