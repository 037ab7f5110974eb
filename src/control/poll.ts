// Bounded polling on observable state (the pid file, the state file, /proc): how the CLI waits for
// the worker. Never a fixed sleep: every wait ends as soon as the state is there, or at a deadline.
import { setTimeout as delay } from 'node:timers/promises';

export const POLL_INTERVAL_MS = 25;

/**
 * Calls `probe` until it returns something other than undefined and returns that, or returns
 * undefined once `timeoutMs` has passed. The probe always runs at least once.
 */
export const pollUntil = async <T>(
  probe: () => T | undefined,
  timeoutMs: number,
  intervalMs = POLL_INTERVAL_MS,
): Promise<T | undefined> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return undefined;
    await delay(Math.min(intervalMs, remaining));
  }
};
