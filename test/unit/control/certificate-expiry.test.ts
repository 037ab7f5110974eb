// Reading a certificate's expiry for status: whole days left from a given moment, and a reason
// instead of a crash when the file cannot be read or holds no certificate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSigned } from '../../../src/certs/generate.js';
import { CERTIFICATE_WARNING_DAYS, needsCertificateWarning, readCertificateExpiry } from '../../../src/control/certificate-expiry.js';

const DAY_MS = 24 * 60 * 60 * 1000;
let directory = '';
let pemFile = '';
let notAfter = new Date(0);

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'stunnelctl-expiry-'));
  pemFile = join(directory, 'server.pem');
  const certificate = await generateSelfSigned({ keyType: 'ec', days: 40 });
  writeFileSync(pemFile, certificate.pem);
  notAfter = certificate.notAfter;
});

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

test('days left are whole days until notAfter, negative once it has passed', () => {
  const at = (daysBefore: number) => new Date(notAfter.getTime() - daysBefore * DAY_MS);
  assert.deepEqual(readCertificateExpiry(pemFile, at(40)), { file: pemFile, notAfter: notAfter.toISOString(), daysLeft: 40, problem: null });
  assert.equal(readCertificateExpiry(pemFile, at(29.5)).daysLeft, 29);
  assert.equal(readCertificateExpiry(pemFile, at(-3.2)).daysLeft, -3);
});

test(`a warning is due under ${CERTIFICATE_WARNING_DAYS} days, after expiry, and when the file cannot be read`, () => {
  const at = (daysBefore: number) => new Date(notAfter.getTime() - daysBefore * DAY_MS);
  assert.equal(needsCertificateWarning(readCertificateExpiry(pemFile, at(CERTIFICATE_WARNING_DAYS))), false);
  assert.equal(needsCertificateWarning(readCertificateExpiry(pemFile, at(CERTIFICATE_WARNING_DAYS - 0.5))), true);
  assert.equal(needsCertificateWarning(readCertificateExpiry(pemFile, at(-1))), true);
  assert.equal(needsCertificateWarning(readCertificateExpiry(join(directory, 'missing.pem'), new Date())), true);
});

test('an unreadable file or one without a certificate gives a reason, not an exception', () => {
  const missing = readCertificateExpiry(join(directory, 'missing.pem'), new Date());
  assert.deepEqual(missing, { file: join(directory, 'missing.pem'), notAfter: null, daysLeft: null, problem: 'cannot read it (ENOENT)' });
  const garbage = join(directory, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  assert.match(readCertificateExpiry(garbage, new Date()).problem ?? '', /no PEM certificate found/);
});
