// Help an operator can learn from: `stunnelctl help CMD` and `CMD --help` show the same text, with a
// description, examples that are real stunnelctl command lines, and that command's exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../../src/cli/program.js';
import { createDocumentationProgram } from '../../../src/cli/program.js';
import { getCommandHelp } from '../../../src/cli/command-help.js';
import { ERROR_CODES, EXIT, STATUS_EXIT } from '../../../src/errors.js';

const capture = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['node', 'stunnelctl', ...args], {
    writeOut: (text) => {
      stdout += text;
    },
    writeErr: (text) => {
      stderr += text;
    },
    env: {},
  });
  return { code, stdout, stderr };
};

const program = createDocumentationProgram();
// `run` is the worker's: main.ts hands `stunnelctl run ...` (so `run --help` too) to it before commander.
const names = program.commands.map((command) => command.name());

test('every command has examples and exit codes', () => {
  assert.deepEqual(names, ['install', 'start', 'stop', 'status', 'switch-logfile', 'log-conn', 'reload-config', 'make-self-signed-cert', 'run', 'completion']);
  for (const command of program.commands) {
    const help = getCommandHelp(command);
    assert.ok(help !== undefined, command.name());
    assert.ok(help.examples.length > 0, `${command.name()} has examples`);
    for (const example of help.examples) assert.match(example.command, /\bstunnelctl\b|^systemctl |^logrotate /, example.command);
    assert.ok(help.exitCodes.some((row) => row.code === 0), `${command.name()} documents success`);
  }
});

test('exit codes in help are ones stunnelctl can return', () => {
  const possible = new Set<number>([...Object.values(EXIT), ...Object.values(STATUS_EXIT), ...Object.values(ERROR_CODES).map(([code]) => code)]);
  for (const command of program.commands) {
    for (const row of getCommandHelp(command)?.exitCodes ?? []) assert.ok(possible.has(row.code), `${command.name()}: ${row.code}`);
  }
});

for (const name of names.filter((candidate) => candidate !== 'run')) {
  test(`stunnelctl help ${name} = ${name} --help: description, examples, exit codes`, async () => {
    const viaHelp = await capture('help', name);
    const viaOption = await capture(name, '--help');
    assert.equal(viaHelp.code, 0);
    assert.equal(viaOption.code, 0);
    assert.equal(viaHelp.stdout, viaOption.stdout);
    const command = program.commands.find((candidate) => candidate.name() === name);
    const firstWords = command?.description().split(' ').slice(0, 3).join(' ') ?? '';
    assert.ok(viaHelp.stdout.includes(firstWords), 'the description');
    assert.match(viaHelp.stdout, /^Examples:\n {2}\$ .*stunnelctl /m);
    assert.match(viaHelp.stdout, /^Exit codes:\n {3}0 {2}\S/m);
  });
}

test('the overview names help COMMAND and the exit codes', async () => {
  const overview = await capture('--help');
  assert.equal(overview.code, 0);
  assert.match(overview.stdout, /stunnelctl help COMMAND shows a command's options, examples and exit codes/);
  assert.match(overview.stdout, /^Exit codes: 0 success/m);
});
