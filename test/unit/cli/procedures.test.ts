// The BS2000 procedure scripts: operands NAME=VALUE become stunnelctl options (run with bash and a
// fake STUNNELCTL that prints its arguments), unknown operands are usage errors (exit 2), and
// stunnelctl's exit code is the procedure's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROCEDURES_DIR } from '../../helpers/paths.js';
import { runCommand } from '../../helpers/processes.js';

let directory = '';
let fake = '';
let calledMarker = '';

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'stunnelctl-procedures-'));
  fake = join(directory, 'fake-stunnelctl');
  calledMarker = join(directory, 'called');
  // Prints one argument per line, marks that it ran, exits with $FAKE_EXIT.
  writeFileSync(fake, `#!/usr/bin/env bash\ntouch '${calledMarker}'\nprintf '%s\\n' "$@"\nexit "\${FAKE_EXIT:-0}"\n`);
  chmodSync(fake, 0o755);
});

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

const runProcedure = (name: string, operands: string[], env: NodeJS.ProcessEnv = {}) => {
  rmSync(calledMarker, { force: true });
  return runCommand('bash', [join(PROCEDURES_DIR, name), ...operands], { env: { ...process.env, STUNNELCTL: fake, ...env } });
};

const PROCEDURES: ReadonlyArray<readonly [string, string]> = [
  ['STUNNEL.INSTALL', 'install'],
  ['STUNNEL.START', 'start'],
  ['STUNNEL.STOP', 'stop'],
  ['STUNNEL.SWITCH-LOGFILE', 'switch-logfile'],
  ['STUNNEL.LOG-CONN', 'log-conn'],
  ['STUNNEL.RELOAD-CONFIG', 'reload-config'],
  ['MAKE.SELF-SIGNED-CERT', 'make-self-signed-cert'],
];

test('STUNNEL.START maps JOB-CLASS, HOME and TIMEOUT, names case-insensitive', async () => {
  const result = await runProcedure('STUNNEL.START', ['JOB-CLASS=*STD', 'home=/srv/stunnel', 'Timeout=5']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.stdout.split('\n').filter(Boolean), ['start', '--job-class', '*STD', '--home', '/srv/stunnel', '--timeout', '5']);
});

test('MAKE.SELF-SIGNED-CERT maps lists, flags and lower-cased choices; values keep their spaces', async () => {
  const result = await runProcedure('MAKE.SELF-SIGNED-CERT', ['KEY-TYPE=EC', 'SAN=a.example,10.0.0.1', 'FORCE=*YES', 'CN=my host', 'OUTPUT=/tmp/x.pem', 'DIGEST=SHA384']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.stdout.split('\n').filter(Boolean), [
    'make-self-signed-cert',
    '--key-type', 'ec',
    '--san', 'a.example', '--san', '10.0.0.1',
    '--force',
    '--cn', 'my host',
    '--out', '/tmp/x.pem',
    '--digest', 'sha384',
  ]);
});

test('STUNNEL.INSTALL SYSTEMD=*YES JOB-CLASS=*HIGH LOGROTATE=*YES maps to the system-file options', async () => {
  const result = await runProcedure('STUNNEL.INSTALL', ['SYSTEMD=*YES', 'JOB-CLASS=*HIGH', 'LOGROTATE=*YES']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.stdout.split('\n').filter(Boolean), ['install', '--systemd', '--job-class', '*HIGH', '--logrotate']);
});

test('FORCE=*NO passes nothing; a flag takes only *YES or *NO', async () => {
  const no = await runProcedure('STUNNEL.INSTALL', ['FORCE=*NO', 'NAMING=POSIX']);
  assert.deepEqual(no.stdout.split('\n').filter(Boolean), ['install', '--naming', 'posix']);
  const bad = await runProcedure('STUNNEL.INSTALL', ['FORCE=MAYBE']);
  assert.equal(bad.code, 2);
  assert.equal(existsSync(calledMarker), false);
});

for (const [operands, reason] of [
  [['BOGUS=1'], /unknown operand 'BOGUS'/],
  [['JOB-CLASS'], /is not NAME=VALUE/],
  [['JOB-CLASS='], /needs a value/],
  [['TIMEOUT=1', 'TIMEOUT=2'], /given twice/],
] as const) {
  test(`STUNNEL.START ${operands.join(' ')}: usage error, exit 2, stunnelctl not run`, async () => {
    const result = await runProcedure('STUNNEL.START', [...operands]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, reason);
    assert.match(result.stderr, /^usage: STUNNEL\.START/m);
    assert.equal(existsSync(calledMarker), false);
  });
}

test("stunnelctl's exit code is the procedure's", async () => {
  const result = await runProcedure('STUNNEL.LOG-CONN', [], { FAKE_EXIT: '7' });
  assert.equal(result.code, 7);
  assert.deepEqual(result.stdout.split('\n').filter(Boolean), ['log-conn']);
});

for (const [name, subcommand] of PROCEDURES) {
  test(`${name} --help and HELP print its usage and run nothing; without operands it runs stunnelctl ${subcommand}`, async () => {
    for (const help of ['--help', 'HELP']) {
      const result = await runProcedure(name, [help]);
      assert.equal(result.code, 0);
      assert.match(result.stdout, new RegExp(`^usage: ${name.replace('.', '\\.')} `));
      assert.match(result.stdout, /HOME=VALUE/);
      assert.equal(existsSync(calledMarker), false);
    }
    const plain = await runProcedure(name, []);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, `${subcommand}\n`);
  });
}

test('without $STUNNELCTL the built CLI of this package is run', async () => {
  const env = { ...process.env };
  delete env.STUNNELCTL;
  const result = await runCommand('bash', [join(PROCEDURES_DIR, 'STUNNEL.STOP'), `HOME=${join(directory, 'no-home')}`], { env });
  assert.equal(result.code, 6, result.stderr);
  assert.match(result.stderr, /^stunnelctl stop: no stunnelctl home in /m);
});
