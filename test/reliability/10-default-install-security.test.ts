// Figure 10, security of a default install: `install` + `start`, then sslscan against the listener:
// only TLS 1.2 and 1.3, every TLS 1.2 suite forward secret (ECDHE) and AEAD, no weak suite, no
// compression, no insecure renegotiation. Key files are 0600, every install has its own certificate,
// and the private key never reaches the log, the state file or SYSLST, even at debug level 7.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import { formatResult, runCommand } from '../helpers/processes.js';
import { Cleanup } from './support/cleanup.js';
import { FigureBook } from './support/figures.js';
import { SCALE } from './support/scale.js';
import { tlsEchoProbe } from './support/traffic.js';
import { editConfig, installHome, listLogFiles, readText, replacingOption, startHome, withGlobalLines } from './support/workers.js';

const SSLSCAN_TIMEOUT_MS = 180_000;
const PROTOCOLS = ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
const WEAK_SUITE = /RC4|3DES|DES-CBC|NULL|EXP|anon|ADH|AECDH|MD5|IDEA|SEED|PSK/i;
const PRIVATE_KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----([\s\S]+?)-----END \1-----/;

interface SslscanReport {
  protocols: Map<string, string>;
  suites: Array<{ protocol: string; bits: number; name: string }>;
  renegotiation: string;
  compression: string;
  heartbleed: string[];
}

/** The section of sslscan's output that follows a heading such as `  TLS renegotiation:`. */
const sectionAfter = (output: string, heading: string): string[] => {
  const lines = output.split('\n');
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start < 0) return [];
  const section: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    section.push(line.trim());
  }
  return section;
};

const parseSslscan = (output: string): SslscanReport => {
  const protocols = new Map<string, string>();
  for (const match of output.matchAll(/^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)\s*$/gm)) protocols.set(match[1] ?? '', match[2] ?? '');
  const suites = [...output.matchAll(/^(?:Preferred|Accepted)\s+(SSLv[23]|TLSv1\.[0-3])\s+(\d+) bits\s+(\S+)/gm)].map((match) => ({
    protocol: match[1] ?? '',
    bits: Number(match[2]),
    name: match[3] ?? '',
  }));
  return {
    protocols,
    suites,
    renegotiation: sectionAfter(output, 'TLS renegotiation:').join(' '),
    compression: sectionAfter(output, 'TLS Compression:').join(' '),
    heartbleed: sectionAfter(output, 'Heartbleed:'),
  };
};

/** Why a TLS 1.2 suite is not forward-secret AEAD, or undefined. */
const tls12Weakness = (name: string): string | undefined => {
  if (!name.startsWith('ECDHE-')) return 'no forward secrecy (not ECDHE)';
  if (!/GCM|CHACHA20-POLY1305/.test(name)) return /-SHA$/.test(name) ? 'CBC with SHA-1' : 'not AEAD';
  return undefined;
};

describe(`figure 10: security of a default install (${SCALE})`, () => {
  it('sslscan of a default install: TLS 1.2/1.3 only, forward-secret AEAD suites, no compression, no insecure renegotiation; keys 0600, unique, never logged', { timeout: SSLSCAN_TIMEOUT_MS + 120_000 }, async () => {
    const cleanup = new Cleanup();
    try {
      const backend = cleanup.add(await startEchoServer(), (server) => server.close());
      const home = cleanup.add(await installHome(backend.port), (installed) => installed.cleanup());
      const other = cleanup.add(await installHome(backend.port), (installed) => installed.cleanup());
      await startHome(home);
      const book = new FigureBook();

      const scan = await runCommand('sslscan', ['--no-colour', `127.0.0.1:${home.acceptPort}`], { timeoutMs: SSLSCAN_TIMEOUT_MS });
      assert.equal(scan.code, 0, formatResult(scan));
      const report = parseSslscan(scan.stdout);
      assert.equal(report.protocols.size, PROTOCOLS.length, `sslscan reported every protocol\n${scan.stdout}`);
      const enabled = [...report.protocols].filter(([, state]) => state === 'enabled').map(([protocol]) => protocol);
      book.check('10 default install: protocols enabled', enabled.join(', '), 'TLSv1.2, TLSv1.3', enabled.join(', ') === 'TLSv1.2, TLSv1.3');

      const tls12 = report.suites.filter((suite) => suite.protocol === 'TLSv1.2');
      const notForwardSecretAead = tls12.flatMap((suite) => {
        const why = tls12Weakness(suite.name);
        return why === undefined ? [] : [`${suite.name}: ${why}`];
      });
      book.check(
        '10 default install: TLS 1.2 suites without forward-secret AEAD',
        `${notForwardSecretAead.length} of ${tls12.length} (${tls12.map((suite) => suite.name).join(', ')})`,
        '0, at least one suite',
        tls12.length > 0 && notForwardSecretAead.length === 0,
        notForwardSecretAead.join('\n'),
      );
      const weak = report.suites.filter((suite) => suite.bits < 128 || WEAK_SUITE.test(suite.name) || (suite.protocol === 'TLSv1.2' && tls12Weakness(suite.name) === 'CBC with SHA-1'));
      book.check('10 default install: weak suites (<128 bit, CBC-SHA1, RC4, 3DES, NULL, EXPORT, anon)', `${weak.length} of ${report.suites.length}`, '0', weak.length === 0, weak.map((suite) => `${suite.protocol} ${suite.bits} ${suite.name}`).join('\n'));

      // sslscan built without zlib cannot probe compression: OpenSSL's own client reports what was negotiated.
      const session = await runCommand('openssl', ['s_client', '-connect', `127.0.0.1:${home.acceptPort}`, '-tls1_2'], { input: '' });
      const negotiated = /^Compression: (.+)$/m.exec(session.stdout)?.[1]?.trim() ?? 'not reported';
      const compressionOff = (/Compression disabled/i.test(report.compression) || /does not support compression/i.test(report.compression)) && negotiated === 'NONE';
      book.check('10 default install: compression', `sslscan "${report.compression}"; s_client "Compression: ${negotiated}"`, 'disabled (s_client: NONE)', compressionOff);
      const renegotiationOk = /not supported|Secure session renegotiation supported/i.test(report.renegotiation) && !/Insecure/i.test(report.renegotiation);
      book.check('10 default install: renegotiation', report.renegotiation, 'secure or not supported', renegotiationOk);
      assert.ok(report.heartbleed.length > 0 && report.heartbleed.every((line) => /not vulnerable/.test(line)), `heartbleed: ${report.heartbleed.join('; ')}`);

      // Key files: the installed test key and a production key from make-self-signed-cert.
      const made = await home.cli('make-self-signed-cert');
      assert.equal(made.code, 0, formatResult(made));
      const modes = [home.files.testPem, home.files.serverPem, other.files.testPem].map((file) => `${file.slice(file.lastIndexOf('/') + 1)} ${(statSync(file).mode & 0o777).toString(8)}`);
      book.check('10 key files: modes', modes.join(', '), 'all 600', modes.every((entry) => entry.endsWith(' 600')));

      const certificateOf = (file: string): X509Certificate => new X509Certificate(readFileSync(file));
      const first = certificateOf(home.files.testPem);
      const second = certificateOf(other.files.testPem);
      const publicKeyOf = (file: string): string => createPublicKey(readFileSync(file, 'utf8')).export({ type: 'spki', format: 'der' }).toString('base64');
      book.check(
        '10 two installs: certificates differ',
        `${first.fingerprint256.slice(0, 23)}... vs ${second.fingerprint256.slice(0, 23)}...; keys ${publicKeyOf(home.files.testPem) === publicKeyOf(other.files.testPem) ? 'SAME' : 'differ'}`,
        'different certificates and keys',
        first.fingerprint256 !== second.fingerprint256 && publicKeyOf(home.files.testPem) !== publicKeyOf(other.files.testPem),
      );

      // Everything the worker writes, at its most verbose, after connections, a reload refused for a
      // damaged key (the error path that handles key material), a good reload, a dump and a switch.
      const pem = readFileSync(home.files.testPem, 'utf8');
      const damagedPem = join(home.home, 'damaged.pem');
      writeFileSync(damagedPem, pem.replace(PRIVATE_KEY_BLOCK, (block) => block.replace(/\n([A-Za-z0-9+/]{10})/, '\n!!!!!!!!!!')), { mode: 0o600 });
      const valid = readFileSync(home.files.config, 'utf8');
      editConfig(home, replacingOption('cert', [`    cert = ${damagedPem}`]));
      const refused = await home.cli('reload-config');
      assert.notEqual(refused.code, 0, `a damaged key is refused\n${formatResult(refused)}`);
      writeFileSync(home.files.config, valid);
      editConfig(home, withGlobalLines(['debug = 7']));
      assert.equal((await home.cli('reload-config')).code, 0);
      await tlsEchoProbe(home.acceptPort);
      const dump = await home.cli('log-conn', ['--json']);
      assert.equal(dump.code, 0, formatResult(dump));
      assert.equal((await home.cli('switch-logfile')).code, 0);
      await tlsEchoProbe(home.acceptPort);
      const status = await home.cli('status', ['--json']);
      const written = [
        ...listLogFiles(home.files.log).map((file) => ({ file, text: readText(file) })),
        { file: home.files.state, text: readText(home.files.state) },
        { file: home.files.syslst, text: readText(home.files.syslst) },
        { file: 'status --json', text: status.stdout + status.stderr },
        { file: 'log-conn --json', text: dump.stdout + dump.stderr },
        { file: 'reload-config (damaged key)', text: refused.stdout + refused.stderr },
      ];
      const leaks: string[] = [];
      for (const keyFile of [home.files.testPem, home.files.serverPem, damagedPem]) {
        const block = PRIVATE_KEY_BLOCK.exec(readFileSync(keyFile, 'utf8'));
        assert.ok(block?.[2] !== undefined, `${keyFile} holds a PEM private key`);
        const bodyLines = block[2].split('\n').map((line) => line.trim()).filter((line) => line.length >= 16);
        for (const { file, text } of written) {
          if (/PRIVATE KEY/.test(text)) leaks.push(`${file}: "PRIVATE KEY"`);
          const hits = bodyLines.filter((line) => text.includes(line)).length;
          if (hits > 0) leaks.push(`${file}: ${hits} line(s) of the key body of ${keyFile}`);
        }
      }
      const bytes = written.reduce((sum, entry) => sum + entry.text.length, 0);
      book.check('10 private key in log, state file, SYSLST, status, log-conn', `${leaks.length} leaks in ${written.length} outputs (${bytes} bytes at debug 7)`, '0', leaks.length === 0 && bytes > 0, leaks.join('\n'));
      book.assertAll();
    } finally {
      await cleanup.run();
    }
  });
});
