// The trust store as stunnel builds it, each case served by stunnel4 and by stunnelctl with a
// per-run two-level PKI (a root CA and an intermediate it issued): every CRL of a CRLfile or a
// CRLpath counts, not only the first, so a revoked client is stopped while the clients of both CAs
// pass with the same `CERT:` and `Certificate accepted` / `Rejected by CERT` lines.
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import type { RunningEngine } from './support/engines.js';
import { tlsEcho } from './support/peers.js';
import { assertSameOutcome, runScenario } from './support/scenario.js';
import type { ProbeContext } from './support/scenario.js';
import { createTwoLevelPki, makeTrustDirectory } from './support/two-level-pki.js';
import type { TwoLevelPki } from './support/two-level-pki.js';

const PAYLOAD_BYTES = 1024;

type Client = 'root-issued' | 'revoked' | 'intermediate-issued';

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
    const files = { 'root-issued': pki.client, revoked: pki.revoked, 'intermediate-issued': pki.intermediateClient }[client];
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
});
