// Certificate files as stunnel takes them: a PKCS#12 `cert` serves TLS, and a key below the
// service's securityLevel is refused at load time with OpenSSL's reason (Node would only fail later).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic, loadConfiguration } from '../../src/config/load.js';
import { startEchoServer } from '../helpers/echo-server.js';
import type { Backend } from '../helpers/echo-server.js';
import { getFreePorts } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { GLOBAL_LINES, startEngine } from './support/engine.js';
import { attemptTls } from './support/peers.js';

const openssl = (args: readonly string[]): void => {
  execFileSync('openssl', args, { stdio: 'ignore' });
};

describe('certificate formats and strength', () => {
  let dir: string;
  let backend: Backend;

  before(async () => {
    dir = makeTempDir('cert-formats');
    backend = await startEchoServer();
  });
  after(async () => {
    await backend?.close();
    removeTempDir(dir);
  });

  it('serves TLS with a PKCS#12 cert file (certificate and key in one DER file)', async () => {
    const key = join(dir, 'p12.key');
    const crt = join(dir, 'p12.crt');
    const p12 = join(dir, 'server.p12');
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=p12.example', '-days', '2', '-keyout', key, '-out', crt]);
    openssl(['pkcs12', '-export', '-in', crt, '-inkey', key, '-out', p12, '-passout', 'pass:']);
    const [acceptPort] = (await getFreePorts(1)) as [number];
    const running = await startEngine({
      dir,
      name: 'p12',
      config: [...GLOBAL_LINES, '[p12]', `accept = 127.0.0.1:${acceptPort}`, `connect = 127.0.0.1:${backend.port}`, `cert = ${p12}`],
    });
    try {
      const attempt = await attemptTls(acceptPort, 'through pkcs12\n');
      assert.equal(attempt.secured, true, `handshake (${attempt.errorCode ?? 'no error'})`);
      assert.equal(attempt.received.toString(), 'through pkcs12\n');
    } finally {
      running.stop();
    }
  });

  it('refuses a corrupt PKCS#12 file naming the cert line', () => {
    const bad = join(dir, 'bad.p12');
    writeFileSync(bad, Buffer.from([0x30, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef]));
    const file = join(dir, 'bad-p12.conf');
    writeFileSync(file, `[s]\naccept = 1\nconnect = 2\ncert = ${bad}\n`);
    const errors = loadConfiguration(file).diagnostics.map(formatDiagnostic);
    assert.match(errors[0] ?? '', new RegExp(`:4: "cert = ${bad}": Failed to initialize TLS context: PKCS#12 `));
  });

  it('refuses an RSA-1024 key at the default securityLevel 2 and accepts it at securityLevel = 0', () => {
    const weak = join(dir, 'weak.pem');
    openssl(['req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-subj', '/CN=weak', '-days', '2', '-keyout', weak, '-out', weak]);
    const level2 = join(dir, 'level2.conf');
    writeFileSync(level2, `[s]\naccept = 1\nconnect = 2\ncert = ${weak}\n`);
    const errors = loadConfiguration(level2).diagnostics.map(formatDiagnostic);
    assert.match(errors[0] ?? '', /:4: "cert = .*weak\.pem": Failed to initialize TLS context: error:0A00018F:SSL routines::ee key too small \(RSA 1024 bits; securityLevel = 2 needs 2048\)$/);
    const level0 = join(dir, 'level0.conf');
    writeFileSync(level0, `securityLevel = 0\n[s]\naccept = 1\nconnect = 2\ncert = ${weak}\n`);
    assert.deepEqual(loadConfiguration(level0).diagnostics.map(formatDiagnostic), []);
  });
});
