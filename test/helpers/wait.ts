// Bounded waiting on observable state: a poll that gives up after a deadline with a message naming
// what it waited for, and a deadline for a single promise. Never a bare sleep.
import { setTimeout as delay } from 'node:timers/promises';

export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
const DEFAULT_POLL_INTERVAL_MS = 25;

export interface WaitOptions {
  /** What is awaited, in words: it ends up in the error message. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
}

type Probe<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>;

/**
 * Polls `probe` until it returns a truthy value and returns that value. A probe that throws counts as
 * "not yet"; its last error is quoted if the deadline passes.
 */
export const waitFor = async <T>(probe: Probe<T>, options: WaitOptions): Promise<T> => {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError === undefined ? '' : ` (last probe error: ${String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}${reason}`);
    }
    await delay(intervalMs);
  }
};

/** Resolves with `promise`, or rejects naming `what` once `timeoutMs` has passed. */
export const withTimeout = async <T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> => {
  const controller = new AbortController();
  const timeout = delay(timeoutMs, undefined, { signal: controller.signal }).then(() => {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    // Promise.race already holds a handler on `timeout`, so its AbortError is not unhandled.
    controller.abort();
  }
};
