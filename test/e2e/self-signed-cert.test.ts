// make-self-signed-cert (MAKE.SELF-SIGNED-CERT): the PEM it writes is a usable RSA key + self-signed
// X.509 v3 certificate, private (0600), and the fingerprints it prints are the ones OpenSSL computes
// (MT9750 pins the public key); an existing file is only replaced with --force, keeping a backup.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHome } from '../helpers/home.js';
import type { TestHome } from '../helpers/home.js';
import { getFreePorts } from '../helpers/ports.js';
import { formatResult, runCommand } from '../helpers/processes.js';
import type { CommandResult } from '../helpers/processes.js';

const sha256Hex = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Every spelling an operator tool uses for a SHA-256 digest: colon hex (openssl), plain hex, base64 (ssh). */
const digestSpellings = (hex: string): string[] => {
  const bytes = Buffer.from(hex, 'hex');
  const colonHex = hex.match(/../g)?.join(':') ?? hex;
  const base64 = bytes.toString('base64');
  return [colonHex.toUpperCase(), colonHex.toLowerCase(), hex.toUpperCase(), hex.toLowerCase(), base64, base64.replace(/=+$/, '')];
};

/** `output` has a line labelled like `label` that prints the digest `hex` (in any usual spelling). */
const assertPrintsDigest = (output: string, hex: string, label: RegExp): void => {
  const line = output.split('\n').find((entry) => digestSpellings(hex).some((spelling) => entry.includes(spelling)));
  assert.ok(line !== undefined, `the output must print SHA-256 ${hex.match(/../g)?.join(':').toUpperCase()}; it printed:\n${output}`);
  assert.match(line, label, 'the digest is printed on the line that names it');
};

const openssl = async (args: readonly string[]): Promise<CommandResult> => {
  const result = await runCommand('openssl', args);
  assert.equal(result.code, 0, formatResult(result));
  return result;
};

/** The certificate's SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it, as hex. */
const certificateFingerprint = async (pemFile: string): Promise<string> => {
  const { stdout } = await openssl(['x509', '-in', pemFile, '-noout', '-fingerprint', '-sha256']);
  const match = /Fingerprint=([0-9A-F:]+)/i.exec(stdout);
  assert.ok(match?.[1] !== undefined, `openssl printed no fingerprint: ${stdout}`);
  return match[1].replace(/:/g, '').toLowerCase();
};

/** SHA-256 of the DER SubjectPublicKeyInfo (the public-key pin). */
const publicKeyFingerprint = async (pemFile: string): Promise<string> => {
  const { stdoutBytes } = await openssl(['pkey', '-in', pemFile, '-pubout', '-outform', 'DER']);
  return sha256Hex(stdoutBytes);
};

describe('make-self-signed-cert', () => {
  let home: TestHome;

  before(async () => {
    const [acceptPort, connectPort] = await getFreePorts(2) as [number, number];
    home = await createHome({ acceptPort, connectPort });
  });

  after(async () => {
    await home?.cleanup();
  });

  it('--out F writes a private 0600 PEM that OpenSSL loads as an RSA key and X.509 v3 certificate', async () => {
    const pemFile = join(home.dir, 'server.pem');
    const result = await home.cli('make-self-signed-cert', ['--out', pemFile]);
    assert.equal(result.code, 0, formatResult(result));

    assert.equal(statSync(pemFile).mode & 0o777, 0o600, 'mode of the PEM');
    await openssl(['x509', '-in', pemFile, '-noout']);
    const check = await openssl(['rsa', '-in', pemFile, '-check', '-noout']);
    assert.match(check.stdout, /RSA key ok/);
    const text = (await openssl(['x509', '-in', pemFile, '-noout', '-text'])).stdout;
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    const bits = Number(/Public-Key: \((\d+) bit\)/.exec(text)?.[1]);
    assert.ok(bits >= 2048, `key size ${bits} bits`);
    const subject = (await openssl(['x509', '-in', pemFile, '-noout', '-subject', '-nameopt', 'compat'])).stdout.replace(/^subject=/, '');
    const issuer = (await openssl(['x509', '-in', pemFile, '-noout', '-issuer', '-nameopt', 'compat'])).stdout.replace(/^issuer=/, '');
    assert.equal(issuer, subject, 'self-signed: issuer equals subject');
    // The key in the file is the certificate's key.
    const certKey = (await openssl(['x509', '-in', pemFile, '-noout', '-pubkey'])).stdout;
    const fileKey = (await openssl(['pkey', '-in', pemFile, '-pubout'])).stdout;
    assert.equal(certKey, fileKey);
  });

  it('prints the certificate fingerprint and the public-key (SPKI) fingerprint OpenSSL computes', async () => {
    const pemFile = join(home.dir, 'fingerprints.pem');
    const result = await home.cli('make-self-signed-cert', ['--out', pemFile]);
    assert.equal(result.code, 0, formatResult(result));
    assertPrintsDigest(result.stdout, await certificateFingerprint(pemFile), /certificate/i);
    assertPrintsDigest(result.stdout, await publicKeyFingerprint(pemFile), /public key/i);
  });

  it('refuses to overwrite an existing file without --force and leaves it unchanged', async () => {
    const pemFile = join(home.dir, 'keep.pem');
    const first = await home.cli('make-self-signed-cert', ['--out', pemFile]);
    assert.equal(first.code, 0, formatResult(first));
    const before = readFileSync(pemFile);

    const again = await home.cli('make-self-signed-cert', ['--out', pemFile]);
    assert.notEqual(again.code, 0, formatResult(again));
    assert.notEqual(again.stderr.trim(), '', 'the refusal is explained on stderr');
    assert.equal(sha256Hex(readFileSync(pemFile)), sha256Hex(before), 'file unchanged');
    assert.equal(statSync(pemFile).mode & 0o777, 0o600);
  });

  it('--force replaces the file with a new key and keeps a backup of the old one', async () => {
    const pemFile = join(home.dir, 'replace.pem');
    const first = await home.cli('make-self-signed-cert', ['--out', pemFile]);
    assert.equal(first.code, 0, formatResult(first));
    const before = readFileSync(pemFile);
    const oldKey = await publicKeyFingerprint(pemFile);

    const forced = await home.cli('make-self-signed-cert', ['--out', pemFile, '--force']);
    assert.equal(forced.code, 0, formatResult(forced));
    assert.notEqual(await publicKeyFingerprint(pemFile), oldKey, 'a fresh key pair');
    const backups = readdirSync(home.dir)
      .map((name) => join(home.dir, name))
      .filter((path) => path !== pemFile && statSync(path).isFile() && readFileSync(path).equals(before));
    assert.equal(backups.length, 1, `exactly one backup of the replaced file beside it: ${backups.join(', ')}`);
  });

  it('without --out writes the home\'s production PEM (SERVER.PEM)', async () => {
    const result = await home.cli('make-self-signed-cert');
    assert.equal(result.code, 0, formatResult(result));
    assert.equal(statSync(home.files.serverPem).mode & 0o777, 0o600);
    await openssl(['x509', '-in', home.files.serverPem, '-noout']);
    assertPrintsDigest(result.stdout, await certificateFingerprint(home.files.serverPem), /certificate/i);
  });
});
