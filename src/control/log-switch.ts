// `switch-logfile` (STUNNEL.SWITCH-LOGFILE): the log is renamed to its archived name, then the
// worker reopens it. Until it has, the worker writes on into the renamed file (same inode), so no
// line is lost or written twice; every line after the reopen goes to the new file.
import { linkSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';
import { locateWorkerFiles } from './configuration.js';
import { formatArchivedLogPath } from './home-naming.js';
import { withHomeLock, type HomeLockEvents, type HomeLockTarget } from './lock.js';
import { isPresent } from './operator-file.js';
import { requestFromWorker, requireRunningWorker } from './worker-signals.js';

/** Archives of the same second get `-2`, `-3`, ...; this bounds the search. */
const MAX_ARCHIVE_ATTEMPTS = 1000;
const LINK_UNSUPPORTED_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Renames `logPath` to `<log>.<yyyy-MM-dd.HHmmss>` (or `...-2`, `-3` when taken), never over an
 * existing file. Returns the archived path, or undefined when there is no log yet.
 */
export const archiveLogFile = (logPath: string, at: Date): string | undefined => {
  for (let attempt = 1; attempt <= MAX_ARCHIVE_ATTEMPTS; attempt += 1) {
    const archived = formatArchivedLogPath(logPath, at, attempt);
    const outcome = moveWithoutReplacing(logPath, archived);
    if (outcome === 'moved') return archived;
    if (outcome === 'no-source') return undefined;
  }
  throw new StunnelctlError('SCTL_ERR_LOG_SWITCH', `cannot archive ${logPath}: ${MAX_ARCHIVE_ATTEMPTS} archives of this second exist`, {
    hint: 'remove or move old archived logs',
  });
};

/** link + unlink rather than rename: link(2) fails with EEXIST where rename(2) would replace. */
const moveWithoutReplacing = (source: string, target: string): 'moved' | 'taken' | 'no-source' => {
  try {
    linkSync(source, target);
  } catch (error) {
    const code = getSystemErrorCode(error);
    if (code === 'EEXIST') return 'taken';
    if (code === 'ENOENT') return 'no-source';
    if (!LINK_UNSUPPORTED_CODES.has(code ?? '')) throw createSwitchError(source, error);
    // No hard links here: check, then rename (a race with another switch is prevented by the home lock).
    if (!isPresent(source)) return 'no-source';
    if (isPresent(target)) return 'taken';
    renameOrReport(source, target);
    return 'moved';
  }
  try {
    unlinkSync(source);
  } catch (error) {
    if (getSystemErrorCode(error) !== 'ENOENT') throw createSwitchError(source, error);
    // Moved away between link and unlink (logrotate renames the log outside the home lock): if it
    // has that other name, ours would show every line twice; it is the archive, ours goes.
    if (statSync(target).nlink > 1) {
      unlinkSync(target);
      return 'no-source';
    }
  }
  return 'moved';
};

const renameOrReport = (source: string, target: string): void => {
  try {
    renameSync(source, target);
  } catch (error) {
    throw createSwitchError(source, error);
  }
};

const createSwitchError = (logPath: string, error: unknown): StunnelctlError =>
  new StunnelctlError('SCTL_ERR_LOG_SWITCH', `cannot archive the log ${logPath}: ${getSystemErrorCode(error) ?? String(error)}`, {
    hint: 'check that this user may write in its directory',
    cause: error,
  });

export interface LogSwitchRequest {
  homeDirectory: string;
  lock: HomeLockTarget;
  lockWaitMs: number;
  lockEvents: HomeLockEvents;
  configPath: string;
  defaults: { pid: string; log: string };
  timeoutMs: number;
  now?: () => Date;
}

export interface LogSwitchOutcome {
  pid: number;
  logPath: string;
  /** Where the earlier lines are now; undefined when there was no log file yet. */
  archivedPath: string | undefined;
}

/** Under the home lock: archive the running worker's log, then SIGUSR1 and wait for the reopen. */
export const switchWorkerLog = (request: LogSwitchRequest): Promise<LogSwitchOutcome> =>
  withHomeLock(request.lock, { ...request.lockEvents, waitMs: request.lockWaitMs }, async () => {
    const location = locateWorkerFiles(request.configPath, request.defaults);
    const worker = requireRunningWorker(location, request.homeDirectory);
    // The file the worker really writes (it may predate an edit of `output =`).
    const logPath = worker.state.logFile ?? location.logPath;
    if (logPath === null) {
      throw new StunnelctlError('SCTL_ERR_LOG_SWITCH', 'the worker has no log file to switch: the configuration has no "output =" line', {
        hint: `its messages go to the SYSLST file; add "output = ${request.defaults.log}" and run stunnelctl reload-config`,
      });
    }
    const archivedPath = archiveLogFile(logPath, (request.now ?? (() => new Date()))());
    await requestFromWorker(worker, location.statePath, 'reopenLog', request.timeoutMs);
    return { pid: worker.pid, logPath, archivedPath };
  });
