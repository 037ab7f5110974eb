// Waiting for a counter to stop moving: the observable sign that a sender has been stalled by
// backpressure. A bounded poll, not a sleep: it returns as soon as the counter has been still for
// `quietMs`, and fails after `timeoutMs`. No side effects on import.
import { setTimeout as delay } from 'node:timers/promises';

const POLL_INTERVAL_MS = 50;

export const waitUntilStill = async (
  probe: () => number,
  options: { what: string; quietMs: number; timeoutMs: number; atLeast?: number },
): Promise<number> => {
  const deadline = Date.now() + options.timeoutMs;
  let last = probe();
  let stillSinceMs = Date.now();
  for (;;) {
    await delay(POLL_INTERVAL_MS);
    const now = Date.now();
    const value = probe();
    if (value !== last) {
      last = value;
      stillSinceMs = now;
    } else if (now - stillSinceMs >= options.quietMs && value >= (options.atLeast ?? 0)) {
      return value;
    }
    if (now >= deadline) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what} to stop moving (last value ${value})`);
    }
  }
};
