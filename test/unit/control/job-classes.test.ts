// The job-class table: the shipped template, class lookup, and every parse error as FILE:LINE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StunnelctlError } from '../../../src/errors.js';
import { loadJobClasses, parseJobClasses, resolveJobClass } from '../../../src/control/job-classes.js';
import { loadTemplate, renderTemplate } from '../../../src/control/templates.js';

const FILE = '/h/job-classes.conf';

const parseTemplate = () => parseJobClasses(renderTemplate(loadTemplate('jobClasses'), { HOME: '/h' }), FILE);

test('the template defines *STD, *BATCH (lower priority) and *HIGH (more files)', () => {
  const { table, problems } = parseTemplate();
  assert.deepEqual(problems, []);
  const std = resolveJobClass(table, undefined);
  const batch = resolveJobClass(table, '*BATCH');
  const high = resolveJobClass(table, '*HIGH');
  assert.equal(std.name, '*STD');
  assert.ok(batch.nice > std.nice, 'BATCH runs at a lower priority');
  assert.ok(high.nofile > std.nofile, 'HIGH has a higher open-file limit');
});

test('class names are case-insensitive and the * may be left out', () => {
  const { table } = parseTemplate();
  for (const spelling of ['*batch', 'BATCH', 'batch', ' *Batch ']) assert.equal(resolveJobClass(table, spelling).name, '*BATCH');
});

test('an unknown class is a usage error that lists the known ones', () => {
  const { table } = parseTemplate();
  assert.throws(
    () => resolveJobClass(table, 'EXPRESS'),
    (error: unknown) =>
      error instanceof StunnelctlError &&
      error.code === 'SCTL_ERR_JOB_CLASS_UNKNOWN' &&
      error.exitCode === 2 &&
      error.message.includes('*STD, *BATCH, *HIGH'),
  );
});

test('every problem is reported at once as FILE:LINE: message', () => {
  const text = [
    'nice = 1', // 1: outside a section
    '[*STD]', // 2
    'nice = 0', // 3
    'nofile = lots', // 4: not an integer (but written: [*STD] does not also "lack" it)
    'colour = blue', // 5: unknown key
    '[*std]', // 6: duplicate class (case-insensitive)
    '[*FAST]', // 7: lacks nofile
    'nice = -21', // 8: out of range
    'nice = 5', // 9: the first nice was rejected, so this one counts
    'what is this', // 10: neither section nor key = value
    '[*SLOW]', // 11
    'nice = 19', // 12
    'nofile = 1024', // 13
    'nofile = 2048', // 14: set twice
  ].join('\n');
  const { problems } = parseJobClasses(text, FILE);
  assert.deepEqual(
    problems.map((problem) => problem.slice(0, problem.indexOf(':', FILE.length + 1) + 1)),
    [1, 4, 5, 6, 8, 10, 14, 7].map((line) => `${FILE}:${line}:`),
  );
  assert.match(problems.find((problem) => problem.startsWith(`${FILE}:5:`)) ?? '', /unknown key "colour"/);
  assert.match(problems.find((problem) => problem.startsWith(`${FILE}:8:`)) ?? '', /nice must be from -20 to 19/);
  assert.match(problems.find((problem) => problem.startsWith(`${FILE}:7:`)) ?? '', /\[\*FAST\] lacks nofile/);
});

test('an empty table is an error', () => {
  assert.deepEqual(parseJobClasses('; nothing\n', FILE).problems, [`${FILE}: no job class is defined`]);
});

test('loading a broken table reports each problem, then fails with exit 6', () => {
  const directory = mkdtempSync(join(tmpdir(), 'stunnelctl-job-classes-'));
  try {
    const file = join(directory, 'job-classes.conf');
    writeFileSync(file, '[*STD]\nnice = 0\nnofile = 8\n');
    const reported: string[] = [];
    assert.throws(
      () => loadJobClasses(file, (line) => reported.push(line)),
      (error: unknown) => error instanceof StunnelctlError && error.code === 'SCTL_ERR_JOB_CLASSES_INVALID' && error.exitCode === 6,
    );
    assert.deepEqual(reported, [`${file}:3: "nofile = 8": nofile must be from 16 to 1048576`]);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
