// The trust store as stunnel builds it, each case served by stunnel4 and by stunnelctl with a
// per-run two-level PKI (a root CA and an intermediate it issued): every CRL of a CRLfile or a
// CRLpath counts, not only the first, so a revoked client is stopped while the clients of both CAs
// pass with the same `CERT:` and `Certificate accepted` / `Rejected by CERT` lines; in CApath and
// CRLpath only the hashed names of `openssl rehash` count, as OpenSSL looks them up, and each CA
// is trusted, and named in the CertificateRequest, once.
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import * as assert from 'node:assert/strict';
import { ENGINE_KINDS, engineFiles, tryStartEngine } from './support/engines.js';
import type { RunningEngine } from './support/engines.js';
import { writeFixture } from './support/fixtures.js';
import { getFreePorts } from '../helpers/ports.js';
import { runSClient, tlsEcho } from './support/peers.js';
import { assertSameOutcome, runScenario } from './support/scenario.js';
import type { ProbeContext } from './support/scenario.js';
import { createTwoLevelPki, makeTrustDirectory } from './support/two-level-pki.js';
import type { TwoLevelPki } from './support/two-level-pki.js';

const PAYLOAD_BYTES = 1024;

type Client = 'root-issued' | 'revoked' | 'intermediate-issued' | 'self-signed';

interface ClientOutcome {
  client: Client;
  ok: boolean;
  /** `accepted CN=x` / `rejected CN=x` (depth 0), from the connection's lines. */
  certificate: string | null;
  /** The connection's level-4 lines (`CERT: Pre-verification error: ...`, `Rejected by CERT ...`). */
  warnings: string[];
}

/** Level-4 lines of connection `id` (the verification verdicts). */
const warningsOf = (engine: RunningEngine, id: string): string[] =>
  engine.lines().filter((line) => line.id === id && line.level === 4).map((line) => line.text);

describe('trust store (CAfile, CApath, CRLfile, CRLpath) with a root and an intermediate CA: stunnel4 and stunnelctl agree', () => {
  let dir: string;
  let pki: TwoLevelPki;
  let backend: Backend;

  before(async () => {
    dir = realpathSync(makeTempDir('compat-trust'));
    pki = await createTwoLevelPki(dir);
    backend = await startEchoServer();
  });

  after(async () => {
    await backend?.close();
    if (dir !== undefined) removeTempDir(dir);
  });

  /** Certificate options of a Node client; the intermediate's client sends its chain. */
  const clientOptions = (client: Client) => {
    const files = { 'root-issued': pki.client, revoked: pki.revoked, 'intermediate-issued': pki.intermediateClient, 'self-signed': pki.selfSigned }[client];
    const certFile = client === 'intermediate-issued' ? pki.intermediateClient.chainFile : files.certFile;
    return { cert: readFileSync(certFile), key: readFileSync(files.keyFile) };
  };

  /** One TLS echo per client, in order, then each connection's verdict as logged. */
  const tryClients = (clients: readonly Client[]) =>
    async ({ engine, acceptPorts }: ProbeContext): Promise<ClientOutcome[]> => {
      const results: boolean[] = [];
      for (const client of clients) results.push((await tlsEcho(acceptPorts[0] ?? 0, randomBytes(PAYLOAD_BYTES), clientOptions(client))).ok);
      const records = await engine.waitForClosed(clients.length);
      return clients.map((client, index) => ({
        client,
        ok: results[index] ?? false,
        certificate: records[index]?.certificate ?? null,
        warnings: records[index] === undefined ? [] : warningsOf(engine, records[index].id),
      }));
    };

  const EVERY_CLIENT: readonly Client[] = ['root-issued', 'revoked', 'intermediate-issued'];
  const VERDICTS: ClientOutcome[] = [
    { client: 'root-issued', ok: true, certificate: 'accepted CN=client', warnings: [] },
    {
      client: 'revoked', ok: false, certificate: 'rejected CN=revoked',
      warnings: ['CERT: Pre-verification error: certificate revoked', 'Rejected by CERT at depth=0: CN=revoked'],
    },
    { client: 'intermediate-issued', ok: true, certificate: 'accepted CN=intclient', warnings: [] },
  ];

  const crlVariables = (option: 'CRLfile' | 'CRLpath', location: string) => ({
    SERVER_PEM: pki.server.pemFile, BACKEND_PORT: backend.port, CA_FILE: pki.root.certFile, CRL_OPTION: option, CRL_LOCATION: location,
  });

  it('CRLfile holding the intermediate\'s CRL and then the root\'s: both count (revoked fails, both CAs\' clients pass)', async () => {
    const crlFile = join(dir, 'both.crl.pem');
    writeFileSync(crlFile, Buffer.concat([readFileSync(pki.intermediateCrl), readFileSync(pki.rootCrl)]));
    const results = await runScenario({
      dir, fixture: 'trust-crl.conf', label: 'crl-file-both', variables: crlVariables('CRLfile', crlFile), probe: tryClients(EVERY_CLIENT),
    });
    assertSameOutcome(results, VERDICTS, 'two CRLs in one CRLfile');
  });

  it('CRLpath (rehashed) holding the root\'s and the intermediate\'s CRLs: both count', async () => {
    const crlDir = await makeTrustDirectory(join(dir, 'crl-dir'), { 'root.crl': pki.rootCrl, 'intermediate.crl': pki.intermediateCrl }, true);
    const results = await runScenario({
      dir, fixture: 'trust-crl.conf', label: 'crl-path-both', variables: crlVariables('CRLpath', crlDir), probe: tryClients(EVERY_CLIENT),
    });
    assertSameOutcome(results, VERDICTS, 'two CRLs in a rehashed CRLpath');
  });

  const caPathVariables = (caDir: string) => ({ SERVER_PEM: pki.server.pemFile, BACKEND_PORT: backend.port, CA_DIR: caDir });

  // A self-signed client certificate trusted by being in CApath: its verdict is the first error at
  // depth 0 on both engines. (A CA-issued client without its CA would be refused too, but stunnel logs
  // OpenSSL's first error and Node reports the last, `unable to verify the first certificate`.)
  it('CApath holding a self-signed client certificate under its own name only (no hash link): both reject it with the same lines', async () => {
    const caDir = await makeTrustDirectory(join(dir, 'ca-dir-unhashed'), { 'selfsigned.pem': pki.selfSigned.certFile }, false);
    const results = await runScenario({
      dir, fixture: 'trust-capath.conf', label: 'ca-path-unhashed', variables: caPathVariables(caDir), probe: tryClients(['self-signed']),
    });
    assertSameOutcome(results, [{
      client: 'self-signed', ok: false, certificate: 'rejected CN=selfsigned',
      warnings: ['CERT: Pre-verification error: self-signed certificate', 'Rejected by CERT at depth=0: CN=selfsigned'],
    }], 'a CApath without hash links');
  });

  it('the same CApath rehashed: both accept the self-signed client', async () => {
    const caDir = await makeTrustDirectory(join(dir, 'ca-dir-self-rehashed'), { 'selfsigned.pem': pki.selfSigned.certFile }, true);
    const results = await runScenario({
      dir, fixture: 'trust-capath.conf', label: 'ca-path-self-rehashed', variables: caPathVariables(caDir), probe: tryClients(['self-signed']),
    });
    assertSameOutcome(results, [{ client: 'self-signed', ok: true, certificate: 'accepted CN=selfsigned', warnings: [] }], 'a rehashed CApath');
  });

  it('CApath rehashed (root and intermediate, each under its name and its hash): both CAs\' clients pass', async () => {
    const caDir = await makeTrustDirectory(join(dir, 'ca-dir-rehashed'), { 'root.pem': pki.root.certFile, 'intermediate.pem': pki.intermediate.certFile }, true);
    const results = await runScenario({
      dir, fixture: 'trust-capath.conf', label: 'ca-path-rehashed', variables: caPathVariables(caDir), probe: tryClients(['root-issued', 'intermediate-issued']),
    });
    assertSameOutcome(results, [VERDICTS[0], VERDICTS[2]], 'a rehashed CApath');
  });

  it('CAfile with the root and a rehashed CApath with it again: the CertificateRequest names each CA once, as stunnel4\'s', async () => {
    const caDir = await makeTrustDirectory(join(dir, 'ca-dir-names'), { 'root.pem': pki.root.certFile, 'intermediate.pem': pki.intermediate.certFile }, true);
    const results = await runScenario({
      dir, fixture: 'trust-cafile-capath.conf', label: 'ca-names', variables: { ...caPathVariables(caDir), CA_FILE: pki.root.certFile },
      probe: async ({ acceptPorts }) => {
        const run = await runSClient(acceptPorts[0] ?? 0, ['-cert', pki.client.certFile, '-key', pki.client.keyFile], 'names\n');
        // s_client lists them under this heading, one per line, until the next heading.
        const section = /Acceptable client certificate CA names\n((?:[^\n]*=[^\n]*\n)*)/.exec(run.stdout.replace(/\r/g, ''))?.[1] ?? '';
        // The order is OpenSSL's sort of names for stunnel and file order for stunnelctl: compared as a set.
        return { echoed: run.echoed, names: section.split('\n').filter((name) => name !== '').sort() };
      },
    });
    assertSameOutcome(results, {
      echoed: true, names: [`CN = ${pki.intermediate.commonName}`, `CN = ${pki.root.commonName}`],
    }, 'the CA names of a CAfile and a CApath that repeats it');
  });

  it('CRLpath without hash links: stunnel4 starts and rejects every client; stunnelctl refuses the CRLpath line (a deliberate difference)', async () => {
    const crlDir = await makeTrustDirectory(join(dir, 'crl-dir-unhashed'), { 'root.crl': pki.rootCrl }, false);
    const ports = await getFreePorts(ENGINE_KINDS.length);
    const outcomes: Record<string, unknown> = {};
    for (const [index, kind] of ENGINE_KINDS.entries()) {
      const files = engineFiles(dir, 'crl-path-unhashed', kind);
      writeFixture('trust-crl.conf', {
        ...crlVariables('CRLpath', crlDir), ACCEPT_PORT: ports[index] ?? 0, LOG_FILE: files.log, PID_FILE: files.pid,
      }, files.config);
      const attempt = await tryStartEngine(kind, files);
      if (!attempt.ok) {
        outcomes[kind] = { started: false, code: attempt.code, errors: attempt.stderr.split('\n').filter((line) => line.includes('CRLpath = ')) };
        continue;
      }
      try {
        outcomes[kind] = { started: true, clients: await tryClients(['root-issued'])({ engine: attempt.engine, acceptPorts: [ports[index] ?? 0], variables: {} }) };
      } finally {
        await attempt.engine.stop();
      }
    }
    assert.deepEqual(outcomes.stunnel4, {
      started: true,
      clients: [{
        client: 'root-issued', ok: false, certificate: 'rejected CN=client',
        warnings: ['CERT: Pre-verification error: unable to get certificate CRL', 'Rejected by CERT at depth=0: CN=client'],
      }],
    }, 'stunnel4 looks CRLs up by hashed name only, and then finds none');
    const line = readFileSync(join(dir, 'crl-path-unhashed-stunnelctl.conf'), 'utf8').split('\n').findIndex((text) => text.startsWith('CRLpath = ')) + 1;
    assert.deepEqual(outcomes.stunnelctl, {
      started: false, code: 1,
      errors: [`[!] ${join(dir, 'crl-path-unhashed-stunnelctl.conf')}:${line}: "CRLpath = ${crlDir}": Failed to initialize TLS context: no CRL under a hashed name (HASH.rN) in ${crlDir}: run "openssl rehash ${crlDir}"`],
    }, 'stunnelctl refuses a CRLpath that gives it no CRL');
  });
});
