// The CLI starts fast because each command loads its work only when it runs: `status`, `--version`
// and help must not load node-forge (key generation), execa (launching), proper-lockfile (the lock),
// prom-client or the whole of date-fns. Proven on the built CLI with a module resolve hook that
// records every module the process imports (wall times are not asserted: the machine is noisy).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_PATH } from '../../helpers/paths.js';
import { formatResult, runCommand } from '../../helpers/processes.js';

const IMPORT_LOG_VARIABLE = 'STUNNELCTL_TEST_IMPORT_LOG';

// Runs in Node's loader thread: appends the URL of every resolved import to the log file.
const HOOKS_SOURCE = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  const log = process.env.${IMPORT_LOG_VARIABLE};
  if (log) appendFileSync(log, result.url + '\\n');
  return result;
}`;
const REGISTER_SOURCE = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS_SOURCE)}`)});`;
const IMPORT_FLAG = `--import=data:text/javascript,${encodeURIComponent(REGISTER_SOURCE)}`;

/** Modules a fast command must not load, by the part of their URL that names them. */
const HEAVY_MODULES: ReadonlyArray<readonly [string, RegExp]> = [
  ['node-forge', /\/node_modules\/node-forge\//],
  ['execa', /\/node_modules\/execa\//],
  ['proper-lockfile', /\/node_modules\/proper-lockfile\//],
  ['prom-client', /\/node_modules\/prom-client\//],
  ['the whole of date-fns', /\/node_modules\/date-fns\/index\.js$/],
];

let root = '';
let home = '';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'stunnelctl-lazy-'));
  home = join(root, 'home');
  const install = await runCommand(process.execPath, [CLI_PATH, 'install', '--home', home, '--naming', 'posix', '--accept', '127.0.0.1:1', '--connect', '127.0.0.1:2']);
  assert.equal(install.code, 0, formatResult(install));
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

let runs = 0;

/** Runs the built CLI with the hook; returns the URLs it imported and its exit code. */
const recordImports = async (args: readonly string[]): Promise<{ urls: string[]; code: number | null }> => {
  runs += 1;
  const log = join(root, `imports-${runs}.log`);
  const result = await runCommand(process.execPath, [IMPORT_FLAG, CLI_PATH, ...args], { env: { ...process.env, [IMPORT_LOG_VARIABLE]: log } });
  const urls = readFileSync(log, 'utf8').split('\n').filter((line) => line !== '');
  return { urls, code: result.code };
};

const findHeavy = (urls: readonly string[]): string[] =>
  HEAVY_MODULES.filter(([, pattern]) => urls.some((url) => pattern.test(url))).map(([name]) => name);

test('the hook sees what a command loads: make-self-signed-cert loads node-forge', async () => {
  const { urls, code } = await recordImports(['make-self-signed-cert', '--out', join(root, 'probe.pem'), '--key-type', 'ec']);
  assert.equal(code, 0);
  assert.ok(findHeavy(urls).includes('node-forge'), 'without this, the tests below could not fail');
});

for (const args of [['status'], ['status', '--json'], ['--version'], ['help', 'start'], ['start', '--help'], ['completion', 'bash']]) {
  test(`stunnelctl ${args.join(' ')} loads none of ${HEAVY_MODULES.map(([name]) => name).join(', ')}`, async () => {
    const { urls } = await recordImports([...args, ...(args[0] === 'status' ? ['--home', home] : [])]);
    assert.ok(urls.some((url) => url.endsWith('/cli/program.js')), 'the CLI itself was recorded');
    assert.deepEqual(findHeavy(urls), []);
  });
}

test('status loads its own work (the action module) only when it runs', async () => {
  const help = await recordImports(['help', 'status']);
  assert.equal(help.urls.some((url) => url.endsWith('/cli/actions/status.js')), false);
  const status = await recordImports(['status', '--home', home]);
  assert.equal(status.code, 3);
  assert.equal(status.urls.some((url) => url.endsWith('/cli/actions/status.js')), true);
});
