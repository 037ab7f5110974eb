// inspectCertificateFile / inspectPem on our own certificates and on files the OpenSSL CLI made,
// compared with what openssl reports; and the SCTL_ERR_CERT failures, each naming the file.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSelfSigned } from '../../../src/certs/generate.js';
import type { SelfSignedCertificate } from '../../../src/certs/generate.js';
import { inspectCertificateFile, inspectPem } from '../../../src/certs/inspect.js';
import { isStunnelctlError } from '../../../src/errors.js';

const TEST_TIMEOUT_MS = 60_000;

const opensslText = (args: readonly string[]): string =>
  execFileSync('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8');

const concatenateFiles = (target: string, ...sources: readonly string[]): void =>
  writeFileSync(target, sources.map((source) => readFileSync(source, 'utf8')).join(''));

const assertCertError = async (promise: Promise<unknown>, path: string, fragment: string): Promise<Error> => {
  let caught: Error | undefined;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isStunnelctlError(error), 'a StunnelctlError');
    assert.equal(error.code, 'SCTL_ERR_CERT');
    assert.equal(error.exitCode, 1);
    assert.ok(error.message.includes(path), `message names the file: ${error.message}`);
    assert.ok(error.message.includes(fragment), `message says ${JSON.stringify(fragment)}: ${error.message}`);
    assert.ok((error.hint ?? '').length > 0, 'a hint');
    caught = error;
    return true;
  });
  assert.ok(caught !== undefined);
  return caught;
};

describe('inspecting certificate files', { timeout: TEST_TIMEOUT_MS }, () => {
  let directory: string;
  let ours: SelfSignedCertificate;
  let other: SelfSignedCertificate;
  const file = (name: string): string => join(directory, name);

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'stunnelctl-certs-inspect-'));
    ours = await generateSelfSigned({ commonName: 'ours.test', testOnly: true });
    other = await generateSelfSigned({ commonName: 'other.test' });
    writeFileSync(file('ours.pem'), ours.pem);
  });

  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('reads back what generateSelfSigned reported, with a matching key', async () => {
    const inspected = await inspectCertificateFile(file('ours.pem'));
    const { pem, certificatePem, privateKeyPem, ...summary } = ours;
    assert.deepEqual(inspected, { ...summary, source: file('ours.pem'), certificateCount: 1, privateKey: 'matching' });
  });

  it('says when the key in the file belongs to another certificate', () => {
    const inspected = inspectPem(ours.certificatePem + other.privateKeyPem, 'mixed.pem');
    assert.equal(inspected.privateKey, 'mismatched');
    assert.equal(inspected.source, 'mixed.pem');
  });

  it('says when the file holds no key, and counts a chain but describes its first certificate', () => {
    assert.equal(inspectPem(ours.certificatePem).privateKey, 'absent');
    const chain = inspectPem(ours.certificatePem + other.certificatePem + ours.privateKeyPem);
    assert.equal(chain.certificateCount, 2);
    assert.equal(chain.subject, ours.subject);
    assert.equal(chain.privateKey, 'matching');
  });

  describe('files made by the openssl CLI', () => {
    before(() => {
      opensslText([
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30',
        '-subj', '/O=Acme/CN=peer.test', '-addext', 'subjectAltName=DNS:peer.test,IP:10.1.2.3',
        '-keyout', file('openssl-key.pem'), '-out', file('openssl-cert.pem'),
      ]);
      concatenateFiles(file('openssl.pem'), file('openssl-cert.pem'), file('openssl-key.pem'));
      // `ecparam -genkey` writes the legacy form: an EC PARAMETERS block, then EC PRIVATE KEY.
      opensslText(['ecparam', '-name', 'prime256v1', '-genkey', '-out', file('ec-key.pem')]);
      opensslText([
        'req', '-x509', '-key', file('ec-key.pem'), '-days', '1', '-subj', '/CN=ec.test', '-out', file('ec-cert.pem'),
      ]);
      concatenateFiles(file('ec.pem'), file('ec-cert.pem'), file('ec-key.pem'));
    });

    it('reports the fingerprint, serial, dates, names and key that openssl reports', async () => {
      const inspected = await inspectCertificateFile(file('openssl.pem'));
      const path = file('openssl.pem');
      const fingerprint = opensslText(['x509', '-in', path, '-noout', '-fingerprint', '-sha256']).trim();
      assert.equal(fingerprint, `sha256 Fingerprint=${inspected.certFingerprintSha256}`);
      assert.equal(opensslText(['x509', '-in', path, '-noout', '-serial']).trim(), `serial=${inspected.serialHex}`);
      const endDate = opensslText(['x509', '-in', path, '-noout', '-enddate']).trim().replace('notAfter=', '');
      assert.equal(inspected.notAfter.getTime(), new Date(endDate).getTime());
      const startDate = opensslText(['x509', '-in', path, '-noout', '-startdate']).trim().replace('notBefore=', '');
      assert.equal(inspected.notBefore.getTime(), new Date(startDate).getTime());
      assert.equal(inspected.subject, 'CN=peer.test, O=Acme');
      assert.equal(inspected.issuer, 'CN=peer.test, O=Acme');
      assert.deepEqual(inspected.subjectAltNames, ['DNS:peer.test', 'IP:10.1.2.3']);
      assert.equal(inspected.keyType, 'rsa');
      assert.equal(inspected.keyBits, 2048);
      assert.equal(inspected.selfSigned, true);
      assert.equal(inspected.testOnly, false);
      assert.equal(inspected.privateKey, 'matching');
    });

    it('reads a legacy EC PRIVATE KEY after an EC PARAMETERS block', async () => {
      const inspected = await inspectCertificateFile(file('ec.pem'));
      assert.equal(inspected.keyType, 'ec');
      assert.equal(inspected.keyCurve, 'prime256v1');
      assert.equal(inspected.keyBits, 256);
      assert.equal(inspected.privateKey, 'matching');
      assert.deepEqual(inspected.subjectAltNames, []);
    });

    it('reports a passphrase-protected key as encrypted, in PKCS#8 and in the legacy form', () => {
      const certificate = readFileSync(file('openssl-cert.pem'), 'utf8');
      const key = file('openssl-key.pem');
      const pkcs8 = opensslText(['pkcs8', '-topk8', '-in', key, '-v2', 'aes-256-cbc', '-passout', 'pass:secret']);
      assert.match(pkcs8, /BEGIN ENCRYPTED PRIVATE KEY/);
      assert.equal(inspectPem(certificate + pkcs8).privateKey, 'encrypted');
      const legacy = opensslText(['rsa', '-in', key, '-aes256', '-traditional', '-passout', 'pass:secret']);
      assert.match(legacy, /Proc-Type: 4,ENCRYPTED/);
      assert.equal(inspectPem(certificate + legacy).privateKey, 'encrypted');
    });
  });

  describe('failures', () => {
    it('names a missing file, keeping the system error as the cause', async () => {
      const path = file('missing.pem');
      const error = await assertCertError(inspectCertificateFile(path), path, 'ENOENT');
      assert.equal((error.cause as { code?: string }).code, 'ENOENT');
    });

    it('names a file that holds only a key', async () => {
      const path = file('key-only.pem');
      writeFileSync(path, ours.privateKeyPem);
      await assertCertError(inspectCertificateFile(path), path, 'no PEM certificate');
    });

    it('tells how to convert a DER certificate', async () => {
      const path = file('cert.der');
      writeFileSync(path, Buffer.from(ours.certificatePem.replace(/-----[A-Z ]+-----|\n/g, ''), 'base64'));
      const error = await assertCertError(inspectCertificateFile(path), path, 'DER');
      assert.ok(isStunnelctlError(error));
      assert.match(error.hint ?? '', /openssl x509 -inform DER/);
    });

    it('names a damaged certificate block, keeping OpenSSL\'s error as the cause', async () => {
      const path = file('damaged.pem');
      writeFileSync(path, `-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n${ours.privateKeyPem}`);
      const error = await assertCertError(inspectCertificateFile(path), path, 'cannot be parsed');
      assert.ok(error.cause instanceof Error);
    });

    it('names a damaged key block', async () => {
      const path = file('damaged-key.pem');
      writeFileSync(path, `${ours.certificatePem}-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----\n`);
      await assertCertError(inspectCertificateFile(path), path, 'private key (PRIVATE KEY) cannot be parsed');
    });
  });
});
