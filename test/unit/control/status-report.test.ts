// status without a worker: unknown (no home), stopped, and dead (pid file of a gone or foreign pid).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installHome } from '../../../src/control/home-install.js';
import { loadHome } from '../../../src/control/home.js';
import { collectStatus } from '../../../src/control/status-report.js';
import { startProcess } from '../../helpers/processes.js';

let root = '';
let home = '';

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'stunnelctl-status-'));
  home = join(root, 'home');
  await installHome({ directory: home, scheme: 'posix', level: '001', accept: '127.0.0.1:1', connect: '127.0.0.1:2', force: false });
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

test('no home: unknown', () => {
  const report = collectStatus(join(root, 'nothing'));
  assert.equal(report.state, 'unknown');
  assert.match(report.detail ?? '', /no stunnelctl home/);
});

test('an installed home without a pid file: stopped, with every file named', () => {
  const report = collectStatus(home);
  assert.equal(report.state, 'stopped');
  assert.equal(report.pid, null);
  assert.deepEqual(Object.keys(report.files).sort(), ['config', 'home', 'jobClasses', 'jobFile', 'log', 'pid', 'serverPem', 'state', 'syslst', 'testPem']);
  assert.equal(report.files.pid, join(home, 'stunnel.pid'));
});

test('a pid file naming a gone process or an unrelated one: dead', async () => {
  const { files } = loadHome(home);
  const gone = startProcess('true', []);
  await gone.exited;
  writeFileSync(files.pid, `${gone.pid}\n`);
  assert.equal(collectStatus(home).state, 'dead');
  writeFileSync(files.pid, `${process.pid}\n`);
  const report = collectStatus(home);
  assert.equal(report.state, 'dead');
  assert.match(report.detail ?? '', /is not "stunnelctl run/);
});
