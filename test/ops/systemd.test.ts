// The systemd units `install --systemd` writes: `systemd-analyze verify` (Debian's systemd) accepts
// both without a word, for both naming schemes; they carry the home's pid file and the job class's
// limits; and the commands in the detached unit really start, reload and stop the worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEchoServer } from '../helpers/echo-server.js';
import { createHome, type TestHome } from '../helpers/home.js';
import { readJobClassTable } from '../helpers/job-classes.js';
import { getFreePort } from '../helpers/ports.js';
import { formatResult, runCommand, type CommandResult } from '../helpers/processes.js';

const verify = (...units: string[]): Promise<CommandResult> => runCommand('systemd-analyze', ['verify', ...units]);

/** `Key=value` lines of a unit file, by key (a key may repeat). */
const readUnitSettings = (file: string): Map<string, string[]> => {
  const settings = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match === null) continue;
    const [, key = '', value = ''] = match;
    settings.set(key, [...(settings.get(key) ?? []), value]);
  }
  return settings;
};

const setting = (settings: Map<string, string[]>, key: string): string => {
  const values = settings.get(key);
  assert.equal(values?.length, 1, `exactly one ${key}=`);
  return values?.[0] ?? '';
};

/** The words of a unit command line without quotes (the test's paths have no blanks). */
const splitCommand = (line: string): string[] => line.split(' ').filter((word) => word !== '');

for (const naming of ['bs2000', 'posix'] as const) {
  test(`systemd-analyze verify accepts both units of a ${naming} home, which carry its pid file and job class`, async () => {
    const home = await createHome({ acceptPort: await getFreePort(), connectPort: await getFreePort(), installArgs: ['--naming', naming] });
    try {
      const install = await home.cli('install', ['--systemd', '--job-class', 'batch']);
      assert.equal(install.code, 0, formatResult(install));
      const unitNames = naming === 'bs2000' ? ['stunnel-001.service', 'stunnel-001-foreground.service'] : ['stunnel.service', 'stunnel-foreground.service'];
      const [detachedUnit = '', foregroundUnit = ''] = unitNames.map((name) => join(home.home, name));
      assert.match(install.stdout, new RegExp(`systemctl link ${detachedUnit.replace(/[.]/g, '\\.')}`));
      const result = await verify(detachedUnit, foregroundUnit);
      assert.equal(result.code, 0, formatResult(result));
      assert.equal(result.stderr, '', 'not a single warning');
      assert.equal(result.stdout, '');

      const batch = readJobClassTable(home.files.jobClasses).get('*BATCH');
      assert.ok(batch !== undefined);
      const detached = readUnitSettings(detachedUnit);
      assert.equal(setting(detached, 'Type'), 'forking');
      assert.equal(setting(detached, 'PIDFile'), home.files.pid);
      assert.equal(setting(detached, 'LimitNOFILE'), String(batch.nofile));
      assert.equal(setting(detached, 'Restart'), 'on-failure');
      assert.deepEqual(splitCommand(setting(detached, 'ExecStart')).slice(-5), ['start', '--home', home.home, '--job-class', '*BATCH']);
      assert.deepEqual(splitCommand(setting(detached, 'ExecStop')).slice(-3), ['stop', '--home', home.home]);
      assert.deepEqual(splitCommand(setting(detached, 'ExecReload')).slice(-3), ['reload-config', '--home', home.home]);
      const foreground = readUnitSettings(foregroundUnit);
      assert.equal(setting(foreground, 'Type'), 'simple');
      assert.deepEqual(splitCommand(setting(foreground, 'ExecStart')).slice(-2), ['run', home.files.config]);
      assert.equal(setting(foreground, 'LimitNOFILE'), String(batch.nofile));
      assert.equal(setting(foreground, 'Nice'), String(batch.nice));
      assert.equal(setting(foreground, 'Environment'), 'STUNNELCTL_JOB_CLASS=*BATCH');
    } finally {
      await home.cleanup();
    }
  });
}

test('systemd-analyze verify is not a formality: a unit whose ExecStart binary is missing fails', async () => {
  const home = await createHome({ acceptPort: await getFreePort(), connectPort: await getFreePort(), installArgs: ['--naming', 'posix', '--systemd'] });
  try {
    const unit = join(home.home, 'stunnel.service');
    const broken = join(home.dir, 'broken.service');
    writeFileSync(broken, readFileSync(unit, 'utf8').replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node'));
    const result = await verify(broken);
    assert.notEqual(result.code, 0, formatResult(result));
    assert.match(result.stderr, /nonexistent\/node/);
  } finally {
    await home.cleanup();
  }
});

test("the detached unit's ExecStart, ExecReload and ExecStop run the worker as systemd would", async () => {
  const backend = await startEchoServer();
  let home: TestHome | undefined;
  try {
    home = await createHome({ acceptPort: await getFreePort(), connectPort: backend.port, installArgs: ['--naming', 'posix', '--systemd'] });
    const unit = readUnitSettings(join(home.home, 'stunnel.service'));
    const run = async (key: string): Promise<CommandResult> => {
      const [command = '', ...args] = splitCommand(setting(unit, key));
      const result = await runCommand(command, args);
      assert.equal(result.code, 0, `${key}: ${formatResult(result)}`);
      return result;
    };
    await run('ExecStart');
    // What Type=forking reads once ExecStart has returned: the pid file names the running worker.
    const pid = Number(readFileSync(setting(unit, 'PIDFile'), 'utf8').trim());
    const { json: running } = await home.status();
    assert.equal(running.state, 'running');
    assert.equal(running.pid, pid);
    assert.equal(running.jobClass, '*STD');
    await run('ExecReload');
    assert.equal((await home.status()).json.configGeneration, 2);
    await run('ExecStop');
    assert.equal((await home.status()).json.state, 'stopped');
  } finally {
    await home?.cleanup();
    await backend.close();
  }
});
