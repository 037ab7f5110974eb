// runCli in-process: exit codes and messages of usage errors, missing homes, stopped workers,
// invalid configurations and key files, as SPEC.md §3 lists them (no worker is started here).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/program.js';
import type { CliIo } from '../../../src/cli/io.js';

let root = '';
let home = '';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

const run = async (...args: string[]): Promise<Outcome> => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    writeOut: (text) => {
      stdout += text;
    },
    writeErr: (text) => {
      stderr += text;
    },
    env: { HOME: root },
  };
  const code = await runCli(['node', 'stunnelctl', ...args], io);
  return { code, stdout, stderr };
};

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'stunnelctl-cli-'));
  home = join(root, 'home');
  const installed = await run('install', '--home', home, '--naming', 'posix', '--accept', '127.0.0.1:19994', '--connect', '127.0.0.1:19102');
  assert.equal(installed.code, 0, installed.stderr);
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

test('install prints the test-only warning, both fingerprints and the next command', async () => {
  const result = await run('install', '--home', join(root, 'fresh'));
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^installed home .*fresh \(naming bs2000, level 001\)$/m);
  assert.match(result.stdout, /TESTS ONLY/);
  assert.match(result.stdout, /certificate SHA-256 +([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
  assert.match(result.stdout, /public key SHA-256 +([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
  assert.match(result.stdout, /^next: stunnelctl start --home /m);
});

test('install over an existing home: exit 0, reported, nothing changed', async () => {
  const config = join(home, 'stunnel.conf');
  const before = readFileSync(config, 'utf8');
  const result = await run('install', '--home', home, '--accept', '9999');
  assert.equal(result.code, 0);
  assert.match(result.stdout, /already installed .* nothing was changed/);
  assert.equal(readFileSync(config, 'utf8'), before);
});

for (const args of [['bogus'], ['start', '--bogus'], ['stop', '--timeout', 'soon'], ['install', '--level', '1'], ['install', '--naming', 'vms'], ['status', 'extra']]) {
  test(`usage error: stunnelctl ${args.join(' ')} -> exit 2`, async () => {
    const result = await run(...args);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^stunnelctl( [a-z-]+)?: /m);
  });
}

test('--help and --version exit 0', async () => {
  assert.equal((await run('--help')).code, 0);
  assert.equal((await run('start', '--help')).code, 0);
  assert.match((await run('start', '--help')).stdout, /STUNNELCTL_HOME/);
  assert.equal((await run('--version')).code, 0);
});

test('no home: start / stop / reload-config exit 6 and name the next command', async () => {
  for (const command of ['start', 'stop', 'reload-config', 'log-conn', 'switch-logfile']) {
    const result = await run(command, '--home', join(root, 'missing'));
    assert.equal(result.code, 6, `${command}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`^stunnelctl ${command}: no stunnelctl home in `, 'm'));
    assert.match(result.stderr, /^hint: run stunnelctl install --home /m);
  }
});

test('the home comes from $STUNNELCTL_HOME when --home is absent', async () => {
  let stdout = '';
  const code = await runCli(['node', 'stunnelctl', 'status', '--json'], {
    writeOut: (text) => {
      stdout += text;
    },
    writeErr: () => undefined,
    env: { STUNNELCTL_HOME: home },
  });
  assert.equal(code, 3);
  assert.equal((JSON.parse(stdout) as { files: { home: string } }).files.home, home);
});

test('status: 4 without a home, 3 when stopped, with the JSON shape', async () => {
  const unknown = await run('status', '--home', join(root, 'missing'), '--json');
  assert.equal(unknown.code, 4);
  assert.equal((JSON.parse(unknown.stdout) as { state: string }).state, 'unknown');
  const stopped = await run('status', '--home', home, '--json');
  assert.equal(stopped.code, 3);
  const report = JSON.parse(stopped.stdout) as Record<string, unknown>;
  for (const key of ['state', 'pid', 'uptimeSeconds', 'jobClass', 'configFile', 'configGeneration', 'lastReload', 'services', 'connections', 'files']) {
    assert.ok(key in report, key);
  }
  assert.equal(report.state, 'stopped');
  assert.match((await run('status', '--home', home)).stdout, /^not running/);
});

test('stopped worker: stop exits 0 with a note; log-conn, switch-logfile, reload-config exit 7', async () => {
  const stop = await run('stop', '--home', home);
  assert.equal(stop.code, 0);
  assert.match(stop.stdout, /^not running; nothing to do$/m);
  for (const command of ['log-conn', 'switch-logfile', 'reload-config']) {
    const result = await run(command, '--home', home);
    assert.equal(result.code, 7, `${command}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`^stunnelctl ${command}: the worker of .* is not running`, 'm'));
    assert.match(result.stderr, /^hint: start it with stunnelctl start$/m);
  }
});

test('a stale pid file is cleared by stop with a note', async () => {
  writeFileSync(join(home, 'stunnel.pid'), `${process.pid}\n`);
  const result = await run('stop', '--home', home);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^note: removed stale pid file .* was not signalled$/m);
  assert.equal(existsSync(join(home, 'stunnel.pid')), false);
});

test('an unknown job class: exit 2, the known classes listed, nothing started', async () => {
  const result = await run('start', '--home', home, '--job-class', 'EXPRESS');
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown job class "EXPRESS"; known classes: \*STD, \*BATCH, \*HIGH/);
  assert.equal(existsSync(join(home, 'stunnel.job.log')), false);
});

test('an invalid configuration: start prints FILE:LINE, exits 6 and launches nothing', async () => {
  const config = join(home, 'stunnel.conf');
  const original = readFileSync(config, 'utf8');
  try {
    appendFileSync(config, 'noSuchOption = 1\n');
    const line = original.split('\n').length;
    const start = await run('start', '--home', home);
    assert.equal(start.code, 6);
    assert.match(start.stderr, new RegExp(`^${config}:${line}: "noSuchOption = 1": `, 'm'));
    assert.match(start.stderr, /^stunnelctl start: the configuration .* has 1 error$/m);
    assert.equal(existsSync(join(home, 'stunnel.job.log')), false, 'no job was launched');
  } finally {
    writeFileSync(config, original);
  }
});

test('a configuration without pid = is refused by start with exit 6', async () => {
  const config = join(home, 'stunnel.conf');
  const original = readFileSync(config, 'utf8');
  try {
    writeFileSync(config, original.replace(/^pid .*$/m, ''));
    const result = await run('start', '--home', home);
    assert.equal(result.code, 6);
    assert.match(result.stderr, /has no "pid =" line/);
  } finally {
    writeFileSync(config, original);
  }
});

test('make-self-signed-cert: 0600, fingerprints, pin; no clobber without --force; backup with it', async () => {
  const out = join(root, 'server.pem');
  const first = await run('make-self-signed-cert', '--out', out, '--cn', 'mt9750.example', '--days', '30');
  assert.equal(first.code, 0, first.stderr);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  assert.match(first.stdout, /^wrote .*server\.pem: RSA 2048-bit key/m);
  assert.match(first.stdout, /public key pin +sha256\/\/[A-Za-z0-9+/]{43}=$/m);
  const pem = readFileSync(out, 'utf8');
  const again = await run('make-self-signed-cert', '--out', out);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists/);
  assert.equal(readFileSync(out, 'utf8'), pem);
  const forced = await run('make-self-signed-cert', '--out', out, '--force', '--key-type', 'ec');
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /^note: the replaced file was kept as /m);
  const usage = await run('make-self-signed-cert', '--out', join(root, 'x.pem'), '--curve', 'secp384r1');
  assert.equal(usage.code, 2);
});

test('make-self-signed-cert without --out writes the home\'s SERVER.PEM', async () => {
  const result = await run('make-self-signed-cert', '--home', home);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(existsSync(join(home, 'server.pem')));
  assert.match(result.stdout, /^next: set "cert = .*server\.pem"/m);
});
