// stunnelctl(1) is made from the same declarations as --help: the committed man/stunnelctl.1 must
// be what `npm run man` writes now, and man(1) must render it without a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAN_PAGE_PATH } from '../../../src/control/package-files.js';
import { renderProgramManPage } from '../../../src/cli/write-man-page.js';
import { createDocumentationProgram } from '../../../src/cli/program.js';
import { PROJECT_ROOT } from '../../helpers/paths.js';
import { formatResult, runCommand } from '../../helpers/processes.js';

test('man/stunnelctl.1 is up to date with the CLI (run npm run man and commit it when this fails)', () => {
  assert.equal(readFileSync(join(PROJECT_ROOT, MAN_PAGE_PATH), 'utf8'), renderProgramManPage());
});

test('man ./man/stunnelctl.1 renders every command, its examples and exit codes, without a warning', async () => {
  const result = await runCommand('man', ['--warnings', `./${MAN_PAGE_PATH}`], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100', MAN_KEEP_FORMATTING: '' },
  });
  assert.equal(result.code, 0, formatResult(result));
  assert.equal(result.stderr, '', 'groff has no warning');
  const text = result.stdout.replace(/.\x08/g, '');
  for (const section of ['NAME', 'SYNOPSIS', 'COMMANDS', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'SEE ALSO']) assert.match(text, new RegExp(`^${section}$`, 'm'));
  for (const command of createDocumentationProgram().commands) assert.match(text, new RegExp(`^ {3}${command.name()}$`, 'm'));
  assert.match(text, /stunnelctl start --home \/srv\/stunnel --job-class '\*BATCH'/);
  assert.match(text, /SYSDAT\.TCP-IP-AP\.nnn\.STUNNEL\.CONF, stunnel\.conf/);
});
