// The stunnel configuration language: syntax, inheritance, accumulation, includes and diagnostics.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDiagnostic, loadConfiguration } from '../../../src/config/load.js';

let dir: string;
let pem: string;

const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const errorsOf = (text: string): string[] => {
  const result = loadConfiguration(write('bad.conf', text));
  assert.equal(result.config, undefined, 'expected the configuration to be refused');
  return result.diagnostics.map(formatDiagnostic);
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sctl-config-'));
  pem = join(dir, 'test.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '2', '-keyout', pem, '-out', pem], { stdio: 'ignore' });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('loadConfiguration', () => {
  it('reads the BS2000 initial file: globals, [MT9750] service, socket keep-alive, TIMEOUTidle = -1', () => {
    const file = write('bs2000.conf', [
      `output = ${dir}/SYSLOG.TCP-IP-AP.001.STUNNEL`,
      `pid    = ${dir}/SYSDAT.TCP-IP-AP.001.STUNNEL.TSN`,
      'sslVersionMin = TLSv1.2',
      '; Uncomment the following line if you need more log information',
      ';debug = debug',
      ';stack = 100000',
      '# hash comments too',
      '[MT9750]',
      '    accept = 994',
      '    connect = 127.0.0.1:102',
      `    cert = ${pem}`,
      '    TIMEOUTidle = -1',
      '    socket = a:SO_KEEPALIVE=120',
    ].join('\n'));
    const { config, diagnostics } = loadConfiguration(file);
    assert.deepEqual(diagnostics, []);
    assert.ok(config);
    assert.equal(config.global.pid, `${dir}/SYSDAT.TCP-IP-AP.001.STUNNEL.TSN`);
    const [service] = config.services;
    assert.ok(service);
    assert.equal(service.name, 'MT9750');
    assert.deepEqual(service.accept.map((endpoint) => endpoint.text), ['994']);
    assert.deepEqual(service.accept[0], { kind: 'inet', text: '994', host: '0.0.0.0', port: 994 });
    assert.deepEqual(service.connect[0], { kind: 'inet', text: '127.0.0.1:102', host: '127.0.0.1', port: 102 });
    assert.equal(service.minVersion, 'TLSv1.2');
    assert.equal(service.timeouts.idle, -1);
    assert.ok(service.socketOptions.some((option) => option.side === 'a' && option.option === 'SO_KEEPALIVE' && option.enabled && option.intervalSeconds === 120));
  });

  it('treats option names case-insensitively, inherits global service options and accumulates lists', () => {
    const file = write('inherit.conf', [
      'TIMEOUTidle = 30',
      'accept = 127.0.0.1:20000',
      `CERT = ${pem}`,
      '[one]',
      'ACCEPT = 127.0.0.1:20001',
      'Connect = 20002',
      'connect = 20003',
      '[two]',
      'client = yes',
      'connect = 127.0.0.1:20004',
      'timeoutIDLE = 5',
    ].join('\n'));
    const { config, diagnostics } = loadConfiguration(file);
    assert.deepEqual(diagnostics.map(formatDiagnostic), []);
    const [one, two] = config?.services ?? [];
    assert.deepEqual(one?.accept.map((endpoint) => endpoint.text), ['127.0.0.1:20000', '127.0.0.1:20001']);
    assert.deepEqual(one?.connect.map((endpoint) => endpoint.text), ['20002', '20003']);
    assert.equal(one?.timeouts.idle, 30);
    assert.equal(two?.timeouts.idle, 5);
    assert.equal(two?.client, true);
    assert.equal(two?.cert, pem);
  });

  it('lets the last scalar line win', () => {
    const file = write('last.conf', `[s]\naccept = 1\nconnect = 2\ncert = /nonexistent\ncert = ${pem}\n`);
    const { config, diagnostics } = loadConfiguration(file);
    assert.deepEqual(diagnostics.map(formatDiagnostic), []);
    assert.equal(config?.services[0]?.cert, pem);
  });

  it('reports every problem at once as FILE:LINE: "raw line": reason', () => {
    const errors = errorsOf([
      'foreground = maybe',
      '[svc]',
      '  accept = 127.0.0.1:9',
      '  connect 127.0.0.1:17001',
      '  bogus = 1',
      '  TIMEOUTidle = 10 ; no trailing comments',
      '  pid = /tmp/x',
      `  cert = ${pem}`,
      '  connect = 9',
    ].join('\n'));
    const file = join(dir, 'bad.conf');
    assert.deepEqual(errors, [
      `${file}:1: "foreground = maybe": The argument needs to be either 'yes', 'quiet' or 'no'`,
      `${file}:4: "  connect 127.0.0.1:17001": No '=' found`,
      `${file}:5: "  bogus = 1": Specified option name is not valid here`,
      `${file}:6: "  TIMEOUTidle = 10 ; no trailing comments": Illegal idle timeout`,
      `${file}:7: "  pid = /tmp/x": Specified option name is not valid here`,
    ]);
  });

  it('bounds the values Node would mishandle: timeouts past 24 days, a session timeout past 32 bits, a retry delay past 2^31-1 ms', () => {
    // Past these bounds Node fires a timer after 1 ms (every handshake would time out at once), or
    // aborts the whole process in createSecureContext (sessionTimeout is a 32-bit number of seconds).
    const section = (lines: string[]): string => [`[s]`, 'accept = 127.0.0.1:9', 'connect = 127.0.0.1:17001', `cert = ${pem}`, ...lines].join('\n');
    const file = join(dir, 'bad.conf');
    assert.deepEqual(errorsOf(section([
      'TIMEOUTbusy = 2147484',
      'TIMEOUTidle = 2592000',
      'sessionCacheTimeout = 2147483648',
    ])), [
      `${file}:5: "TIMEOUTbusy = 2147484": Illegal busy timeout: at most 2147483 seconds (24 days); a negative value means none`,
      `${file}:6: "TIMEOUTidle = 2592000": Illegal idle timeout: at most 2147483 seconds (24 days); a negative value means none`,
      `${file}:7: "sessionCacheTimeout = 2147483648": Illegal session cache timeout: use 0 to 2147483647 seconds`,
    ]);
    const execSection = ['[x]', 'exec = /bin/cat', 'connect = 127.0.0.1:17001', 'client = yes', 'retry = 2147483648'].join('\n');
    assert.deepEqual(errorsOf(execSection), [
      `${file}:5: "retry = 2147483648": The argument needs to be either 'yes', 'no' or a number of milliseconds up to 2147483647`,
    ]);
    // At the bounds: accepted, and the TLS context is built (a session timeout Node cannot take aborts this process).
    const { config, diagnostics } = loadConfiguration(write('bounds.conf', section([
      'TIMEOUTbusy = 2147483',
      'TIMEOUTidle = 2147483',
      'TIMEOUTclose = -1',
      'sessionCacheTimeout = 2147483647',
    ])));
    assert.deepEqual(diagnostics.map(formatDiagnostic), []);
    assert.equal(config?.services[0]?.sessionCacheTimeoutSeconds, 2147483647);
    assert.equal(config?.services[0]?.timeouts.busy, 2147483);
    // "-0" reads as 0, as stunnel's atoi reads it (JavaScript's -0 made Node abort the process).
    const zero = loadConfiguration(write('zero.conf', section(['sessionCacheTimeout = -0', 'TIMEOUTidle = -0'])));
    assert.deepEqual(zero.diagnostics.map(formatDiagnostic), []);
    assert.ok(Object.is(zero.config?.services[0]?.sessionCacheTimeoutSeconds, 0), 'sessionCacheTimeout = -0 is 0, not -0');
    assert.ok(Object.is(zero.config?.services[0]?.timeouts.idle, 0), 'TIMEOUTidle = -0 is 0, not -0');
  });

  it('refuses options Node cannot honour with a clear reason instead of ignoring them', () => {
    const errors = errorsOf(`chroot = /var/empty\n[s]\naccept = 1\nconnect = 2\ncert = ${pem}\nengineId = pkcs11\nsocket = a:SO_RCVBUF=65536\n`);
    assert.match(errors[0] ?? '', /:1: "chroot = \/var\/empty": 'chroot' is not supported by stunnelctl/);
    assert.match(errors[1] ?? '', /:6: "engineId = pkcs11": 'engineId' is not supported/);
    assert.match(errors[2] ?? '', /:7: "socket = a:SO_RCVBUF=65536": Illegal socket option: SO_RCVBUF is not supported/);
  });

  it("refuses keep-alive times past Linux's limit (the kernel would refuse them, Node ignore that, and the system default apply)", () => {
    const file = join(dir, 'bad.conf');
    const errors = errorsOf(`[s]\naccept = 1\nconnect = 2\ncert = ${pem}\nsocket = a:SO_KEEPALIVE=40000\nsocket = r:TCP_KEEPIDLE=32768\nsocket = l:TCP_KEEPIDLE=0\n`);
    assert.deepEqual(errors, [
      `${file}:5: "socket = a:SO_KEEPALIVE=40000": Illegal socket option: SO_KEEPALIVE takes 2 to 32767 seconds (Linux's limit)`,
      `${file}:6: "socket = r:TCP_KEEPIDLE=32768": Illegal socket option: TCP_KEEPIDLE takes 1 to 32767 seconds (Linux's limit)`,
      `${file}:7: "socket = l:TCP_KEEPIDLE=0": Illegal socket option: TCP_KEEPIDLE takes 1 to 32767 seconds (Linux's limit)`,
    ]);
    const { diagnostics } = loadConfiguration(write('keepalive.conf', `[s]\naccept = 1\nconnect = 2\ncert = ${pem}\nsocket = a:SO_KEEPALIVE=32767\nsocket = a:SO_KEEPALIVE=120\nsocket = r:TCP_KEEPIDLE=32767\nsocket = l:SO_KEEPALIVE=0\nsocket = l:SO_KEEPALIVE=yes\n`));
    assert.deepEqual(diagnostics.map(formatDiagnostic), []);
  });

  it('checks each section when it is complete: endpoints, certificate, version range, verification', () => {
    const errors = errorsOf([
      '[noconnect]', 'accept = 1', `cert = ${pem}`,
      '[nocert]', 'accept = 2', 'connect = 3',
      '[range]', 'accept = 4', 'connect = 5', `cert = ${pem}`, 'sslVersionMin = TLSv1.3', 'sslVersionMax = TLSv1.2',
      '[verify]', 'accept = 6', 'connect = 7', `cert = ${pem}`, 'verifyChain = yes',
      '[check]', 'client = yes', 'accept = 8', 'connect = 9', 'checkHost = example.org',
    ].join('\n'));
    assert.equal(errors.length, 5, errors.join('\n'));
    assert.match(errors[0] ?? '', /:1: "\[noconnect\]": Service \[noconnect\]: Each service must define two endpoints$/);
    assert.match(errors[1] ?? '', /:4: "\[nocert\]": Service \[nocert\]: TLS server needs a certificate$/);
    assert.match(errors[2] ?? '', /Service \[range\]: Invalid protocol version range$/);
    assert.match(errors[3] ?? '', /Service \[verify\]: Either "CAfile" or "CApath" has to be configured$/);
    assert.match(errors[4] ?? '', /Service \[check\]: Either "verifyChain" or "verifyPeer" has to be enabled$/);
  });

  it('refuses a certificate file that does not exist, naming the cert line', () => {
    const errors = errorsOf('[s]\naccept = 1\nconnect = 2\ncert = /nonexistent/x.pem\n');
    assert.match(errors[0] ?? '', /:4: "cert = \/nonexistent\/x.pem": Failed to initialize TLS context: cannot read \/nonexistent\/x.pem: ENOENT/);
  });

  it('refuses a cipher list OpenSSL does not know', () => {
    const errors = errorsOf(`[s]\naccept = 1\nconnect = 2\ncert = ${pem}\nciphers = NOT-A-CIPHER\n`);
    assert.match(errors[0] ?? '', /:5: "ciphers = NOT-A-CIPHER": Failed to initialize TLS context: .*cipher/i);
  });

  it('includes every regular file of a directory in alphabetical order, with their own file names in errors', () => {
    const includeDir = join(dir, 'conf.d');
    mkdirSync(includeDir, { recursive: true });
    writeFileSync(join(includeDir, '20-b.conf'), `[b]\naccept = 127.0.0.1:20011\nconnect = 20012\ncert = ${pem}\n`);
    writeFileSync(join(includeDir, '10-a.conf'), `[a]\naccept = 127.0.0.1:20013\nconnect = 20014\ncert = ${pem}\n`);
    mkdirSync(join(includeDir, 'subdir-ignored'), { recursive: true });
    const { config, diagnostics } = loadConfiguration(write('main.conf', `debug = info\ninclude = ${includeDir}\n`));
    assert.deepEqual(diagnostics.map(formatDiagnostic), []);
    assert.deepEqual(config?.services.map((service) => service.name), ['a', 'b']);

    writeFileSync(join(includeDir, '30-bad.conf'), 'nonsense = 1\n');
    const broken = loadConfiguration(write('main2.conf', `include = ${includeDir}\n`));
    assert.match(broken.diagnostics.map(formatDiagnostic)[0] ?? '', /conf\.d\/30-bad\.conf:1: "nonsense = 1": Specified option name is not valid here/);
  });

  it('maps the obsolete verify levels to verifyChain / verifyPeer / requireCert', () => {
    const ca = `CAfile = ${pem}`;
    const load = (level: number) =>
      loadConfiguration(write(`verify${level}.conf`, `[s]\naccept = 1\nconnect = 2\ncert = ${pem}\n${ca}\nverify = ${level}\n`)).config?.services[0]?.verify;
    assert.deepEqual([0, 1, 2, 3, 4].map((level) => {
      const verify = load(level);
      return [verify?.request, verify?.verifyChain, verify?.requireCert, verify?.verifyPeer];
    }), [
      [true, false, false, false],
      [true, true, false, false],
      [true, true, true, false],
      [true, true, true, true],
      [true, false, true, true],
    ]);
  });
});
