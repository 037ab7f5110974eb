// The size of a reliability run: `RELIABILITY_SCALE=full` (the figures of issue 4) or `short` (the same
// bars at smaller counts, for CI). Unset, it is `full`, except under `npm test` (npm sets
// npm_lifecycle_event=test), where the suite runs as part of CI and must stay short.
export type ReliabilityScale = 'full' | 'short';

const resolveScale = (env: NodeJS.ProcessEnv): ReliabilityScale => {
  const requested = env.RELIABILITY_SCALE;
  if (requested === 'full' || requested === 'short') return requested;
  if (requested !== undefined && requested !== '') {
    throw new Error(`RELIABILITY_SCALE must be "full" or "short", not ${JSON.stringify(requested)}`);
  }
  return env.npm_lifecycle_event === 'test' ? 'short' : 'full';
};

export const SCALE: ReliabilityScale = resolveScale(process.env);

/** The full-scale count or the short one. */
export const byScale = <T>(full: T, short: T): T => (SCALE === 'full' ? full : short);
