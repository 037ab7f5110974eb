// The exit helper every test file's process loads (test/helpers/exit-when-done.ts): a real Node
// process with it keeps its exit code and runs each of its other `exit` listeners once, with the code.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HELPER = fileURLToPath(new URL('../helpers/exit-when-done.js', import.meta.url));

const runWithHelper = (script: string): { status: number | null; stdout: string } => {
  const result = spawnSync(process.execPath, ['--import', HELPER, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout };
};

describe('exit-when-done (test harness)', () => {
  it('keeps the exit code of a process whose loop runs empty, and runs its other exit listeners once', () => {
    const { status, stdout } = runWithHelper(`
      process.on('exit', (code) => process.stdout.write('first ' + code + ';'));
      process.on('exit', (code) => process.stdout.write('second ' + code + ';'));
      process.exitCode = 3;
      setTimeout(() => undefined, 10);
    `);
    assert.equal(status, 3);
    assert.equal(stdout, 'first 3;second 3;');
  });

  it('keeps the code of an explicit process.exit and of an uncaught error', () => {
    assert.equal(runWithHelper('process.exit(5)').status, 5);
    assert.equal(runWithHelper('setTimeout(() => { throw new Error("boom"); }, 1)').status, 1);
    assert.equal(runWithHelper('').status, 0);
  });
});
