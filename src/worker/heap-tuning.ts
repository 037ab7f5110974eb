// V8's young generation in the worker and its engine processes. Both allocate in bursts (handshakes,
// hand-offs of accepted connections) and then hold long-lived connections: V8 grows the young
// generation under a burst (up to 16 MiB per semi-space on 64-bit), and what it touched stays in the
// RSS afterwards. Kept at its initial 1 MiB per semi-space, a burst costs scavenges instead.
// Measured by `npm run bench` (memory per idle connection: the worker alone grew 11.7 MiB with 2,000
// connections handed to its engine processes, 7.0 MiB with the limit; bench/RESULTS.md); bulk
// transfers do not slow down (their buffers live outside the V8 heap).
import { setFlagsFromString } from 'node:v8';

/**
 * Stops the young generation from growing. The flag is read each time V8 considers growing it, so
 * it takes effect in a running process (unlike `--max-semi-space-size`, read at start-up only).
 */
export const limitYoungGeneration = (): void => {
  setFlagsFromString('--semi-space-growth-factor=1');
};
