// The benchmark's command line (`npm run bench -- --quick`, `--rounds 5`, `--only handshakes`,
// `--profile`) turned into the settings every figure reads.
import { parseArgs } from 'node:util';
import { GROUPS, type GroupName } from './figures.js';

const MIB = 1024 * 1024;

export interface BenchSettings {
  rounds: number;
  quick: boolean;
  groups: readonly GroupName[];
  /** Profile stunnelctl (no stunnel, one round) and print the top self-time functions. */
  profile: boolean;
  /** Keep the run directory (configurations, logs, profiles) after a successful run. */
  keep: boolean;
  /** stunnelctl's `processes` line; undefined: none, so its default (the number of cores). */
  processes: number | undefined;
  bulkBytesPerStream: number;
  bulkWarmupBytes: number;
  handshakeSeconds: number;
  handshakeWarmupSeconds: number;
  /** Load-generating processes per handshake figure, and connections in flight in each. */
  handshakeClients: number;
  handshakeInFlight: number;
  /** Latency runs per round and implementation (each on a fresh connection and proxy). */
  latencyRunsPerRound: number;
  latencyRoundTrips: number;
  latencyWarmupRoundTrips: number;
  latencyPayloadBytes: number;
  memoryCounts: readonly number[];
  /** Client processes per memory step (each needs its own fd budget). */
  memoryClientProcesses: number;
  summaryFile: string;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `Usage: npm run bench -- [--quick] [--rounds N] [--only GROUP[,GROUP]] [--profile] [--keep] [--processes N]

  --quick           a short run (smaller transfers, shorter windows, fewer connections)
  --rounds N        rounds of A B alternation (stunnel, stunnelctl), at least 3 (default 3)
  --only GROUPS     comma-separated subset of: ${GROUPS.join(', ')}
  --profile         stunnelctl only, one round, under node --cpu-prof: prints the top self-time
                    functions of each worker process (use with --only)
  --keep            keep the run directory (configurations, logs, profiles)
  --processes N     stunnelctl's engine processes (a \`processes = N\` line in its configuration
                    only); default: none, so stunnelctl's default, the number of cores
  --help            this text`;

const MIN_ROUNDS = 3;

const parseGroups = (text: string | undefined): GroupName[] => {
  if (text === undefined) return [...GROUPS];
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of names) {
    if (!(GROUPS as readonly string[]).includes(name)) throw new UsageError(`--only: unknown group "${name}" (known: ${GROUPS.join(', ')})`);
  }
  return names as GroupName[];
};

export const parseBenchOptions = (argv: readonly string[], summaryFile: string): BenchSettings | 'help' => {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean', default: false },
        rounds: { type: 'string' },
        only: { type: 'string' },
        profile: { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        processes: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) return 'help';
  const quick = values.quick === true;
  let processes: number | undefined;
  if (values.processes !== undefined) {
    processes = Number(values.processes);
    if (!Number.isInteger(processes) || processes < 1 || processes > 64) throw new UsageError(`--processes must be an integer from 1 to 64, got "${values.processes}"`);
  }
  const profile = values.profile === true;
  let rounds = MIN_ROUNDS;
  if (values.rounds !== undefined) {
    rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < MIN_ROUNDS) throw new UsageError(`--rounds must be an integer >= ${MIN_ROUNDS}, got "${values.rounds}"`);
  }
  return {
    rounds: profile ? 1 : rounds,
    quick,
    processes,
    groups: parseGroups(values.only),
    profile,
    keep: values.keep === true || profile,
    bulkBytesPerStream: (quick ? 32 : 1024) * MIB,
    bulkWarmupBytes: (quick ? 8 : 512) * MIB,
    handshakeSeconds: quick ? 1 : 4,
    handshakeWarmupSeconds: quick ? 0.3 : 1,
    handshakeClients: 3,
    handshakeInFlight: 3,
    latencyRunsPerRound: quick ? 1 : 3,
    latencyRoundTrips: 5000,
    latencyWarmupRoundTrips: 500,
    latencyPayloadBytes: 64,
    memoryCounts: quick ? [250, 1000] : [2000, 9500],
    memoryClientProcesses: 4,
    summaryFile,
  };
};
