// Peer certificate verification with a test CA (and CRL) generated per run, each case served by
// stunnel4 and by stunnelctl: verifyChain, verifyPeer and requireCert let a good client certificate
// through and stop a wrong, missing or revoked one, with the same `Certificate accepted at depth=0`
// / `Rejected by CERT at depth=0` lines; in client mode, checkHost stops a server whose certificate
// names another host, and a verified session is resumed (without a certificate to check) while a
// session of a rejected server never is.
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import type { ConnectionOutcome } from './support/log-events.js';
import { plainEcho, startTlsEchoBackend, tlsEcho } from './support/peers.js';
import type { TlsBackend } from './support/peers.js';
import { createCompatPki } from './support/pki.js';
import type { CertificateFiles, CompatPki } from './support/pki.js';
import { assertSameOutcome, closedOutcomes, runScenario } from './support/scenario.js';
import type { ProbeContext } from './support/scenario.js';
import type { SecureVersion } from 'node:tls';

const PAYLOAD_BYTES = 2048;

type ClientCertificate = 'good' | 'revoked' | 'wrong' | 'missing';

interface Observed {
  clients: Array<{ certificate: ClientCertificate; ok: boolean }>;
  connections: ConnectionOutcome[];
}

const servedWith = (service: string, target: string, certificate: string | null): ConnectionOutcome => ({
  service, handshake: 'accepted: new session negotiated', targets: [target], certificate, redirected: false, close: 'closed', toTls: PAYLOAD_BYTES, toSocket: PAYLOAD_BYTES,
});

const refusedWith = (service: string, certificate: string | null): ConnectionOutcome => ({
  service, handshake: null, targets: [], certificate, redirected: false, close: 'reset', toTls: 0, toSocket: 0,
});

describe('certificate verification against a per-run test CA: stunnel4 and stunnelctl agree', () => {
  let dir: string;
  let pki: CompatPki;
  let backend: Backend;
  let target: string;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-verify'));
    pki = await createCompatPki(dir);
    backend = await startEchoServer();
    target = `127.0.0.1:${backend.port}`;
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  const certificateOf = (which: ClientCertificate): CertificateFiles | undefined =>
    ({ good: pki.client, revoked: pki.revoked, wrong: pki.wrong, missing: undefined })[which];

  /** One TLS echo per client certificate, in order, then the log's view of them. */
  const tryCertificates = (which: readonly ClientCertificate[], version?: SecureVersion) =>
    async ({ engine, acceptPorts }: ProbeContext): Promise<Observed> => {
      const clients: Observed['clients'] = [];
      for (const certificate of which) {
        const files = certificateOf(certificate);
        const result = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES), {
          ...(files === undefined ? {} : { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) }),
          ...(version === undefined ? {} : { minVersion: version, maxVersion: version }),
        });
        clients.push({ certificate, ok: result.ok });
      }
      return { clients, connections: await closedOutcomes(engine, which.length) };
    };

  const variables = () => ({
    SERVER_PEM: pki.serverRsa.pemFile, BACKEND_PORT: backend.port, CA_FILE: pki.ca.certFile, CRL_FILE: pki.crlFile, PEER_FILE: pki.client.certFile,
  });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`verifyChain with CAfile and CRLfile (${version}): good passes; revoked, wrong (self-signed) and missing fail`, async () => {
      const results = await runScenario({
        dir, fixture: 'verify-chain.conf', label: `verify-chain-${version}`, variables: variables(),
        probe: tryCertificates(['good', 'revoked', 'wrong', 'missing'], version),
      });
      assertSameOutcome(results, {
        clients: [{ certificate: 'good', ok: true }, { certificate: 'revoked', ok: false }, { certificate: 'wrong', ok: false }, { certificate: 'missing', ok: false }],
        connections: [
          servedWith('verify chain', target, 'accepted CN=client'),
          refusedWith('verify chain', 'rejected CN=revoked'),
          refusedWith('verify chain', 'rejected CN=wrong'),
          refusedWith('verify chain', null),
        ],
      }, `verifyChain over ${version}`);
    });
  }

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`verifyChain (${version}): a client that resumes its session passes again, with no certificate line for the resumed handshake`, async () => {
      const results = await runScenario({
        dir, fixture: 'verify-chain.conf', label: `verify-chain-resumed-${version}`, variables: variables(),
        probe: async ({ engine, acceptPorts }) => {
          const options = { cert: readFileSync(pki.client.certFile), key: readFileSync(pki.client.keyFile), minVersion: version, maxVersion: version };
          const first = await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES), { ...options, waitForSession: true });
          const second = first.session === null ? null : await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES), { ...options, session: first.session });
          return { ok: [first.ok, second?.ok ?? null], reused: second?.reused ?? null, connections: await closedOutcomes(engine, 2) };
        },
      });
      assertSameOutcome(results, {
        ok: [true, true],
        reused: true,
        connections: [
          servedWith('verify chain', target, 'accepted CN=client'),
          { ...servedWith('verify chain', target, null), handshake: 'accepted: previous session reused' },
        ],
      }, `a resumed ${version} session under verifyChain`);
    });
  }

  it('verifyPeer with the client certificate itself in CAfile: good passes; revoked, wrong and missing fail', async () => {
    const results = await runScenario({
      dir, fixture: 'verify-peer.conf', label: 'verify-peer', variables: variables(), probe: tryCertificates(['good', 'revoked', 'wrong', 'missing']),
    });
    assertSameOutcome(results, {
      clients: [{ certificate: 'good', ok: true }, { certificate: 'revoked', ok: false }, { certificate: 'wrong', ok: false }, { certificate: 'missing', ok: false }],
      connections: [
        servedWith('verify peer', target, 'accepted CN=client'),
        refusedWith('verify peer', 'rejected CN=revoked'),
        refusedWith('verify peer', 'rejected CN=wrong'),
        refusedWith('verify peer', null),
      ],
    }, 'verifyPeer');
  });

  it('verifyChain with requireCert = no: a missing certificate passes, a wrong one still fails', async () => {
    const results = await runScenario({
      dir, fixture: 'verify-chain-optional.conf', label: 'verify-optional', variables: variables(), probe: tryCertificates(['good', 'wrong', 'missing']),
    });
    assertSameOutcome(results, {
      clients: [{ certificate: 'good', ok: true }, { certificate: 'wrong', ok: false }, { certificate: 'missing', ok: true }],
      connections: [
        servedWith('optional cert', target, 'accepted CN=client'),
        refusedWith('optional cert', 'rejected CN=wrong'),
        servedWith('optional cert', target, null),
      ],
    }, 'verifyChain with requireCert = no');
  });

  for (const [level, missingPasses] of [[1, true], [2, false]] as const) {
    it(`verify = ${level}: good passes, wrong fails, missing ${missingPasses ? 'passes' : 'fails'}`, async () => {
      const results = await runScenario({
        dir, fixture: 'verify-level.conf', label: `verify-level-${level}`, variables: { ...variables(), VERIFY_LEVEL: level },
        probe: tryCertificates(['good', 'wrong', 'missing']),
      });
      assertSameOutcome(results, {
        clients: [{ certificate: 'good', ok: true }, { certificate: 'wrong', ok: false }, { certificate: 'missing', ok: missingPasses }],
        connections: [
          servedWith('verify level', target, 'accepted CN=client'),
          refusedWith('verify level', 'rejected CN=wrong'),
          missingPasses ? servedWith('verify level', target, null) : refusedWith('verify level', null),
        ],
      }, `verify = ${level}`);
    });
  }

  it('requireCert alone: any certificate passes (it is not verified), a missing one fails', async () => {
    const results = await runScenario({
      dir, fixture: 'require-cert.conf', label: 'require-cert', variables: variables(), probe: tryCertificates(['good', 'wrong', 'missing']),
    });
    assertSameOutcome(results, {
      clients: [{ certificate: 'good', ok: true }, { certificate: 'wrong', ok: true }, { certificate: 'missing', ok: false }],
      connections: [
        servedWith('require cert', target, null),
        servedWith('require cert', target, null),
        refusedWith('require cert', null),
      ],
    }, 'requireCert');
  });

  it('the close summary of a refused client certificate has the same status word (stunnel 5.68: reset/closed)', async () => {
    const results = await runScenario({
      dir, fixture: 'verify-chain.conf', label: 'verify-status-word', variables: variables(),
      probe: async (context) => {
        await tryCertificates(['wrong', 'missing'])(context);
        return context.engine.connections().map((connection) => connection.close?.status ?? null);
      },
    });
    assertSameOutcome(results, ['reset/closed', 'reset/closed'], 'the status word of refused handshakes');
  });

  /**
   * The error-level lines (LOG3 and below) of an engine's log, without OpenSSL's source position
   * (`../ssl/statem/statem_srvr.c:3530: `), which Debian's stunnel4 prints and Node's OpenSSL does not.
   */
  const errorLines = (engine: ProbeContext['engine']): string[] =>
    engine.lines().filter((line) => line.level <= 3 && line.id !== 'ui').map((line) => `LOG${line.level}: ${line.text.replace(/\.\.\/ssl\/[\w/]+\.c:\d+: /, '')}`);

  it('a rejected client certificate is reported at the error level as stunnel does: SSL_accept ... certificate verify failed', async () => {
    const results = await runScenario({
      dir, fixture: 'verify-chain.conf', label: 'verify-chain-error-line', variables: variables(),
      probe: async (context) => {
        await tryCertificates(['wrong'])(context);
        return errorLines(context.engine);
      },
    });
    assertSameOutcome(results, ['LOG3: SSL_accept: error:0A000086:SSL routines::certificate verify failed'], 'the error line of a rejected client certificate');
  });

  describe('client mode, verifyChain with checkHost against a TLS backend for CN=localhost', () => {
    let tlsBackend: TlsBackend;

    before(async () => {
      tlsBackend = await startTlsEchoBackend({ cert: readFileSync(pki.serverRsa.certFile), key: readFileSync(pki.serverRsa.keyFile) });
    });

    after(async () => {
      await tlsBackend?.close();
    });

    const connectThrough = async ({ engine, acceptPorts }: ProbeContext): Promise<{ ok: boolean; connections: ConnectionOutcome[] }> => {
      const result = await plainEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES));
      return { ok: result.ok, connections: await closedOutcomes(engine, 1) };
    };

    /**
     * Six connections one after another through the client-mode service to `backend`. stunnelctl keeps
     * a client session per engine process, so with two processes its first two connections are full
     * handshakes; both engines resume later ones.
     */
    const CONNECTIONS_IN_A_ROW = 6;
    const connectInARow = (backend: TlsBackend) => async ({ engine, acceptPorts }: ProbeContext): Promise<{ ok: boolean[]; resumedByBackend: boolean; resumedInLog: boolean; rejected: number }> => {
      const before = backend.handshakes().length;
      const ok: boolean[] = [];
      for (let index = 0; index < CONNECTIONS_IN_A_ROW; index += 1) ok.push((await plainEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES))).ok);
      const connections = await closedOutcomes(engine, CONNECTIONS_IN_A_ROW);
      return {
        ok,
        resumedByBackend: backend.handshakes().slice(before).some((handshake) => handshake.reused),
        resumedInLog: connections.some((connection) => connection.handshake === 'connected: previous session reused'),
        rejected: connections.filter((connection) => connection.certificate === 'rejected CN=localhost').length,
      };
    };

    /** `connectInARow` through the client-mode service, with `checkHost = host`, to a backend capped at `version`. */
    const inARowWithCheckHost = async (version: SecureVersion, host: string, label: string) => {
      const backend = await startTlsEchoBackend({ cert: readFileSync(pki.serverRsa.certFile), key: readFileSync(pki.serverRsa.keyFile), maxVersion: version });
      try {
        return await runScenario({
          dir, fixture: 'client-check-host.conf', label: `${label}-${version}`,
          variables: { CA_FILE: pki.ca.certFile, TLS_BACKEND_PORT: backend.port, CHECK_HOST: host },
          probe: connectInARow(backend),
        });
      } finally {
        await backend.close();
      }
    };

    // TLS 1.2 hands the client its session during the handshake, before the certificate is checked;
    // TLS 1.3 sends its ticket after the handshake.
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      it(`${version}, checkHost = localhost, six connections in a row: every one passes, later ones resume the verified session`, async () => {
        assertSameOutcome(await inARowWithCheckHost(version, 'localhost', 'check-host-resumed'), {
          ok: Array<boolean>(CONNECTIONS_IN_A_ROW).fill(true), resumedByBackend: true, resumedInLog: true, rejected: 0,
        }, `resumed ${version} client sessions with verifyChain and checkHost`);
      });

      it(`${version}, checkHost = mismatch.example.org, six connections in a row: every one is rejected, none resumes the rejected server's session`, async () => {
        assertSameOutcome(await inARowWithCheckHost(version, 'mismatch.example.org', 'check-host-rejected'), {
          ok: Array<boolean>(CONNECTIONS_IN_A_ROW).fill(false), resumedByBackend: false, resumedInLog: false, rejected: CONNECTIONS_IN_A_ROW,
        }, `no resumption of a ${version} session whose server was rejected`);
      });
    }

    for (const [host, passes] of [['localhost', true], ['mismatch.example.org', false]] as const) {
      it(`checkHost = ${host}: the connection ${passes ? 'passes' : 'fails'}`, async () => {
        const results = await runScenario({
          dir, fixture: 'client-check-host.conf', label: `check-host-${host}`,
          variables: { CA_FILE: pki.ca.certFile, TLS_BACKEND_PORT: tlsBackend.port, CHECK_HOST: host },
          probe: connectThrough,
        });
        const tlsTarget = `127.0.0.1:${tlsBackend.port}`;
        assertSameOutcome(results, {
          ok: passes,
          connections: [passes
            ? { service: 'check host', handshake: 'connected: new session negotiated', targets: [tlsTarget], certificate: 'accepted CN=localhost', redirected: false, close: 'closed', toTls: PAYLOAD_BYTES, toSocket: PAYLOAD_BYTES }
            : { service: 'check host', handshake: null, targets: [tlsTarget], certificate: 'rejected CN=localhost', redirected: false, close: 'reset', toTls: 0, toSocket: 0 }],
        }, `checkHost = ${host}`);
      });
    }

    it('a rejected server certificate is reported at the error level as stunnel does: SSL_connect ... certificate verify failed', async () => {
      const results = await runScenario({
        dir, fixture: 'client-check-host.conf', label: 'check-host-error-line',
        variables: { CA_FILE: pki.ca.certFile, TLS_BACKEND_PORT: tlsBackend.port, CHECK_HOST: 'mismatch.example.org' },
        probe: async (context) => {
          await connectThrough(context);
          return errorLines(context.engine);
        },
      });
      assertSameOutcome(results, ['LOG3: SSL_connect: error:0A000086:SSL routines::certificate verify failed'], 'the error line of a rejected server certificate');
    });
  });
});
