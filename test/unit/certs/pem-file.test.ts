// writeKeyMaterialFile: mode 0600 on disk whatever the umask, no temp file left behind, no
// clobbering without force, and with force a timestamped backup holding the old bytes.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { format } from 'date-fns';
import { writeKeyMaterialFile } from '../../../src/certs/pem-file.js';
import { isStunnelctlError } from '../../../src/errors.js';

const OLD_BYTES = '-----BEGIN PRIVATE KEY-----\nold\n-----END PRIVATE KEY-----\n';
const NEW_BYTES = '-----BEGIN PRIVATE KEY-----\nnew\n-----END PRIVATE KEY-----\n';

const modeOf = (path: string): number => statSync(path).mode & 0o777;

/** `stat` as an operator would run it: the octal access bits. */
const statMode = (path: string): string => execFileSync('stat', ['-c', '%a', path]).toString('utf8').trim();

const withUmask = async <T>(mask: number, action: () => Promise<T>): Promise<T> => {
  const previous = process.umask(mask);
  try {
    return await action();
  } finally {
    process.umask(previous);
  }
};

const assertStunnelctlError = async (
  promise: Promise<unknown>,
  code: string,
  fragments: readonly string[],
): Promise<void> => {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isStunnelctlError(error), 'a StunnelctlError');
    assert.equal(error.code, code);
    const text = `${error.message} / ${error.hint ?? ''}`;
    for (const fragment of fragments) {
      assert.ok(text.includes(fragment), `message or hint says ${JSON.stringify(fragment)}: ${text}`);
    }
    return true;
  });
};

describe('writeKeyMaterialFile', () => {
  let root: string;
  let caseNumber = 0;
  /** A fresh directory per test, so a directory listing shows exactly what the test wrote. */
  const freshDirectory = (): string => {
    caseNumber += 1;
    const directory = join(root, `case-${caseNumber}`);
    mkdirSync(directory);
    return directory;
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'stunnelctl-certs-pem-file-'));
  });

  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  for (const mask of [0o022, 0o000, 0o077, 0o277]) {
    const umaskText = `0${mask.toString(8).padStart(3, '0')}`;
    it(`creates the file with mode 0600 under umask ${umaskText}, leaving no temp file`, async () => {
      const directory = freshDirectory();
      const path = join(directory, 'SYSDAT.TCP-IP-AP.001.SERVER.PEM');
      const result = await withUmask(mask, () => writeKeyMaterialFile(path, NEW_BYTES));
      assert.deepEqual(result, { path, backupPath: undefined });
      assert.equal(readFileSync(path, 'utf8'), NEW_BYTES);
      assert.equal(statMode(path), '600');
      assert.deepEqual(readdirSync(directory), [basename(path)]);
    });
  }

  it('writes bytes exactly as given', async () => {
    const path = join(freshDirectory(), 'binary.pem');
    const bytes = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a]);
    await writeKeyMaterialFile(path, bytes);
    assert.deepEqual(readFileSync(path), bytes);
  });

  it('refuses to replace an existing file without force, and leaves it intact', async () => {
    const directory = freshDirectory();
    const path = join(directory, 'stunnel.pem');
    writeFileSync(path, OLD_BYTES, { mode: 0o644 });
    await assertStunnelctlError(writeKeyMaterialFile(path, NEW_BYTES), 'SCTL_ERR_FILE_EXISTS', [path, '--force']);
    assert.equal(readFileSync(path, 'utf8'), OLD_BYTES);
    assert.equal(modeOf(path), 0o644, 'the operator\'s file is not touched at all');
    assert.deepEqual(readdirSync(directory), ['stunnel.pem']);
  });

  it('with force, replaces the file and keeps the old bytes as <path>.bak-<yyyyMMdd-HHmmss>', async () => {
    const directory = freshDirectory();
    const path = join(directory, 'stunnel.pem');
    writeFileSync(path, OLD_BYTES, { mode: 0o644 });
    const now = new Date(2024, 1, 29, 13, 5, 9);
    const result = await writeKeyMaterialFile(path, NEW_BYTES, { force: true, now });
    assert.equal(result.backupPath, `${path}.bak-20240229-130509`);
    assert.equal(result.backupPath, `${path}.bak-${format(now, 'yyyyMMdd-HHmmss')}`);
    assert.equal(readFileSync(path, 'utf8'), NEW_BYTES);
    assert.equal(readFileSync(result.backupPath, 'utf8'), OLD_BYTES);
    assert.equal(statMode(path), '600');
    assert.equal(statMode(result.backupPath), '600', 'a key backup is no more readable than the key');
    assert.deepEqual(readdirSync(directory).sort(), ['stunnel.pem', 'stunnel.pem.bak-20240229-130509']);
  });

  it('with force in the same second twice, keeps both backups', async () => {
    const directory = freshDirectory();
    const path = join(directory, 'stunnel.pem');
    writeFileSync(path, 'first');
    const now = new Date(2024, 0, 2, 3, 4, 5);
    const first = await writeKeyMaterialFile(path, 'second', { force: true, now });
    const second = await writeKeyMaterialFile(path, 'third', { force: true, now });
    assert.equal(first.backupPath, `${path}.bak-20240102-030405`);
    assert.equal(second.backupPath, `${path}.bak-20240102-030405.1`);
    assert.equal(readFileSync(first.backupPath, 'utf8'), 'first');
    assert.equal(readFileSync(second.backupPath, 'utf8'), 'second');
    assert.equal(readFileSync(path, 'utf8'), 'third');
  });

  it('with force on a path that is free, writes it and makes no backup', async () => {
    const directory = freshDirectory();
    const path = join(directory, 'stunnel.pem');
    assert.deepEqual(await writeKeyMaterialFile(path, NEW_BYTES, { force: true }), { path, backupPath: undefined });
    assert.deepEqual(readdirSync(directory), ['stunnel.pem']);
  });

  it('does not replace a directory, even with force', async () => {
    const directory = freshDirectory();
    const path = join(directory, 'stunnel.pem');
    mkdirSync(path);
    await assertStunnelctlError(writeKeyMaterialFile(path, NEW_BYTES), 'SCTL_ERR_FILE_EXISTS', [path]);
    const forced = writeKeyMaterialFile(path, NEW_BYTES, { force: true });
    await assertStunnelctlError(forced, 'SCTL_ERR_IO', [path, 'not a regular file']);
    assert.deepEqual(readdirSync(directory), ['stunnel.pem']);
  });

  it('names the file and its directory when the directory does not exist', async () => {
    const directory = join(freshDirectory(), 'missing');
    const path = join(directory, 'stunnel.pem');
    await assertStunnelctlError(writeKeyMaterialFile(path, NEW_BYTES), 'SCTL_ERR_IO', [path, directory]);
  });

  const runAsRoot = process.getuid?.() === 0;
  const skipAsRoot = runAsRoot ? 'root ignores directory permissions' : false;
  it('fails with SCTL_ERR_IO, leaving nothing, in a directory it may not write', { skip: skipAsRoot }, async () => {
    const directory = freshDirectory();
    const path = join(directory, 'stunnel.pem');
    chmodSync(directory, 0o500);
    try {
      await assertStunnelctlError(writeKeyMaterialFile(path, NEW_BYTES), 'SCTL_ERR_IO', [path, 'EACCES']);
      assert.deepEqual(readdirSync(directory), []);
    } finally {
      chmodSync(directory, 0o700);
    }
  });
});
