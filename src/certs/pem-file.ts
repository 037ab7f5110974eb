// Writes key material as SPEC §2 demands: mode 0600 whatever the umask, atomically (a temp file in
// the same directory, fsync, rename), never over an existing file unless forced, and then only
// after keeping a timestamped backup of it.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, lstat, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { format } from 'date-fns';
import { StunnelctlError, getSystemErrorCode, isStunnelctlError } from '../errors.js';

export const KEY_MATERIAL_MODE = 0o600;
const BACKUP_TIMESTAMP_FORMAT = 'yyyyMMdd-HHmmss';
/** Backups of the same second get `.1`, `.2`, ... appended; this bounds the search. */
const MAX_BACKUP_ATTEMPTS = 100;
/** link(2) is refused by some filesystems (vfat, some FUSE): fall back to rename / copy there. */
const LINK_UNSUPPORTED_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
/** fsync on a directory is refused by some filesystems; the rename itself has still happened. */
const DIRECTORY_SYNC_UNSUPPORTED_CODES = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EBADF']);

export interface WriteKeyMaterialOptions {
  /** Replace an existing file, keeping it as `<path>.bak-<yyyyMMdd-HHmmss>`. */
  force?: boolean;
  /** The time stamped on the backup's name (default: now). */
  now?: Date;
}

export interface WriteKeyMaterialResult {
  readonly path: string;
  /** Where the replaced file was kept; undefined when nothing was replaced. */
  readonly backupPath: string | undefined;
}

export const formatBackupPath = (path: string, now: Date): string =>
  `${path}.bak-${format(now, BACKUP_TIMESTAMP_FORMAT)}`;

const createFileExistsError = (path: string): StunnelctlError =>
  new StunnelctlError('SCTL_ERR_FILE_EXISTS', `${path} already exists and was left as it is`, {
    hint: `Pass --force to replace it (the old file is kept as ${path}.bak-<${BACKUP_TIMESTAMP_FORMAT}>)`,
  });

const toIoError = (action: string, path: string, error: unknown): StunnelctlError => {
  if (isStunnelctlError(error)) {
    return error;
  }
  const code = getSystemErrorCode(error);
  const hint =
    code === 'ENOENT'
      ? `Check that the directory ${dirname(path)} exists`
      : `Check that this user may write in ${dirname(path)} and that the disk is not full`;
  return new StunnelctlError('SCTL_ERR_IO', `Cannot ${action} ${path} (${code ?? 'error'})`, { hint, cause: error });
};

/** Whether `path` is free, a regular file (which may be replaced), or anything else (which is not). */
const getExistingEntry = async (path: string): Promise<'absent' | 'file' | 'other'> => {
  try {
    return (await lstat(path)).isFile() ? 'file' : 'other';
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') {
      return 'absent';
    }
    throw error;
  }
};

const removeIfPresent = async (path: string): Promise<void> => {
  try {
    await unlink(path);
  } catch (error) {
    if (getSystemErrorCode(error) !== 'ENOENT') {
      throw error;
    }
  }
};

/** Creates the temp file, mode 0600, fsynced. chmod after open: the umask narrows open's mode, maybe to 0400. */
const writeTempFile = async (path: string, content: string | Uint8Array): Promise<string> => {
  const tempPath = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const handle = await open(tempPath, 'wx', KEY_MATERIAL_MODE);
  try {
    await handle.chmod(KEY_MATERIAL_MODE);
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tempPath;
};

const linkOrCopy = async (source: string, target: string): Promise<void> => {
  try {
    await link(source, target);
  } catch (error) {
    if (!LINK_UNSUPPORTED_CODES.has(getSystemErrorCode(error) ?? '')) {
      throw error;
    }
    await copyFile(source, target, constants.COPYFILE_EXCL);
  }
};

/** Keeps `path` under a backup name no file has yet (a hard link, or a copy where links are refused). */
const backUpExistingFile = async (path: string, now: Date): Promise<string> => {
  const base = formatBackupPath(path, now);
  for (let attempt = 0; attempt < MAX_BACKUP_ATTEMPTS; attempt += 1) {
    const backupPath = attempt === 0 ? base : `${base}.${attempt}`;
    try {
      await linkOrCopy(path, backupPath);
    } catch (error) {
      if (getSystemErrorCode(error) === 'EEXIST') {
        continue;
      }
      throw error;
    }
    // A backup of a key must not be more readable than the key.
    await chmod(backupPath, KEY_MATERIAL_MODE);
    return backupPath;
  }
  throw new StunnelctlError(
    'SCTL_ERR_IO',
    `Cannot back up ${path}: ${MAX_BACKUP_ATTEMPTS} backups of this second exist`,
    { hint: `Remove old ${basename(path)}.bak-* files` },
  );
};

/** Moves the temp file into place; without force, atomically refuses to replace a file that appeared meanwhile. */
const installTempFile = async (tempPath: string, path: string, force: boolean): Promise<void> => {
  if (force) {
    await rename(tempPath, path);
    return;
  }
  try {
    // link(2) fails with EEXIST instead of replacing, unlike rename(2).
    await link(tempPath, path);
  } catch (error) {
    const code = getSystemErrorCode(error);
    if (code === 'EEXIST') {
      throw createFileExistsError(path);
    }
    if (!LINK_UNSUPPORTED_CODES.has(code ?? '')) {
      throw error;
    }
    await rename(tempPath, path);
  }
};

const syncDirectory = async (directory: string): Promise<void> => {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } catch (error) {
    if (!DIRECTORY_SYNC_UNSUPPORTED_CODES.has(getSystemErrorCode(error) ?? '')) {
      throw error;
    }
  } finally {
    await handle.close();
  }
};

const checkMode = async (path: string): Promise<void> => {
  const mode = (await stat(path)).mode & 0o777;
  if (mode !== KEY_MATERIAL_MODE) {
    throw new StunnelctlError('SCTL_ERR_IO', `${path} has mode 0${mode.toString(8)} after writing, not 0600`, {
      hint: `Check the file system and any default ACL of ${dirname(path)}, then "chmod 600 ${path}"`,
    });
  }
};

/** Writes `content` to `path` (mode 0600, atomically); SCTL_ERR_FILE_EXISTS if it exists and not `force`. */
export const writeKeyMaterialFile = async (
  path: string,
  content: string | Uint8Array,
  options: WriteKeyMaterialOptions = {},
): Promise<WriteKeyMaterialResult> => {
  const { force = false, now = new Date() } = options;
  let tempPath: string | undefined;
  try {
    const existing = await getExistingEntry(path);
    if (existing !== 'absent' && !force) {
      throw createFileExistsError(path);
    }
    if (existing === 'other') {
      throw new StunnelctlError('SCTL_ERR_IO', `${path} is not a regular file (a symbolic link or directory?)`, {
        hint: `Move ${path} out of the way yourself, then run the command again`,
      });
    }
    tempPath = await writeTempFile(path, content);
    const backupPath = existing === 'file' ? await backUpExistingFile(path, now) : undefined;
    await installTempFile(tempPath, path, force);
    await syncDirectory(dirname(path));
    await checkMode(path);
    return { path, backupPath };
  } catch (error) {
    throw toIoError('write', path, error);
  } finally {
    // After a rename the temp name is gone; after a link it is a second name to drop.
    if (tempPath !== undefined) {
      await removeIfPresent(tempPath);
    }
  }
};
