// Peer certificate verification against a test CA generated per run: server mode with verifyChain
// (CA-signed client accepted, no certificate and self-signed refused), client mode with verifyChain and
// checkHost (right name accepted, wrong name refused, unknown issuer refused), and verifyPeer (only the
// leaf listed in CAfile accepted). Log lines as stunnel writes them.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { getFreePorts } from '../helpers/ports.js';
import { CONNECTION_CLOSED } from '../helpers/stunnel-log.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { openSClient } from '../helpers/tls-peers.js';
import { createCertificateAuthority, createSelfSigned, issueLeaf, readKeyPair } from './support/certificates.js';
import type { CertificateFiles } from './support/certificates.js';
import { GLOBAL_LINES, startEngine } from './support/engine.js';
import type { RunningEngine } from './support/engine.js';
import { attemptTls, openTcpClient, startTlsBackend, whenClosed } from './support/peers.js';
import type { TlsBackend } from './support/peers.js';

interface Pki {
  ca: CertificateFiles;
  /** CN=server.example, SAN DNS:server.example, signed by the CA. */
  server: CertificateFiles;
  /** CN=alice, signed by the CA. */
  alice: CertificateFiles;
  /** CN=bob, signed by the CA. */
  bob: CertificateFiles;
  /** CN=rogue, self-signed. */
  rogue: CertificateFiles;
}

describe('peer certificate verification', () => {
  let dir = '';
  let pki: Pki;
  let backend: Backend;
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    dir = makeTempDir('verify');
    const ca = await createCertificateAuthority(dir);
    const [server, alice, bob, rogue] = await Promise.all([
      issueLeaf(dir, ca, 'server', 'server.example', 'DNS:server.example'),
      issueLeaf(dir, ca, 'alice', 'alice'),
      issueLeaf(dir, ca, 'bob', 'bob'),
      createSelfSigned(dir, 'rogue', 'rogue'),
    ]);
    pki = { ca, server, alice, bob, rogue };
    backend = await startEchoServer();
  });

  after(async () => {
    await backend?.close();
    removeTempDir(dir);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const startServerMode = async (name: string, verify: readonly string[]): Promise<{ running: RunningEngine; acceptPort: number }> => {
    const [acceptPort] = await getFreePorts(1) as [number];
    const running = await startEngine({
      dir,
      name,
      config: [...GLOBAL_LINES, `[${name}]`, `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pki.server.pemFile}`, ...verify],
    });
    cleanups.push(() => running.stop());
    return { running, acceptPort };
  };

  /** The log texts of the connection from `clientPort`, once it has ended (its close summary is written). */
  const connectionTexts = async (running: RunningEngine, clientPort: number): Promise<string[]> => {
    const id = await running.connectionId(clientPort);
    await running.closeSummaries(id);
    return running.linesOf(id).map((line) => line.text);
  };

  /** As `connectionTexts`, asserting exactly one close summary with `status`. */
  // A refused certificate ends with a TLS alert: that side is closed, the other reset (stunnel 5.68+ writes OUTGOING/ACCEPTED).
  const endedConnection = async (running: RunningEngine, clientPort: number, status: 'closed' | 'reset' | 'reset/closed' | 'closed/reset'): Promise<string[]> => {
    const texts = await connectionTexts(running, clientPort);
    const summaries = texts.filter((text) => CONNECTION_CLOSED.test(text));
    assert.equal(summaries.length, 1, texts.join('\n'));
    assert.equal(CONNECTION_CLOSED.exec(summaries[0]!)?.[1], status, texts.join('\n'));
    return texts;
  };

  describe('server mode, verifyChain = yes with the CA in CAfile', () => {
    const verifyChain = (): string[] => ['verifyChain = yes', `CAfile = ${pki.ca.certFile}`];

    it('accepts a client with a CA-signed certificate (Node client) and logs "Certificate accepted at depth=0"', async () => {
      const { running, acceptPort } = await startServerMode('chain-node', verifyChain());
      const attempt = await attemptTls(acceptPort, 'signed\n', readKeyPair(pki.alice));
      assert.equal(attempt.received.toString(), 'signed\n', `echo through the verified connection (${attempt.errorCode ?? 'no error'})`);
      const texts = await endedConnection(running, attempt.localPort, 'closed');
      assert.ok(texts.includes('Certificate accepted at depth=0: CN=alice'), texts.join('\n'));
    });

    it('accepts a real openssl s_client presenting a CA-signed certificate', async () => {
      const { running, acceptPort } = await startServerMode('chain-openssl', verifyChain());
      const session = openSClient({ port: acceptPort, extraArgs: ['-cert', pki.alice.certFile, '-key', pki.alice.keyFile] });
      cleanups.push(() => session.stop());
      const handshake = await session.handshake();
      assert.equal(handshake.ok, true, JSON.stringify(handshake));
      session.send('openssl peer\n');
      const received = await session.waitForOutput('openssl peer\n'.length, 10_000).catch((error: Error) => {
        throw new Error(`${error.message}\nengine log:\n${running.lines().map((line) => line.raw).join('\n')}`);
      });
      assert.equal(received.toString(), 'openssl peer\n');
      await running.waitForLine(/^Certificate accepted at depth=0: CN=alice$/);
    });

    it('refuses a client without a certificate: "peer did not return a certificate", nothing reaches the backend', async () => {
      const { running, acceptPort } = await startServerMode('chain-nocert', verifyChain());
      const before = backend.connectionCount();
      const attempt = await attemptTls(acceptPort, 'anonymous\n');
      assert.equal(attempt.received.length, 0);
      assert.equal(backend.connectionCount(), before, 'the backend saw no connection');
      const texts = await endedConnection(running, attempt.localPort, 'reset/closed');
      assert.ok(texts.some((text) => /^SSL_accept: .*peer did not return a certificate$/.test(text)), texts.join('\n'));
    });

    it('refuses a client with a self-signed certificate: "Pre-verification error: self-signed certificate", "Rejected by CERT at depth=0"', async () => {
      const { running, acceptPort } = await startServerMode('chain-rogue', verifyChain());
      const before = backend.connectionCount();
      const attempt = await attemptTls(acceptPort, 'rogue\n', readKeyPair(pki.rogue));
      assert.equal(attempt.received.length, 0);
      assert.equal(backend.connectionCount(), before, 'the backend saw no connection');
      const texts = await endedConnection(running, attempt.localPort, 'reset/closed');
      // stunnel's wording is OpenSSL's X509_verify_cert_error_string for the failing check.
      assert.ok(texts.includes('CERT: Pre-verification error: self-signed certificate'), texts.join('\n'));
      assert.ok(texts.includes('Rejected by CERT at depth=0: CN=rogue'), texts.join('\n'));
    });
  });

  describe('server mode, verifyPeer = yes with only one leaf in CAfile', () => {
    it('accepts the listed leaf and refuses another leaf of the same CA ("Certificate not found in local repository")', async () => {
      const onlyAlice = join(dir, 'only-alice.pem');
      writeFileSync(onlyAlice, readKeyPair(pki.alice).cert);
      const { running, acceptPort } = await startServerMode('peer', ['verifyPeer = yes', `CAfile = ${onlyAlice}`]);

      const alice = await attemptTls(acceptPort, 'alice\n', readKeyPair(pki.alice));
      assert.equal(alice.received.toString(), 'alice\n', `the listed leaf is served (${alice.errorCode ?? 'no error'})`);
      const aliceTexts = await endedConnection(running, alice.localPort, 'closed');
      assert.ok(aliceTexts.includes('Certificate accepted at depth=0: CN=alice'), aliceTexts.join('\n'));

      const bob = await attemptTls(acceptPort, 'bob\n', readKeyPair(pki.bob));
      assert.equal(bob.received.length, 0, 'a leaf not in CAfile is not served, though its CA signed it');
      const bobTexts = await endedConnection(running, bob.localPort, 'reset/closed');
      assert.ok(bobTexts.includes('CERT: Certificate not found in local repository'), bobTexts.join('\n'));
      assert.ok(bobTexts.includes('Rejected by CERT at depth=0: CN=bob'), bobTexts.join('\n'));
    });
  });

  describe('client mode, verifyChain = yes against a TLS backend with a CA-signed certificate for server.example', () => {
    const startClientMode = async (name: string, backendCert: CertificateFiles, verify: readonly string[]): Promise<{ running: RunningEngine; acceptPort: number; tlsBackend: TlsBackend }> => {
      const tlsBackend = await startTlsBackend({ ...readKeyPair(backendCert), reply: Buffer.from('from the TLS backend\n') });
      cleanups.push(() => tlsBackend.close());
      const [acceptPort] = await getFreePorts(1) as [number];
      const running = await startEngine({
        dir,
        name,
        config: [...GLOBAL_LINES, `[${name}]`, 'client = yes', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${tlsBackend.port}`, 'verifyChain = yes', `CAfile = ${pki.ca.certFile}`, ...verify],
      });
      cleanups.push(() => running.stop());
      return { running, acceptPort, tlsBackend };
    };

    /** A plain client of the client-mode engine: sends a line, half-closes, collects what comes back. */
    const plainExchange = async (port: number): Promise<{ received: string; localPort: number }> => {
      const client = await openTcpClient(port);
      const localPort = client.localPort ?? 0;
      cleanups.push(() => client.destroy());
      const closed = whenClosed(client, 10_000, 'the client-mode connection to end');
      client.end('from the plain client\n');
      return { received: (await closed).received.toString(), localPort };
    };

    it('checkHost = wrong.example refuses the backend: "CERT: Subject checks failed", "Rejected by CERT"', async () => {
      const { running, acceptPort } = await startClientMode('host-wrong', pki.server, ['checkHost = wrong.example']);
      const exchange = await plainExchange(acceptPort);
      assert.equal(exchange.received, '', 'nothing of the unverified backend reaches the client');
      const texts = await endedConnection(running, exchange.localPort, 'closed/reset');
      assert.ok(texts.includes('CERT: Subject checks failed'), texts.join('\n'));
      assert.ok(texts.includes('Rejected by CERT at depth=0: CN=server.example'), texts.join('\n'));
    });

    it('a backend certificate from another issuer is refused even without subject checks', async () => {
      const { running, acceptPort } = await startClientMode('issuer-wrong', pki.rogue, []);
      const exchange = await plainExchange(acceptPort);
      assert.equal(exchange.received, '');
      const texts = await endedConnection(running, exchange.localPort, 'closed/reset');
      assert.ok(texts.includes('Rejected by CERT at depth=0: CN=rogue'), texts.join('\n'));
    });

    it('checkHost = server.example accepts the backend whose certificate names it, though connect is 127.0.0.1', async () => {
      const { running, acceptPort, tlsBackend } = await startClientMode('host-right', pki.server, ['checkHost = server.example']);
      const exchange = await plainExchange(acceptPort);
      const texts = await connectionTexts(running, exchange.localPort);
      assert.equal(exchange.received, 'from the TLS backend\n', `the verified backend's reply reaches the client; engine log:\n${texts.join('\n')}`);
      assert.ok(texts.includes('Certificate accepted at depth=0: CN=server.example'), texts.join('\n'));
      assert.equal((await tlsBackend.received(0)).bytes, 'from the plain client\n'.length);
    });

    it('verifyChain without subject checks accepts any backend certificate the CA signed, as stunnel does', async () => {
      const { running, acceptPort } = await startClientMode('chain-only', pki.server, []);
      const exchange = await plainExchange(acceptPort);
      const texts = await connectionTexts(running, exchange.localPort);
      assert.equal(exchange.received, 'from the TLS backend\n', `the CA-signed backend is accepted; engine log:\n${texts.join('\n')}`);
      assert.ok(texts.includes('Certificate accepted at depth=0: CN=server.example'), texts.join('\n'));
    });
  });
});
