// install: the files of a home from templates/, a configuration the worker's own loader accepts, and
// never a clobbered file (an existing home is reported; stray files block; --force keeps backups).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StunnelctlError } from '../../../src/errors.js';
import { loadConfiguration } from '../../../src/config/load.js';
import { installHome, type InstallRequest } from '../../../src/control/home-install.js';
import { loadHome } from '../../../src/control/home.js';

let root = '';

before(() => {
  root = mkdtempSync(join(tmpdir(), 'stunnelctl-install-'));
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

const request = (directory: string, overrides: Partial<InstallRequest> = {}): InstallRequest => ({
  directory,
  scheme: 'bs2000',
  level: '001',
  accept: '127.0.0.1:19994',
  connect: '127.0.0.1:19102',
  force: false,
  ...overrides,
});

test('a bs2000 home gets every file, with its absolute names in the configuration', async () => {
  const directory = join(root, 'bs2000');
  const outcome = await installHome(request(directory));
  assert.equal(outcome.kind, 'installed');
  const { files } = loadHome(directory);
  for (const path of [files.config, files.jobFile, files.jobClasses, files.testPem, files.manifest]) assert.ok(existsSync(path), path);
  assert.equal(statSync(files.testPem).mode & 0o777, 0o600);
  assert.equal(statSync(files.jobFile).mode & 0o777, 0o755);
  const { config, diagnostics } = loadConfiguration(files.config);
  assert.deepEqual(diagnostics, []);
  assert.equal(config?.global.pid, files.pid);
  assert.equal(config?.global.output, files.log);
  assert.equal(config?.services[0]?.name, 'MT9750');
  assert.equal(config?.services[0]?.cert, files.testPem);
  const text = readFileSync(files.config, 'utf8');
  assert.match(text, /^sslVersionMin = TLSv1\.2$/m);
  assert.match(text, /^;debug = debug$/m);
  assert.match(text, /^;stack = 100000$/m);
  assert.match(readFileSync(files.jobFile, 'utf8'), new RegExp(`run '${files.config.replace(/[.]/g, '\\.')}'$`, 'm'));
  assert.ok(outcome.kind === 'installed' && outcome.certificate.testOnly, 'the certificate is marked test-only');
});

test('each install generates its own key', async () => {
  const first = await installHome(request(join(root, 'unique-1'), { scheme: 'posix' }));
  const second = await installHome(request(join(root, 'unique-2'), { scheme: 'posix' }));
  assert.ok(first.kind === 'installed' && second.kind === 'installed');
  assert.notEqual(first.certificate.publicKeyFingerprintSha256, second.certificate.publicKeyFingerprintSha256);
});

test('an existing home is reported and nothing in it changes', async () => {
  const directory = join(root, 'again');
  await installHome(request(directory));
  const { files } = loadHome(directory);
  writeFileSync(files.config, '; edited by the operator\n');
  const before = readdirSync(directory).sort();
  const outcome = await installHome(request(directory, { scheme: 'posix' }));
  assert.equal(outcome.kind, 'exists');
  assert.deepEqual(readdirSync(directory).sort(), before);
  assert.equal(readFileSync(files.config, 'utf8'), '; edited by the operator\n');
});

test('stray files without a manifest block the install, and nothing is written', async () => {
  const directory = join(root, 'stray');
  mkdirSync(directory);
  writeFileSync(join(directory, 'stunnel.conf'), 'mine');
  await assert.rejects(
    installHome(request(directory, { scheme: 'posix' })),
    (error: unknown) => error instanceof StunnelctlError && error.code === 'SCTL_ERR_FILE_EXISTS' && error.message.includes('stunnel.conf'),
  );
  assert.deepEqual(readdirSync(directory), ['stunnel.conf']);
});

test('--force rewrites the files and keeps a backup of each replaced one', async () => {
  const directory = join(root, 'forced');
  await installHome(request(directory, { scheme: 'posix' }));
  writeFileSync(join(directory, 'stunnel.conf'), '; edited\n');
  const outcome = await installHome(request(directory, { scheme: 'posix', force: true }));
  assert.ok(outcome.kind === 'installed');
  const backup = outcome.backups.find((entry) => entry.path.endsWith('/stunnel.conf'));
  assert.ok(backup !== undefined);
  assert.equal(readFileSync(backup.backup, 'utf8'), '; edited\n');
  assert.ok(outcome.backups.some((entry) => entry.path.endsWith('/stunnel.pem')), 'the old key is backed up too');
  assert.match(readFileSync(join(directory, 'stunnel.conf'), 'utf8'), /^\[MT9750\]$/m);
});
