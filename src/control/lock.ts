// The home lock: proper-lockfile's mkdir lock (`stunnelctl.lock` in the home), held by every command
// that changes the worker's state, so two operators cannot start two workers or stop one twice.
import { statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';

/**
 * A lock whose directory has not been touched for this long was left by a stunnelctl that died
 * holding it, and is taken over. proper-lockfile refreshes the holder's mtime every half of this,
 * so a live holder never looks stale unless its event loop stalls for seconds, which no command
 * does while it holds the lock (key generation runs outside it).
 */
export const LOCK_STALE_MS = 5_000;
/** How long a command waits for another one to release the lock before giving up. */
export const DEFAULT_LOCK_WAIT_MS = 15_000;
const LOCK_RETRY_INTERVAL_MS = 50;

export interface HomeLockTarget {
  home: string;
  lock: string;
}

export interface HomeLockEvents {
  /** Called once when the lock is busy and the command starts waiting. */
  onWait?: () => void;
  /** The lock was left by a stunnelctl that died holding it, and has been taken over. */
  onStaleRecovered?: (ageMs: number) => void;
  /** The lock was lost while held (its directory removed or taken over). */
  onCompromised?: (error: Error) => void;
}

export interface HomeLockOptions extends HomeLockEvents {
  waitMs?: number;
}

/** Milliseconds since the lock directory was last refreshed, or undefined when nobody holds it. */
const readLockAge = (path: string): number | undefined => {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch (error) {
    if (getSystemErrorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
};

/** Takes the home lock, waiting (bounded) while another command holds it. Returns the release. */
export const acquireHomeLock = async (target: HomeLockTarget, options: HomeLockOptions = {}): Promise<() => Promise<void>> => {
  const deadline = Date.now() + (options.waitMs ?? DEFAULT_LOCK_WAIT_MS);
  let waiting = false;
  for (;;) {
    const ageBefore = readLockAge(target.lock);
    try {
      const release = await lockfile.lock(target.home, {
        lockfilePath: target.lock,
        realpath: false,
        stale: LOCK_STALE_MS,
        retries: 0,
        // The default throws from a timer, which would crash the command mid-way.
        onCompromised: (error) => options.onCompromised?.(error),
      });
      if (ageBefore !== undefined && ageBefore > LOCK_STALE_MS) options.onStaleRecovered?.(ageBefore);
      return release;
    } catch (error) {
      if (getSystemErrorCode(error) !== 'ELOCKED') {
        throw new StunnelctlError('SCTL_ERR_IO', `cannot lock ${target.lock}: ${getSystemErrorCode(error) ?? String(error)}`, {
          hint: `check that ${target.home} exists and is writable`,
          cause: error,
        });
      }
      if (Date.now() >= deadline) {
        throw new StunnelctlError('SCTL_ERR_LOCKED', `another stunnelctl command holds the lock of ${target.home}`, {
          hint: 'wait for it to finish, then run this command again',
          cause: error,
        });
      }
      if (!waiting) options.onWait?.();
      waiting = true;
      await delay(LOCK_RETRY_INTERVAL_MS);
    }
  }
};

/** Runs `action` holding the home lock; the lock is released however `action` ends. */
export const withHomeLock = async <T>(target: HomeLockTarget, options: HomeLockOptions, action: () => Promise<T>): Promise<T> => {
  const release = await acquireHomeLock(target, options);
  try {
    return await action();
  } finally {
    await releaseQuietly(release);
  }
};

const releaseQuietly = async (release: () => Promise<void>): Promise<void> => {
  try {
    await release();
  } catch (error) {
    const code = getSystemErrorCode(error);
    // ERELEASED: lost while held, and onCompromised has said so; ENOTACQUIRED: removed by hand.
    if (code === 'ERELEASED' || code === 'ENOTACQUIRED') return;
    throw error;
  }
};
