// install writes the system files into a home (the logrotate snippet always, the systemd units with
// --systemd): never over an existing file without --force, and with --force only after a backup;
// on an existing home only the files asked for, leaving the operator's configuration alone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/program.js';

let root = '';

before(() => {
  root = mkdtempSync(join(tmpdir(), 'stunnelctl-install-system-'));
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

const run = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['node', 'stunnelctl', ...args], {
    writeOut: (text) => {
      stdout += text;
    },
    writeErr: (text) => {
      stderr += text;
    },
    env: { HOME: root },
  });
  return { code, stdout, stderr };
};

const install = (home: string, ...args: string[]) => run('install', '--home', home, '--naming', 'posix', '--accept', '127.0.0.1:1', '--connect', '127.0.0.1:2', ...args);

test('a new home gets the logrotate snippet; the units only with --systemd, and says how to link them', async () => {
  const plain = join(root, 'plain');
  assert.equal((await install(plain)).code, 0);
  assert.ok(existsSync(join(plain, 'stunnel.logrotate')));
  assert.equal(existsSync(join(plain, 'stunnel.service')), false);
  const withUnits = join(root, 'units');
  const result = await install(withUnits, '--systemd');
  assert.equal(result.code, 0, result.stderr);
  assert.ok(existsSync(join(withUnits, 'stunnel.service')));
  assert.ok(existsSync(join(withUnits, 'stunnel-foreground.service')));
  assert.match(result.stdout, new RegExp(`systemctl link ${join(withUnits, 'stunnel.service')} && systemctl enable --now stunnel\\.service`));
  assert.match(result.stdout, /^systemd units \(job class \*STD: nofile 4096, nice 0\)/m);
  assert.match(result.stdout, /install -m 0644 -o root -g root .*stunnel\.logrotate \/etc\/logrotate\.d\/stunnelctl-units$/m);
});

test('on an existing home --systemd writes only the units; again, it refuses; --force keeps backups', async () => {
  const home = join(root, 'existing');
  assert.equal((await install(home)).code, 0);
  writeFileSync(join(home, 'stunnel.conf'), readFileSync(join(home, 'stunnel.conf'), 'utf8').replace('[MT9750]', '; edited\n[MT9750]'));
  const edited = readFileSync(join(home, 'stunnel.conf'), 'utf8');
  const added = await run('install', '--home', home, '--systemd', '--job-class', 'HIGH');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /wrote its system files/);
  assert.match(readFileSync(join(home, 'stunnel.service'), 'utf8'), /^LimitNOFILE=16384$/m);
  assert.equal(readFileSync(join(home, 'stunnel.conf'), 'utf8'), edited, 'the configuration was not touched');

  const unit = join(home, 'stunnel.service');
  writeFileSync(unit, `${readFileSync(unit, 'utf8')}# mine\n`);
  const refused = await run('install', '--home', home, '--systemd');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /stunnel\.service, .*stunnel-foreground\.service already exist and were left as they are/);
  assert.match(readFileSync(unit, 'utf8'), /# mine\n$/);

  const forced = await run('install', '--home', home, '--systemd', '--job-class', 'batch', '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(readFileSync(unit, 'utf8'), /^LimitNOFILE=1024$/m);
  const backups = readdirSync(home).filter((name) => name.startsWith('stunnel.service.bak-'));
  assert.equal(backups.length, 1);
  assert.match(readFileSync(join(home, backups[0] ?? ''), 'utf8'), /# mine\n$/);
  assert.equal(readFileSync(join(home, 'stunnel.conf'), 'utf8'), edited, 'still not touched');
});

test('--logrotate on an existing home writes the snippet; an unknown job class or --job-class alone is a usage error', async () => {
  const home = join(root, 'logrotate');
  assert.equal((await install(home)).code, 0);
  rmSync(join(home, 'stunnel.logrotate'));
  const rewritten = await run('install', '--home', home, '--logrotate');
  assert.equal(rewritten.code, 0, rewritten.stderr);
  assert.ok(existsSync(join(home, 'stunnel.logrotate')));
  const unknown = await run('install', '--home', home, '--systemd', '--job-class', 'NOPE');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown job class "NOPE"; known classes: \*STD, \*BATCH, \*HIGH/);
  assert.equal(existsSync(join(home, 'stunnel.service')), false, 'nothing written');
  const alone = await run('install', '--home', home, '--job-class', 'HIGH');
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--job-class is the job class of the systemd units: add --systemd/);
});
