// Writing the files of a home that the operator may edit (configuration, job file, job classes):
// atomically, never over an existing file unless forced, and then only after keeping a backup.
import { chmodSync, closeSync, constants, copyFileSync, fsyncSync, linkSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import { formatBackupPath } from './home-naming.js';

/** Backups of the same second get `.1`, `.2`, ...; this bounds the search. */
const MAX_BACKUP_ATTEMPTS = 100;
/** link(2) is refused by some filesystems (vfat, some FUSE): fall back to rename there. */
const LINK_UNSUPPORTED_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export interface OperatorFileOptions {
  mode: number;
  force: boolean;
  now: Date;
}

export const isPresent = (path: string): boolean => {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') return false;
    throw error;
  }
};

export const createFileExistsError = (paths: readonly string[]): StunnelctlError =>
  new StunnelctlError('SCTL_ERR_FILE_EXISTS', `${paths.join(', ')} already exist${paths.length === 1 ? 's' : ''} and ${paths.length === 1 ? 'was' : 'were'} left as ${paths.length === 1 ? 'it is' : 'they are'}`, {
    hint: 'pass --force to replace (a backup of each replaced file is kept)',
  });

/** Copies `path` to a backup name no file has yet; returns that name. */
export const backUpFile = (path: string, now: Date): string => {
  for (let attempt = 0; attempt < MAX_BACKUP_ATTEMPTS; attempt += 1) {
    const backupPath = formatBackupPath(path, now, attempt);
    try {
      copyFileSync(path, backupPath, constants.COPYFILE_EXCL);
      return backupPath;
    } catch (error) {
      if (getSystemErrorCode(error) !== 'EEXIST') throw error;
    }
  }
  throw new StunnelctlError('SCTL_ERR_IO', `cannot back up ${path}: ${MAX_BACKUP_ATTEMPTS} backups of this second exist`, {
    hint: `remove old ${basename(path)}.bak-* files`,
  });
};

const writeTempFile = (path: string, content: string, mode: number): string => {
  const tempPath = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fd = openSync(tempPath, 'wx', mode);
  try {
    // The umask only narrows open's mode; the job file must be executable whatever it is.
    chmodSync(tempPath, mode);
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tempPath;
};

/** Moves the temp file into place; without force, link(2) refuses (EEXIST) where rename(2) would replace. */
const installTempFile = (tempPath: string, path: string, force: boolean): void => {
  if (force) {
    renameSync(tempPath, path);
    return;
  }
  try {
    linkSync(tempPath, path);
  } catch (error) {
    const code = getSystemErrorCode(error);
    if (code === 'EEXIST') throw createFileExistsError([path]);
    if (!LINK_UNSUPPORTED_CODES.has(code ?? '')) throw error;
    renameSync(tempPath, path);
  }
};

/** Writes `content` to `path` atomically; returns the backup kept of a replaced file, if any. */
export const writeOperatorFile = (path: string, content: string, options: OperatorFileOptions): string | undefined => {
  const existed = isPresent(path);
  if (existed && !options.force) throw createFileExistsError([path]);
  const tempPath = writeTempFile(path, content, options.mode);
  try {
    const backupPath = existed ? backUpFile(path, options.now) : undefined;
    installTempFile(tempPath, path, options.force);
    return backupPath;
  } finally {
    // After a rename the temp name is gone; after a link it is a second name to drop.
    if (isPresent(tempPath)) unlinkSync(tempPath);
  }
};
