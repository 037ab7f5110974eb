// CRLpath (a directory of CRLs under `openssl rehash` names, as CApath is of CAs) refuses a revoked
// client certificate and accepts a good one; sessionCacheTimeout expires cached sessions (TLS 1.2 session IDs, NO_TICKET).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { createCompatPki, type CompatPki } from '../compat/support/pki.js';
import { startEchoServer, type Backend } from '../helpers/echo-server.js';
import { getFreePorts } from '../helpers/ports.js';
import { runCommand } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { GLOBAL_LINES, startEngine } from './support/engine.js';
import { attemptTls } from './support/peers.js';

const handshake12 = (port: number, session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined }> =>
  new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2', ...(session === undefined ? {} : { session }) }, () => {
      const result = { reused: socket.isSessionReused(), session: latest ?? socket.getSession() };
      socket.end();
      resolve(result);
    });
    socket.on('session', (value: Buffer) => {
      latest = value;
    });
    socket.on('error', reject);
  });

describe('revocation directories and session cache timeout', () => {
  let dir: string;
  let backend: Backend;
  let pki: CompatPki;

  before(async () => {
    dir = makeTempDir('crlpath');
    backend = await startEchoServer();
    pki = await createCompatPki(join(dir, 'pki'));
  });
  after(async () => {
    await backend?.close();
    removeTempDir(dir);
  });

  it('CRLpath refuses the revoked client and accepts a good one (CAfile + verifyChain)', async () => {
    const crlDir = join(dir, 'crls');
    mkdirSync(crlDir, { recursive: true });
    copyFileSync(pki.crlFile, join(crlDir, 'ca.crl.pem'));
    // OpenSSL, so stunnel, finds a CRL there only under its hash name (HASH.r0).
    const rehash = await runCommand('openssl', ['rehash', crlDir]);
    assert.equal(rehash.code, 0, `openssl rehash: ${rehash.stderr}`);
    const [acceptPort] = (await getFreePorts(1)) as [number];
    const running = await startEngine({
      dir, name: 'crlpath',
      config: [...GLOBAL_LINES, '[crl]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pki.serverRsa.pemFile}`,
        'verifyChain = yes', `CAfile = ${pki.ca.certFile}`, `CRLpath = ${crlDir}`],
    });
    const keyPair = (files: { certFile: string; keyFile: string }) => ({ cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) });
    try {
      const good = await attemptTls(acceptPort, 'good\n', keyPair(pki.client));
      assert.equal(good.received.toString(), 'good\n', `the good client is served (${good.errorCode ?? 'no error'})`);
      const revoked = await attemptTls(acceptPort, 'revoked\n', keyPair(pki.revoked));
      assert.equal(revoked.received.length, 0, 'the revoked client is not served');
      await running.waitForLine(/^CERT: Pre-verification error: certificate revoked$/);
    } finally {
      running.stop();
    }
  });

  it('sessionCacheTimeout = 1 lets a session resume at once and not after it expired', async () => {
    const [acceptPort] = (await getFreePorts(1)) as [number];
    const running = await startEngine({
      dir, name: 'cache-timeout',
      config: [...GLOBAL_LINES, '[cache]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${pki.serverRsa.pemFile}`,
        'options = NO_TICKET', 'sessionCacheTimeout = 1'],
    });
    try {
      const first = await handshake12(acceptPort);
      const startedAt = Date.now();
      assert.equal((await handshake12(acceptPort, first.session)).reused, true, 'resumes at once');
      // The cache entry expires after 1 s: resumption attempts succeed until then and fail after.
      await waitFor(async () => ((await handshake12(acceptPort, first.session)).reused ? undefined : true), {
        what: 'the cached session to expire', timeoutMs: 6_000,
      });
      assert.ok(Date.now() - startedAt >= 900, 'not before the timeout');
    } finally {
      running.stop();
    }
  });
});
