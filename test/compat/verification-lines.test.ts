// What stunnel says while it verifies a peer, line by line at `debug = info`, and the verdicts that
// depend on which certificate of the chain an error is about: each case served by stunnel4 and by
// stunnelctl. The lines are the ones an operator reads to see why a partner was let in or kept out:
// `Peer certificate required`, `Certificate accepted at depth=N` from the top of the chain down,
// which subject check matched, `Rejected by CERT at depth=N` with the certificate the error is
// about, `Peer temporary key` (client mode).
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { plainEcho, startTlsEchoBackend, tlsEcho } from './support/peers.js';
import type { TlsBackend } from './support/peers.js';
import { createCompatPki, openssl } from './support/pki.js';
import type { CompatPki } from './support/pki.js';
import { assertSameOutcome, runScenario } from './support/scenario.js';
import type { ProbeContext } from './support/scenario.js';

const PAYLOAD_BYTES = 1024;

/** The verification and handshake lines of each connection, as `LOGn: text`, in order. */
const VERIFICATION_LINE = /^(Peer certificate|Certificate accepted|Certificate verification|CERT: |Rejected by CERT|TLS (accepted|connected)|Peer temporary key|No peer temporary key)/;

/** Node tells a TLS server nothing of the key exchange: stunnel's server-side `Peer temporary key` line is left out (README). */
const SERVER_SIDE_ONLY = /^Peer temporary key/;

const verificationLines = async (engine: ProbeContext['engine'], connections: number, client = false): Promise<string[][]> => {
  const records = await engine.waitForClosed(connections);
  return records.map((record) => engine.lines()
    .filter((line) => line.id === record.id && VERIFICATION_LINE.test(line.text) && (client || !SERVER_SIDE_ONLY.test(line.text)))
    .map((line) => `LOG${line.level}: ${line.text}`));
};

describe('verification lines and verdicts by depth: stunnel4 and stunnelctl agree', () => {
  let dir: string;
  let pki: CompatPki;
  let backend: Backend;
  /** A client certificate of the test CA that expired in 2020 (pinned for verifyPeer). */
  let expired: { certFile: string; keyFile: string };
  /** A client certificate of another CA, and that CA's certificate. */
  let stranger: { certFile: string; keyFile: string; chainFile: string };

  before(async () => {
    dir = realpathSync(makeTempDir('compat-verify-lines'));
    pki = await createCompatPki(dir);
    backend = await startEchoServer();
    // Backdated by the test CA itself (`openssl ca` takes explicit dates; `x509 -req` in OpenSSL 3.0 does not).
    expired = { certFile: join(dir, 'expired.crt.pem'), keyFile: join(dir, 'expired.key.pem') };
    const expiredCsr = join(dir, 'expired.csr.pem');
    await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=expired', '-keyout', expired.keyFile, '-out', expiredCsr], 'req for the expired client');
    await openssl(['ca', '-batch', '-config', join(dir, 'ca', 'ca.cnf'), '-extensions', 'leaf', '-notext', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-in', expiredCsr, '-out', expired.certFile], 'ca for the expired client');
    const other = join(dir, 'other');
    mkdirSync(other);
    await openssl([
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=other CA',
      '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', join(other, 'ca.key.pem'), '-out', join(other, 'ca.crt.pem'),
    ], 'req for the other CA');
    stranger = { certFile: join(other, 'leaf.crt.pem'), keyFile: join(other, 'leaf.key.pem'), chainFile: join(other, 'chain.pem') };
    await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=stranger', '-keyout', stranger.keyFile, '-out', join(other, 'leaf.csr.pem')], 'req for the stranger');
    await openssl(['x509', '-req', '-in', join(other, 'leaf.csr.pem'), '-CA', join(other, 'ca.crt.pem'), '-CAkey', join(other, 'ca.key.pem'), '-CAcreateserial', '-days', '2', '-out', stranger.certFile], 'x509 -req for the stranger');
    writeFileSync(stranger.chainFile, Buffer.concat([readFileSync(stranger.certFile), readFileSync(join(other, 'ca.crt.pem'))]));
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  const variables = (peerFile = pki.client.certFile) => ({
    SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: backend.port, CA_FILE: pki.ca.certFile, CRL_FILE: pki.crlFile, PEER_FILE: peerFile,
  });

  const present = (port: number, certFile: string, keyFile: string) =>
    tlsEcho(port, randomBytes(PAYLOAD_BYTES), { cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.3' });

  it('verifyChain, a good client: its CA accepted at depth 1, then the client at depth 0, no subject checks', async () => {
    const results = await runScenario({
      dir, fixture: 'verify-chain.conf', label: 'lines-chain-good', variables: variables(),
      probe: async (context) => {
        const result = await present(context.acceptPorts[0] ?? 0, pki.client.certFile, pki.client.keyFile);
        return { ok: result.ok, lines: await verificationLines(context.engine, 1) };
      },
    });
    assertSameOutcome(results, {
      ok: true,
      lines: [[
        'LOG6: Peer certificate required',
        `LOG6: Certificate accepted at depth=1: CN=${pki.ca.commonName}`,
        'LOG6: CERT: No subject checks configured',
        'LOG5: Certificate accepted at depth=0: CN=client',
        'LOG6: TLS accepted: new session negotiated',
      ]],
    }, 'the lines of an accepted client certificate');
  });

  it('verifyChain, a client of another CA: without its CA the error is about the client (depth 0), with it about that CA (depth 1)', async () => {
    const results = await runScenario({
      dir, fixture: 'verify-chain.conf', label: 'lines-chain-stranger', variables: variables(),
      probe: async (context) => {
        const port = context.acceptPorts[0] ?? 0;
        const alone = await present(port, stranger.certFile, stranger.keyFile);
        const withCa = await present(port, stranger.chainFile, stranger.keyFile);
        return { ok: [alone.ok, withCa.ok], lines: (await verificationLines(context.engine, 2)) };
      },
    });
    assertSameOutcome(results, {
      ok: [false, false],
      lines: [
        ['LOG6: Peer certificate required', 'LOG4: CERT: Pre-verification error: unable to get local issuer certificate', 'LOG4: Rejected by CERT at depth=0: CN=stranger'],
        ['LOG6: Peer certificate required', 'LOG4: CERT: Pre-verification error: self-signed certificate in certificate chain', 'LOG4: Rejected by CERT at depth=1: CN=other CA'],
      ],
    }, 'where in the chain a rejection is');
  });

  it('verifyPeer alone: a pinned client certificate that has expired is rejected; a pinned valid one is accepted with stunnel\'s lines', async () => {
    const pinned = join(dir, 'pinned.pem');
    writeFileSync(pinned, Buffer.concat([readFileSync(pki.client.certFile), readFileSync(expired.certFile)]));
    const results = await runScenario({
      dir, fixture: 'verify-peer.conf', label: 'lines-peer-expired', variables: variables(pinned),
      probe: async (context) => {
        const port = context.acceptPorts[0] ?? 0;
        const good = await present(port, pki.client.certFile, pki.client.keyFile);
        const old = await present(port, expired.certFile, expired.keyFile);
        return { ok: [good.ok, old.ok], lines: await verificationLines(context.engine, 2) };
      },
    });
    // stunnel's verify callback runs once for each of the two errors of a pinned certificate whose
    // issuer is not in CAfile, then once more: three rounds of the depth-0 checks each.
    const rounds = ['LOG6: CERT: No subject checks configured', 'LOG6: CERT: Locally installed certificate matched'];
    const good = [...rounds, 'LOG5: Certificate accepted at depth=0: CN=client'];
    const old = [...rounds, 'LOG5: Certificate accepted at depth=0: CN=expired'];
    assertSameOutcome(results, {
      ok: [true, false],
      lines: [
        [
          'LOG6: Peer certificate required',
          'LOG6: CERT: Pre-verification error ignored: unable to get local issuer certificate', ...good,
          'LOG6: CERT: Pre-verification error ignored: unable to verify the first certificate', ...good,
          ...good,
          'LOG6: TLS accepted: new session negotiated',
        ],
        [
          'LOG6: Peer certificate required',
          'LOG6: CERT: Pre-verification error ignored: unable to get local issuer certificate', ...old,
          'LOG6: CERT: Pre-verification error ignored: unable to verify the first certificate', ...old,
          'LOG4: CERT: Pre-verification error: certificate has expired',
          'LOG4: Rejected by CERT at depth=0: CN=expired',
        ],
      ],
    }, 'verifyPeer with a pinned, expired client certificate');
  });

  it('verifyPeer with CApath only: a client whose certificate is in the hashed directory passes, another is not found', async () => {
    const caPath = join(dir, 'pinned-capath');
    mkdirSync(caPath);
    writeFileSync(join(caPath, 'client.pem'), readFileSync(pki.client.certFile));
    await openssl(['rehash', caPath], 'rehash of the pinned CApath');
    const results = await runScenario({
      dir, fixture: 'verify-peer-capath.conf', label: 'lines-peer-capath', variables: { ...variables(), CA_PATH: caPath },
      probe: async (context) => {
        const port = context.acceptPorts[0] ?? 0;
        const good = await present(port, pki.client.certFile, pki.client.keyFile);
        const other = await present(port, pki.revoked.certFile, pki.revoked.keyFile);
        const lines = await verificationLines(context.engine, 2);
        return { ok: [good.ok, other.ok], last: lines.map((connection) => connection.filter((line) => /Certificate accepted at depth=0|Rejected by CERT|not found/.test(line)).at(-1)) };
      },
    });
    assertSameOutcome(results, {
      ok: [true, false],
      last: ['LOG5: Certificate accepted at depth=0: CN=client', 'LOG4: Rejected by CERT at depth=0: CN=revoked'],
    }, 'verifyPeer with a CApath');
  });

  describe('client mode against a TLS backend for localhost (SAN DNS:localhost, IP:127.0.0.1)', () => {
    let tlsBackend: TlsBackend;

    before(async () => {
      tlsBackend = await startTlsEchoBackend({ cert: readFileSync(pki.serverRsa.certFile), key: readFileSync(pki.serverRsa.keyFile), ecdhCurve: 'X25519' });
    });

    after(async () => {
      await tlsBackend?.close();
    });

    const throughCheckHost = (host: string, label: string) => runScenario({
      dir, fixture: 'client-check-host.conf', label,
      variables: { CA_FILE: pki.ca.certFile, TLS_BACKEND_PORT: tlsBackend.port, CHECK_HOST: host },
      probe: async (context) => {
        const result = await plainEcho(context.acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES));
        return { ok: result.ok, lines: await verificationLines(context.engine, 1, true) };
      },
    });

    it('checkHost = localhost: the chain from the top, the host name and the name it matched, the server\'s key exchange', async () => {
      assertSameOutcome(await throughCheckHost('localhost', 'lines-check-host'), {
        ok: true,
        lines: [[
          'LOG6: Peer certificate required',
          `LOG6: Certificate accepted at depth=1: CN=${pki.ca.commonName}`,
          'LOG6: CERT: Host name "localhost" matched with "localhost"',
          'LOG5: Certificate accepted at depth=0: CN=localhost',
          'LOG6: TLS connected: new session negotiated',
          'LOG6: Peer temporary key: X25519, 253 bits',
        ]],
      }, 'the lines of a verified server');
    });

    it('checkHost = 127.0.0.1 is a host name to OpenSSL: it does not match an IP address entry (that is checkIP), so the server is rejected', async () => {
      assertSameOutcome(await throughCheckHost('127.0.0.1', 'lines-check-host-ip'), {
        ok: false,
        lines: [[
          'LOG6: Peer certificate required',
          `LOG6: Certificate accepted at depth=1: CN=${pki.ca.commonName}`,
          'LOG4: CERT: Subject checks failed',
          'LOG4: Rejected by CERT at depth=0: CN=localhost',
        ]],
      }, 'checkHost with an IP address');
    });
  });
});
