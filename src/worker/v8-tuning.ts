// V8 settings of the worker and its engine processes, set at run time by their entries (so they hold
// whichever launcher started the worker: job file, systemd unit, `stunnelctl run`).
//
// Young generation. Both processes allocate in bursts (handshakes, hand-offs of accepted connections)
// and then hold long-lived connections: V8 grows the young generation under a burst (up to 16 MiB per
// semi-space on 64-bit), and what it touched stays in the RSS afterwards. Kept at its initial 1 MiB
// per semi-space, a burst costs scavenges instead. Measured by `npm run bench` (memory per idle
// connection: the worker alone grew 11.7 MiB with 2,000 connections handed to its engine processes,
// 7.0 MiB with the limit; bench/RESULTS.md); bulk transfers do not slow down (their buffers live
// outside the V8 heap).
//
// Tier-up. A relayed message runs through some fifty functions of Node's streams and TLS glue. V8
// optimizes a function once it has executed its interrupt budget of bytecode three times; at the
// default budget a freshly started (or replaced) engine process ran those functions unoptimized, and
// re-optimized the ones a new connection's handshake deoptimized, for thousands of messages: every
// one of them slower, the 99th percentile of a 64-byte round trip at about twice its steady value
// (`npm run bench -- --only latency`: p99 327 us at the default, 214-226 us at 8 KiB, 193 us with the
// process fully warm; bench/RESULTS.md). With an eighth of the budget most of the way to the steady
// state is made within the first few hundred messages; the cost is compiling a little earlier what
// would be compiled anyway (handshake rates, memory and start-up did not move).
import { setFlagsFromString } from 'node:v8';

/** Bytecode a function executes between tier-up checks (V8's default: 67584). */
const INTERRUPT_BUDGET_BYTES = 8192;

/**
 * Stops the young generation from growing. The flag is read each time V8 considers growing it, so
 * it takes effect in a running process (unlike `--max-semi-space-size`, read at start-up only).
 */
export const limitYoungGeneration = (): void => {
  setFlagsFromString('--semi-space-growth-factor=1');
};

/**
 * Makes hot functions tier up to optimized code sooner. The budget is read each time a function's
 * counter is reset (its first calls, and after every check), so it takes effect in a running process.
 */
export const tierUpSooner = (): void => {
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET_BYTES}`);
};

/** Both, for the entry of the worker and of each engine process, before the engine's modules load. */
export const tuneV8 = (): void => {
  limitYoungGeneration();
  tierUpSooner();
};
