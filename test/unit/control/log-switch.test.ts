// Archiving the log: the timestamped name, and on a collision -2, -3, ... never over an existing file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveLogFile } from '../../../src/control/log-switch.js';

const withDirectory = (run: (directory: string) => void): void => {
  const directory = mkdtempSync(join(tmpdir(), 'stunnelctl-log-switch-'));
  try {
    run(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
};

test('the log moves to <log>.<yyyy-MM-dd.HHmmss> with its content', () => {
  withDirectory((directory) => {
    const log = join(directory, 'SYSLOG.TCP-IP-AP.001.STUNNEL');
    writeFileSync(log, 'line 1\n');
    const archived = archiveLogFile(log, new Date(2025, 10, 25, 17, 4, 5));
    assert.equal(archived, `${log}.2025-11-25.170405`);
    assert.equal(readFileSync(archived, 'utf8'), 'line 1\n');
    assert.equal(existsSync(log), false);
  });
});

test('switches within the same second get -2, -3 and leave earlier archives untouched', () => {
  withDirectory((directory) => {
    const log = join(directory, 'stunnel.log');
    const at = new Date(2025, 10, 25, 17, 4, 5);
    const archives = ['first', 'second', 'third'].map((content) => {
      writeFileSync(log, content);
      return archiveLogFile(log, at);
    });
    assert.deepEqual(archives, [`${log}.2025-11-25.170405`, `${log}.2025-11-25.170405-2`, `${log}.2025-11-25.170405-3`]);
    assert.deepEqual(archives.map((path) => readFileSync(path ?? '', 'utf8')), ['first', 'second', 'third']);
  });
});

test('a file already holding the archived name (not from a switch) is not overwritten', () => {
  withDirectory((directory) => {
    const log = join(directory, 'stunnel.log');
    const at = new Date(2025, 10, 25, 17, 4, 5);
    writeFileSync(`${log}.2025-11-25.170405`, 'operator copy');
    writeFileSync(log, 'current');
    assert.equal(archiveLogFile(log, at), `${log}.2025-11-25.170405-2`);
    assert.equal(readFileSync(`${log}.2025-11-25.170405`, 'utf8'), 'operator copy');
  });
});

test('no log file yet: nothing to archive', () => {
  withDirectory((directory) => {
    assert.equal(archiveLogFile(join(directory, 'stunnel.log'), new Date()), undefined);
  });
});
