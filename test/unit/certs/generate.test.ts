// generateSelfSigned checked against the real OpenSSL CLI and a real Node TLS server: the
// certificates must be what stunnel, openssl and TLS 1.2 / 1.3 peers accept.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, createServer } from 'node:tls';
import type { SecureVersion } from 'node:tls';
import { generateSelfSigned } from '../../../src/certs/generate.js';
import type { SelfSignedCertificate } from '../../../src/certs/generate.js';
import { forge } from '../../../src/certs/forge.js';
import { isStunnelctlError } from '../../../src/errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const TEST_TIMEOUT_MS = 60_000;
const COMMON_NAME = 'stunnelctl.test';

const openssl = (args: readonly string[], input?: string | Buffer): Buffer =>
  execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

const opensslText = (args: readonly string[], input?: string | Buffer): string => openssl(args, input).toString('utf8');

/** Independent of src/: uppercase hex pairs joined by `:`. */
const colonHex = (digest: Buffer): string =>
  Array.from(digest, (byte) => byte.toString(16).padStart(2, '0').toUpperCase()).join(':');

interface HandshakeResult {
  protocol: string | null;
  authorized: boolean;
  peerFingerprint256: string;
  echoed: string;
}

/**
 * A Node TLS server using the PEM as stunnel does (cert and key from the one file) at OpenSSL
 * security level 2, and a client that trusts exactly that certificate: one echoed round trip.
 */
const runHandshake = async (generated: SelfSignedCertificate, version: SecureVersion): Promise<HandshakeResult> => {
  const serverSockets = new Set<Socket>();
  const server = createServer(
    {
      key: generated.pem,
      cert: generated.pem,
      minVersion: version,
      maxVersion: version,
      ciphers: 'DEFAULT:@SECLEVEL=2',
    },
    (socket) => socket.pipe(socket),
  );
  server.on('connection', (socket: Socket) => {
    serverSockets.add(socket);
    socket.once('close', () => serverSockets.delete(socket));
  });
  try {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const client = connect({
      host: '127.0.0.1',
      port,
      servername: COMMON_NAME,
      ca: generated.certificatePem,
      minVersion: version,
      maxVersion: version,
    });
    try {
      await once(client, 'secureConnect');
      client.write('ping');
      const [data] = (await once(client, 'data')) as [Buffer];
      return {
        protocol: client.getProtocol(),
        authorized: client.authorized,
        peerFingerprint256: client.getPeerCertificate().fingerprint256,
        echoed: data.toString('utf8'),
      };
    } finally {
      client.destroy();
    }
  } finally {
    for (const socket of serverSockets) {
      socket.destroy();
    }
    server.close();
  }
};

const assertRejectsWithUsage = async (promise: Promise<unknown>, fragments: readonly string[]): Promise<void> => {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isStunnelctlError(error), 'a StunnelctlError');
    assert.equal(error.code, 'SCTL_ERR_USAGE');
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `message names ${fragment}: ${error.message}`);
    }
    return true;
  });
};

describe('generateSelfSigned', { timeout: TEST_TIMEOUT_MS }, () => {
  let directory: string;
  let rsa: SelfSignedCertificate;
  let rsaFile: string;
  let ec: SelfSignedCertificate;
  let ecFile: string;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'stunnelctl-certs-generate-'));
    rsa = await generateSelfSigned({ commonName: COMMON_NAME, testOnly: true });
    rsaFile = join(directory, 'rsa.pem');
    writeFileSync(rsaFile, rsa.pem);
    ec = await generateSelfSigned({ keyType: 'ec', commonName: COMMON_NAME });
    ecFile = join(directory, 'ec.pem');
    writeFileSync(ecFile, ec.pem);
  });

  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  describe('RSA (the defaults)', () => {
    it('writes the certificate then a PKCS#8 private key, as stunnel reads one file', () => {
      assert.equal(rsa.pem, rsa.certificatePem + rsa.privateKeyPem);
      assert.match(rsa.certificatePem, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
      assert.match(rsa.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    });

    it('has the certificate fingerprint that openssl x509 -fingerprint -sha256 prints', () => {
      const output = opensslText(['x509', '-in', rsaFile, '-noout', '-fingerprint', '-sha256']).trim();
      assert.equal(output, `sha256 Fingerprint=${rsa.certFingerprintSha256}`);
      assert.match(rsa.certFingerprintSha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    });

    it('has a private key that openssl rsa -check accepts', () => {
      assert.match(opensslText(['rsa', '-in', rsaFile, '-check', '-noout']), /^RSA key ok$/m);
    });

    it('has the public key fingerprint and pin of the DER SubjectPublicKeyInfo openssl derives from the key', () => {
      const publicPem = openssl(['pkey', '-in', rsaFile, '-pubout']);
      const spkiDer = openssl(['pkey', '-pubin', '-outform', 'DER'], publicPem);
      const digest = createHash('sha256').update(spkiDer).digest();
      assert.equal(rsa.publicKeyFingerprintSha256, colonHex(digest));
      assert.equal(rsa.publicKeyPinSha256, `sha256//${digest.toString('base64')}`);
      assert.notEqual(rsa.publicKeyFingerprintSha256, rsa.certFingerprintSha256);
    });

    it('is a self-signed certificate that openssl verify accepts at security level 2', () => {
      assert.equal(opensslText(['verify', '-auth_level', '2', '-CAfile', rsaFile, rsaFile]).trim(), `${rsaFile}: OK`);
    });

    it('is an X.509 v3 server certificate with the agreed extensions, 2048 bits, SHA-256', () => {
      const text = opensslText(['x509', '-in', rsaFile, '-noout', '-text']);
      for (const expected of [
        'Version: 3 (0x2)',
        'Signature Algorithm: sha256WithRSAEncryption',
        'Public-Key: (2048 bit)',
        'X509v3 Basic Constraints: critical\n                CA:FALSE',
        'X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment',
        'TLS Web Server Authentication, TLS Web Client Authentication',
        `DNS:${COMMON_NAME}, DNS:localhost, IP Address:127.0.0.1`,
        'X509v3 Subject Key Identifier',
      ]) {
        assert.ok(text.includes(expected), `openssl -text shows ${JSON.stringify(expected)}`);
      }
    });

    it('marks a test-only certificate in its subject', () => {
      const subject = opensslText(['x509', '-in', rsaFile, '-noout', '-subject', '-nameopt', 'RFC2253']).trim();
      assert.equal(
        subject,
        `subject=CN=${COMMON_NAME},OU=TEST ONLY - NOT FOR PRODUCTION,O=stunnelctl test certificate`,
      );
      assert.equal(rsa.subject, `CN=${COMMON_NAME}, OU=TEST ONLY - NOT FOR PRODUCTION, O=stunnelctl test certificate`);
      assert.equal(rsa.issuer, rsa.subject);
      assert.equal(rsa.testOnly, true);
      assert.equal(rsa.selfSigned, true);
    });

    it('reports the serial, validity, key and SANs that openssl reads', () => {
      const serial = opensslText(['x509', '-in', rsaFile, '-noout', '-serial']).trim();
      assert.equal(serial, `serial=${rsa.serialHex}`);
      assert.match(rsa.serialHex, /^[0-7][0-9A-F]{31}$/, '16 bytes, positive');
      const endDate = opensslText(['x509', '-in', rsaFile, '-noout', '-enddate']).trim().replace('notAfter=', '');
      assert.equal(new Date(endDate).getTime(), rsa.notAfter.getTime());
      assert.equal(rsa.notAfter.getTime() - rsa.notBefore.getTime(), 825 * DAY_MS);
      assert.ok(rsa.notBefore.getTime() <= Date.now(), 'valid from now on');
      assert.equal(rsa.keyType, 'rsa');
      assert.equal(rsa.keyBits, 2048);
      assert.deepEqual(rsa.subjectAltNames, [`DNS:${COMMON_NAME}`, 'DNS:localhost', 'IP:127.0.0.1']);
    });

    it('serves a TLS 1.3 handshake from a Node tls server', async () => {
      const result = await runHandshake(rsa, 'TLSv1.3');
      assert.deepEqual(result, {
        protocol: 'TLSv1.3',
        authorized: true,
        peerFingerprint256: rsa.certFingerprintSha256,
        echoed: 'ping',
      });
    });

    it('serves a TLS 1.2 handshake from a Node tls server', async () => {
      const result = await runHandshake(rsa, 'TLSv1.2');
      assert.deepEqual(result, {
        protocol: 'TLSv1.2',
        authorized: true,
        peerFingerprint256: rsa.certFingerprintSha256,
        echoed: 'ping',
      });
    });

    it('makes a new key and serial every time', async () => {
      const again = await generateSelfSigned({ commonName: COMMON_NAME, testOnly: true });
      assert.notEqual(again.privateKeyPem, rsa.privateKeyPem);
      assert.notEqual(again.publicKeyFingerprintSha256, rsa.publicKeyFingerprintSha256);
      assert.notEqual(again.serialHex, rsa.serialHex);
      assert.notEqual(again.certFingerprintSha256, rsa.certFingerprintSha256);
    });

    it('generates the key natively, never with node-forge\'s pure-JS RSA key generation', async (t) => {
      const forgeKeyGeneration = t.mock.method(forge.pki.rsa, 'generateKeyPair');
      const generated = await generateSelfSigned({ keyType: 'rsa', rsaBits: 2048 });
      assert.equal(forgeKeyGeneration.mock.callCount(), 0);
      assert.equal(generated.keyBits, 2048);
    });

    it('defaults the common name to this machine\'s hostname and leaves test marks out', async () => {
      const generated = await generateSelfSigned();
      assert.equal(generated.subject, `CN=${hostname()}`);
      assert.equal(generated.testOnly, false);
      assert.ok(generated.subjectAltNames.includes('DNS:localhost'));
      assert.ok(generated.subjectAltNames.includes('IP:127.0.0.1'));
    });

    it('takes key size, digest, names and SANs from the options', async () => {
      const generated = await generateSelfSigned({
        rsaBits: 3072,
        digest: 'sha512',
        commonName: 'mt9750.example',
        organization: 'ACME, Inc.',
        organizationalUnit: 'Data Centre',
        subjectAltNames: ['mt9750.example', '*.mt9750.example', '10.1.2.3', '::1'],
        days: 30,
      });
      const file = join(directory, 'options.pem');
      writeFileSync(file, generated.pem);
      const text = opensslText(['x509', '-in', file, '-noout', '-text']);
      assert.ok(text.includes('Signature Algorithm: sha512WithRSAEncryption'));
      assert.ok(text.includes('Public-Key: (3072 bit)'));
      assert.ok(
        text.includes('DNS:mt9750.example, DNS:*.mt9750.example, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1'),
      );
      const subject = opensslText(['x509', '-in', file, '-noout', '-subject', '-nameopt', 'RFC2253']).trim();
      assert.equal(subject, 'subject=CN=mt9750.example,OU=Data Centre,O=ACME\\, Inc.');
      assert.equal(generated.subject, 'CN=mt9750.example, OU=Data Centre, O=ACME\\, Inc.');
      assert.equal(generated.notAfter.getTime() - generated.notBefore.getTime(), 30 * DAY_MS);
      assert.equal(opensslText(['verify', '-auth_level', '2', '-CAfile', file, file]).trim(), `${file}: OK`);
    });

    it('writes validity dates from 2050 on as GeneralizedTime, which openssl reads', async () => {
      const generated = await generateSelfSigned({ commonName: COMMON_NAME, days: 36_525 });
      assert.ok(generated.notAfter.getUTCFullYear() >= 2050, 'precondition: notAfter after 2049');
      const file = join(directory, 'long.pem');
      writeFileSync(file, generated.pem);
      const endDate = opensslText(['x509', '-in', file, '-noout', '-enddate']).trim().replace('notAfter=', '');
      assert.equal(new Date(endDate).getTime(), generated.notAfter.getTime());
      assert.match(opensslText(['asn1parse', '-in', file]), /GENERALIZEDTIME/);
    });
  });

  describe('EC', () => {
    it('is a self-signed ECDSA P-256 certificate that openssl verify accepts at security level 2', () => {
      assert.equal(opensslText(['verify', '-auth_level', '2', '-CAfile', ecFile, ecFile]).trim(), `${ecFile}: OK`);
      const text = opensslText(['x509', '-in', ecFile, '-noout', '-text']);
      for (const expected of [
        'Signature Algorithm: ecdsa-with-SHA256',
        'ASN1 OID: prime256v1',
        'X509v3 Key Usage: critical\n                Digital Signature\n',
        'TLS Web Server Authentication, TLS Web Client Authentication',
      ]) {
        assert.ok(text.includes(expected), `openssl -text shows ${JSON.stringify(expected)}`);
      }
      assert.equal(ec.keyType, 'ec');
      assert.equal(ec.keyBits, 256);
      assert.equal(ec.keyCurve, 'prime256v1');
      assert.equal(ec.selfSigned, true);
    });

    it('has a key openssl pkey -check accepts, and the fingerprints openssl computes', () => {
      assert.match(opensslText(['pkey', '-in', ecFile, '-check', '-noout']), /^Key is valid$/m);
      const fingerprint = opensslText(['x509', '-in', ecFile, '-noout', '-fingerprint', '-sha256']).trim();
      assert.equal(fingerprint, `sha256 Fingerprint=${ec.certFingerprintSha256}`);
      const spkiDer = openssl(['pkey', '-pubin', '-outform', 'DER'], openssl(['pkey', '-in', ecFile, '-pubout']));
      assert.equal(ec.publicKeyFingerprintSha256, colonHex(createHash('sha256').update(spkiDer).digest()));
    });

    it('serves TLS 1.3 and TLS 1.2 handshakes', async () => {
      for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
        const result = await runHandshake(ec, version);
        assert.deepEqual(result, {
          protocol: version,
          authorized: true,
          peerFingerprint256: ec.certFingerprintSha256,
          echoed: 'ping',
        });
      }
    });

    it('makes P-384 / SHA-384 certificates', async () => {
      const generated = await generateSelfSigned({
        keyType: 'ec',
        ecCurve: 'secp384r1',
        digest: 'sha384',
        commonName: COMMON_NAME,
      });
      const file = join(directory, 'p384.pem');
      writeFileSync(file, generated.pem);
      const text = opensslText(['x509', '-in', file, '-noout', '-text']);
      assert.ok(text.includes('Signature Algorithm: ecdsa-with-SHA384'));
      assert.ok(text.includes('ASN1 OID: secp384r1'));
      assert.equal(opensslText(['verify', '-CAfile', file, file]).trim(), `${file}: OK`);
      assert.equal(generated.keyBits, 384);
    });
  });

  describe('options that cannot be honoured', () => {
    it('names every problem at once, as a usage error', async () => {
      await assertRejectsWithUsage(
        generateSelfSigned({ rsaBits: 1024, digest: 'md5' as 'sha256', days: 0, subjectAltNames: ['not a host!'] }),
        ['rsaBits', 'digest', 'days', 'not a host!'],
      );
    });

    it('refuses an unknown key type or curve', async () => {
      await assertRejectsWithUsage(generateSelfSigned({ keyType: 'dsa' as 'rsa' }), ['keyType', 'dsa']);
      const unknownCurve = 'secp256k1' as 'prime256v1';
      await assertRejectsWithUsage(generateSelfSigned({ keyType: 'ec', ecCurve: unknownCurve }), ['ecCurve']);
    });

    it('refuses an empty SAN list, IPv6 zone ids and over-long names', async () => {
      await assertRejectsWithUsage(generateSelfSigned({ subjectAltNames: [] }), ['at least one']);
      await assertRejectsWithUsage(generateSelfSigned({ subjectAltNames: ['fe80::1%eth0'] }), ['fe80::1%eth0']);
      await assertRejectsWithUsage(generateSelfSigned({ commonName: 'x'.repeat(65) }), ['commonName']);
    });

    it('refuses an organization together with testOnly, which sets its own', async () => {
      await assertRejectsWithUsage(generateSelfSigned({ testOnly: true, organization: 'ACME' }), ['testOnly']);
    });
  });
});
