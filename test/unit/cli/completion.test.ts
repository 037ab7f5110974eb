// `stunnelctl completion bash`, sourced in a real bash and driven as bash drives it (COMP_WORDS,
// COMP_CWORD, then the completion function): subcommands, each command's options as declared,
// choices, and the job classes of the home named on the line, read from its table.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDocumentationProgram } from '../../../src/cli/program.js';
import { CLI_PATH } from '../../helpers/paths.js';
import { formatResult, runCommand } from '../../helpers/processes.js';

let root = '';
let script = '';
let home = '';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'stunnelctl-completion-'));
  home = join(root, 'home');
  const install = await runCommand(process.execPath, [CLI_PATH, 'install', '--home', home, '--naming', 'posix', '--accept', '127.0.0.1:1', '--connect', '127.0.0.1:2']);
  assert.equal(install.code, 0, formatResult(install));
  // The operator's own class: completion must read the table, not know the template's classes.
  appendFileSync(join(home, 'job-classes.conf'), '\n[*NIGHT]\nnice = 15\nnofile = 512\n');
  const printed = await runCommand(process.execPath, [CLI_PATH, 'completion', 'bash']);
  assert.equal(printed.code, 0, formatResult(printed));
  script = join(root, 'stunnelctl.bash');
  writeFileSync(script, printed.stdout);
  mkdirSync(join(root, 'homes', 'alpha'), { recursive: true });
  mkdirSync(join(root, 'homes', 'beta'), { recursive: true });
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** Completes the last of `words` as bash would (the cursor at its end); returns COMPREPLY. */
const complete = async (...words: string[]): Promise<string[]> => {
  const shell = [
    'set -u',
    `source ${quote(script)}`,
    // COMP_WORDS[0] is what the operator typed; make it this build.
    `stunnelctl() { ${quote(process.execPath)} ${quote(CLI_PATH)} "$@"; }`,
    `COMP_WORDS=(stunnelctl ${words.map(quote).join(' ')})`,
    `COMP_CWORD=${words.length}`,
    '_stunnelctl',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const result = await runCommand('bash', ['-c', shell], { env: { ...process.env, STUNNELCTL_HOME: join(root, 'nowhere') } });
  assert.equal(result.code, 0, formatResult(result));
  assert.equal(result.stderr, '');
  return result.stdout.split('\n').filter((line) => line !== '');
};

const program = createDocumentationProgram();
const longFlagsOf = (name: string): string[] => {
  const command = program.commands.find((candidate) => candidate.name() === name);
  assert.ok(command !== undefined);
  return [...command.options.filter((option) => !option.hidden).map((option) => option.long ?? ''), '--help'].sort();
};

test('the script registers _stunnelctl for stunnelctl and passes bash -n', async () => {
  const result = await runCommand('bash', ['-c', `source ${quote(script)}; complete -p stunnelctl`]);
  assert.equal(result.code, 0, formatResult(result));
  assert.equal(result.stdout.trim(), 'complete -F _stunnelctl stunnelctl');
  assert.equal((await runCommand('bash', ['-n', script])).code, 0);
});

test('subcommands: all of them, by prefix, and after help', async () => {
  assert.deepEqual((await complete('')).sort(), [...program.commands.map((command) => command.name()), 'help'].sort());
  assert.deepEqual(await complete('st'), ['start', 'stop', 'status']);
  assert.deepEqual(await complete('help', 're'), ['reload-config']);
  assert.deepEqual(await complete('--'), ['--help', '--version']);
});

test("each command's options are the ones it declares", async () => {
  for (const name of ['install', 'start', 'stop', 'status', 'make-self-signed-cert']) {
    assert.deepEqual((await complete(name, '--')).sort(), longFlagsOf(name), name);
  }
  assert.deepEqual(await complete('stop', '--d'), ['--drain']);
});

test('choices of an option: --naming, --key-type, --digest; and the shells of completion', async () => {
  assert.deepEqual(await complete('install', '--naming', ''), ['bs2000', 'posix']);
  assert.deepEqual(await complete('make-self-signed-cert', '--key-type', ''), ['rsa', 'ec']);
  assert.deepEqual(await complete('make-self-signed-cert', '--digest', 'sha3'), ['sha384']);
  assert.deepEqual(await complete('completion', ''), ['bash']);
});

test("--job-class offers the job classes of the home on the line (without the *, which bash would glob)", async () => {
  assert.deepEqual(await complete('start', '--home', home, '--job-class', ''), ['STD', 'BATCH', 'HIGH', 'NIGHT']);
  assert.deepEqual(await complete('start', '--home', home, '--job-class', 'B'), ['BATCH']);
  assert.deepEqual(await complete('start', '--job-class', ''), [], 'the default home of this test does not exist');
});

test('--home offers directories', async () => {
  assert.deepEqual((await complete('status', '--home', `${join(root, 'homes')}/`)).sort(), [join(root, 'homes', 'alpha'), join(root, 'homes', 'beta')]);
});
