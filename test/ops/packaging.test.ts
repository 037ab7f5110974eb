// stunnelctl installs as users install CLIs: `npm pack` in a copy of the sources (prepack builds it),
// `npm install -g --prefix TMP` of the tarball (dependencies from the registry), then the installed
// binary: --version, its man page, and install / start / status / stop on free loopback ports with a
// TLS round trip through the worker it started, which runs from the installed package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import { PROJECT_ROOT } from '../helpers/paths.js';
import { getFreePort } from '../helpers/ports.js';
import { formatResult, isProcessAlive, readProcessArgv, runCommand, stopPid, type CommandResult } from '../helpers/processes.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { openNodeTlsSession } from '../helpers/tls-peers.js';

const NPM_TIMEOUT_MS = 240_000;

interface PackageManifest {
  name: string;
  version: string;
  files: string[];
}

const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as PackageManifest;

/** npm run from `npm test` inherits npm_* settings of that run; the operator's npm has none. */
const createNpmEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE_OPTIONS'));

/** The sources as a fresh checkout has them (no dist/), with the project's node_modules for tsc. */
const copySources = (target: string): void => {
  mkdirSync(target);
  const entries = new Set(['package.json', 'package-lock.json', 'tsconfig.json', 'src', ...manifest.files.filter((entry) => !entry.startsWith('dist'))]);
  for (const entry of entries) {
    if (existsSync(join(PROJECT_ROOT, entry))) cpSync(join(PROJECT_ROOT, entry), join(target, entry), { recursive: true });
  }
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(target, 'node_modules'));
};

const npm = (args: readonly string[], cwd: string): Promise<CommandResult> =>
  runCommand('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env: createNpmEnv(), timeoutMs: NPM_TIMEOUT_MS });

test('npm pack, npm install -g of the tarball in a clean prefix, then the installed stunnelctl runs a worker', { timeout: 2 * NPM_TIMEOUT_MS + 60_000 }, async () => {
  const dir = makeTempDir('packaging');
  const backend = await startEchoServer();
  const pidFile = join(dir, 'home', 'stunnel.pid');
  try {
    const sources = join(dir, 'sources');
    copySources(sources);
    const packDir = join(dir, 'pack');
    mkdirSync(packDir);
    const pack = await npm(['pack', '--pack-destination', packDir], sources);
    assert.equal(pack.code, 0, formatResult(pack));
    assert.ok(existsSync(join(sources, 'dist', 'src', 'cli', 'main.js')), 'prepack built the package');
    const tarball = join(packDir, `${manifest.name}-${manifest.version}.tgz`);
    assert.deepEqual(readdirSync(packDir), [`${manifest.name}-${manifest.version}.tgz`]);

    const listing = await runCommand('tar', ['-tzf', tarball]);
    const packed = new Set(listing.stdout.split('\n').filter((line) => line !== ''));
    for (const file of ['dist/src/cli/main.js', 'dist/src/worker/main.js', 'templates/stunnel.conf', 'templates/stunnel.service', 'templates/stunnel-foreground.service', 'templates/stunnel.logrotate', 'procedures/STUNNEL.START', 'procedures/lib/procedure.sh', 'man/stunnelctl.1', 'package.json']) {
      assert.ok(packed.has(`package/${file}`), `the tarball has ${file}`);
    }
    assert.equal([...packed].some((file) => file.startsWith('package/dist/test/') || file.startsWith('package/src/')), false, 'no tests, no TypeScript sources');

    const prefix = join(dir, 'prefix');
    const installed = await npm(['install', '--global', '--prefix', prefix, tarball], dir);
    assert.equal(installed.code, 0, formatResult(installed));
    const binary = join(prefix, 'bin', 'stunnelctl');
    const version = await runCommand(binary, ['--version']);
    assert.equal(version.code, 0, formatResult(version));
    assert.equal(version.stdout.trim(), manifest.version);
    assert.ok(existsSync(join(prefix, 'share', 'man', 'man1', 'stunnelctl.1')), 'npm installed the man page');

    const home = join(dir, 'home');
    const acceptPort = await getFreePort();
    const stunnelctl = (...args: string[]): Promise<CommandResult> => runCommand(binary, [...args, '--home', home]);
    const install = await stunnelctl('install', '--naming', 'posix', '--accept', `127.0.0.1:${acceptPort}`, '--connect', `127.0.0.1:${backend.port}`, '--systemd');
    assert.equal(install.code, 0, formatResult(install));
    const start = await stunnelctl('start');
    assert.equal(start.code, 0, formatResult(start));
    const status = await stunnelctl('status', '--json');
    assert.equal(status.code, 0, formatResult(status));
    const { pid, state } = JSON.parse(status.stdout) as { pid: number; state: string };
    assert.equal(state, 'running');
    const installedEntry = join(prefix, 'lib', 'node_modules', manifest.name, 'dist', 'src', 'cli', 'main.js');
    assert.ok(readProcessArgv(pid).includes(installedEntry), `the worker runs the installed package: ${readProcessArgv(pid).join(' ')}`);
    assert.match(readFileSync(join(home, 'stunnel.service'), 'utf8'), new RegExp(`^ExecStart=\\S+ ${installedEntry.replace(/[.]/g, '\\.')} start `, 'm'));
    const session = await openNodeTlsSession(acceptPort);
    assert.equal((await session.echo('through the installed package\n')).toString(), 'through the installed package\n');
    await session.close();
    const stop = await stunnelctl('stop');
    assert.equal(stop.code, 0, formatResult(stop));
    assert.equal(isProcessAlive(pid), false);
    assert.equal((await stunnelctl('status')).code, 3);
  } finally {
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid > 0 && readProcessArgv(pid).includes('run')) await stopPid(pid);
    }
    await backend.close();
    removeTempDir(dir);
  }
});
