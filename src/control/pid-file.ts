// The pid file (the BS2000 "TSN" file): written by the worker once every accept is bound, read by
// the CLI to find it. The CLI only ever removes a pid file it has proven stale.
import { readFileSync, unlinkSync } from 'node:fs';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';

export type PidFileContent =
  | { kind: 'missing' }
  | { kind: 'pid'; pid: number }
  | { kind: 'invalid'; text: string };

export const parsePidFileText = (text: string): PidFileContent => {
  const trimmed = text.trim();
  if (!/^\d{1,10}$/.test(trimmed)) return { kind: 'invalid', text: trimmed };
  const pid = Number(trimmed);
  return pid > 0 ? { kind: 'pid', pid } : { kind: 'invalid', text: trimmed };
};

export const readPidFile = (path: string): PidFileContent => {
  try {
    return parsePidFileText(readFileSync(path, 'utf8'));
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') return { kind: 'missing' };
    throw new StunnelctlError('SCTL_ERR_IO', `cannot read the pid file ${path}: ${getSystemErrorCode(error) ?? String(error)}`, {
      cause: error,
    });
  }
};

/** Removes the pid file if it still holds exactly what was read before (another command may have replaced it). */
export const removePidFileIfUnchanged = (path: string, seen: PidFileContent): boolean => {
  const now = readPidFile(path);
  if (now.kind === 'missing' || JSON.stringify(now) !== JSON.stringify(seen)) return false;
  try {
    unlinkSync(path);
    return true;
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') return false;
    throw new StunnelctlError('SCTL_ERR_IO', `cannot remove the pid file ${path}: ${getSystemErrorCode(error) ?? String(error)}`, {
      cause: error,
    });
  }
};
