// How status words a certificate's expiry (date-fns formatDistance) and when it warns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCertificateExpiry, formatCertificateWarnings } from '../../../src/cli/actions/status.js';
import type { ServiceStatus } from '../../../src/control/status-report.js';

const NOW = new Date('2030-06-01T12:00:00Z');
const DAY_MS = 24 * 60 * 60 * 1000;

const service = (name: string, certificate: ServiceStatus['certificate']): ServiceStatus => ({
  name,
  mode: 'server',
  accept: ['127.0.0.1:994'],
  connect: ['127.0.0.1:102'],
  listeners: ['127.0.0.1:994'],
  cert: certificate?.file ?? null,
  active: 0,
  total: 0,
  certificate,
});

const expiring = (file: string, days: number) => ({
  file,
  notAfter: new Date(NOW.getTime() + days * DAY_MS).toISOString(),
  daysLeft: Math.floor(days),
  problem: null,
});

test('the expiry reads "expires in ..." or "EXPIRED ... ago", with the exact time', () => {
  assert.equal(formatCertificateExpiry(expiring('/h/a.pem', 10), NOW), '/h/a.pem expires in 10 days (2030-06-11T12:00:00.000Z)');
  assert.equal(formatCertificateExpiry(expiring('/h/a.pem', 400), NOW), '/h/a.pem expires in about 1 year (2031-07-06T12:00:00.000Z)');
  assert.equal(formatCertificateExpiry(expiring('/h/a.pem', -3), NOW), '/h/a.pem EXPIRED 3 days ago (2030-05-29T12:00:00.000Z)');
});

test('one warning per service under 30 days, expired or unreadable; none for a client without certificate', () => {
  const warnings = formatCertificateWarnings(
    [
      service('fine', expiring('/h/fine.pem', 30)),
      service('soon', expiring('/h/soon.pem', 29.9)),
      service('gone', expiring('/h/gone.pem', -1)),
      service('broken', { file: '/h/broken.pem', notAfter: null, daysLeft: null, problem: 'cannot read it (EACCES)' }),
      service('client', null),
    ],
    NOW,
  );
  assert.deepEqual(warnings, [
    'the certificate of [soon] has less than 30 days left: /h/soon.pem expires in 30 days (2030-07-01T09:36:00.000Z); replace it (stunnelctl make-self-signed-cert, or a certificate from your CA), then stunnelctl reload-config',
    'the certificate of [gone] has expired: /h/gone.pem EXPIRED 1 day ago (2030-05-31T12:00:00.000Z); replace it (stunnelctl make-self-signed-cert, or a certificate from your CA), then stunnelctl reload-config',
    'cannot check the certificate of [broken]: /h/broken.pem: cannot read it (EACCES)',
  ]);
});
