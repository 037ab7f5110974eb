// `status` tells the operator when each service's certificate expires, and warns under 30 days:
// a started worker serving install's certificate (825 days: no warning), then one made by
// `openssl req -days 10` put in place of the home's test PEM and reloaded (a warning on stderr,
// the exit code still 0, and `status --json` carrying file, notAfter and daysLeft).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { differenceInDays } from 'date-fns/differenceInDays';
import { startEchoServer } from '../helpers/echo-server.js';
import { createHome, type TestHome } from '../helpers/home.js';
import { getFreePort } from '../helpers/ports.js';
import { formatResult, runCommand } from '../helpers/processes.js';

interface CertificateJson {
  file: string;
  notAfter: string | null;
  daysLeft: number | null;
  problem: string | null;
}

const readCertificates = (stdout: string): CertificateJson[] =>
  (JSON.parse(stdout) as { services: Array<{ certificate: CertificateJson | null }> }).services.map((service) => {
    assert.ok(service.certificate !== null, 'a server-mode service has a certificate');
    return service.certificate;
  });

/** `openssl req -x509 -days N`: key and certificate in one stunnel PEM, mode 0600. */
const makeOpensslPem = async (dir: string, pemFile: string, days: number): Promise<Date> => {
  const key = join(dir, 'short.key');
  const cert = join(dir, 'short.crt');
  const made = await runCommand('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', '/CN=localhost']);
  assert.equal(made.code, 0, formatResult(made));
  writeFileSync(pemFile, `${readFileSync(cert, 'utf8')}${readFileSync(key, 'utf8')}`);
  chmodSync(pemFile, 0o600);
  const endDate = await runCommand('openssl', ['x509', '-noout', '-enddate', '-in', cert]);
  return new Date(endDate.stdout.trim().replace(/^notAfter=/, ''));
};

test('status shows each certificate expiry and warns under 30 days, exit code unchanged', async () => {
  const backend = await startEchoServer();
  let home: TestHome | undefined;
  try {
    home = await createHome({ acceptPort: await getFreePort(), connectPort: backend.port, installArgs: ['--naming', 'posix'] });
    const start = await home.cli('start');
    assert.equal(start.code, 0, formatResult(start));

    const healthy = await home.cli('status');
    assert.equal(healthy.code, 0, formatResult(healthy));
    assert.match(healthy.stdout, new RegExp(`^    certificate ${home.files.testPem} expires in (about |over |almost )?\\d+ years? \\(`, 'm'));
    assert.doesNotMatch(healthy.stderr, /warning:/);
    const [longLived] = readCertificates((await home.cli('status', ['--json'])).stdout);
    assert.ok((longLived?.daysLeft ?? 0) > 800, `install's certificate is valid for 825 days: ${JSON.stringify(longLived)}`);

    const notAfter = await makeOpensslPem(home.dir, home.files.testPem, 10);
    const reload = await home.cli('reload-config');
    assert.equal(reload.code, 0, formatResult(reload));

    const warned = await home.cli('status');
    assert.equal(warned.code, 0, 'a warning does not change the exit code');
    assert.match(warned.stdout, new RegExp(`^    certificate ${home.files.testPem} expires in 10 days \\(`, 'm'));
    assert.match(warned.stderr, /^warning: the certificate of \[MT9750\] has less than 30 days left: .* expires in 10 days .*; replace it /m);
    const json = await home.cli('status', ['--json']);
    assert.equal(json.code, 0);
    assert.match(json.stderr, /^warning: the certificate of \[MT9750\]/m);
    // 9 whole days and some hours are left (one more in a zone that moves its clocks forward meanwhile).
    const daysLeft = differenceInDays(notAfter, new Date());
    assert.ok(daysLeft === 9 || daysLeft === 10);
    assert.deepEqual(readCertificates(json.stdout), [{ file: home.files.testPem, notAfter: notAfter.toISOString(), daysLeft, problem: null }]);
  } finally {
    await home?.cleanup();
    await backend.close();
  }
});
