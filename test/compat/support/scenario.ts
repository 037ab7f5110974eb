// One compatibility scenario = one fixture run by each engine in turn with the same probe: the
// fixture is rendered with the shared values (backends, certificates) plus each engine's own accept
// ports and log/pid paths, the engine is started, the probe runs, the engine is stopped. The two
// results are then compared: the reference against what the test expects (so the scenario cannot
// pass vacuously), stunnelctl against the reference. No side effects on import.
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { getFreePorts } from '../../helpers/ports.js';
import { ENGINE_KINDS, engineFiles, withEngine } from './engines.js';
import type { EngineKind, RunningEngine } from './engines.js';
import { writeFixture } from './fixtures.js';
import { getFreePortsOn } from './peers.js';
import type { FixtureVariables } from './fixtures.js';
import { describeRecord, outcomeOf } from './log-events.js';
import type { ConnectionOutcome } from './log-events.js';

export type PerEngine<T> = Record<EngineKind, T>;

export interface ProbeContext {
  readonly engine: RunningEngine;
  /** This engine's accept ports: `@@ACCEPT_PORT@@`, `@@ACCEPT_PORT_2@@`, ... */
  readonly acceptPorts: readonly number[];
  readonly variables: FixtureVariables;
}

export interface ScenarioOptions<T> {
  /** Temp directory of the test file. */
  dir: string;
  /** Fixture file name in test/fixtures/compat. */
  fixture: string;
  /** Distinguishes the rendered files of scenarios that share a fixture. */
  label: string;
  variables: FixtureVariables;
  /** How many accept ports each engine needs (default 1). */
  acceptPortCount?: number;
  /** Where the accept ports must be free (default 127.0.0.1). */
  acceptHost?: string;
  /** Runs before each engine starts, with that engine's variables (e.g. to render an include directory). */
  prepare?: (kind: EngineKind, variables: FixtureVariables) => void | Promise<void>;
  probe: (context: ProbeContext) => Promise<T>;
}

/** `@@ACCEPT_PORT@@` is the first port, `@@ACCEPT_PORT_2@@` the second, ... */
export const acceptPortVariables = (ports: readonly number[]): Record<string, number> =>
  Object.fromEntries(ports.map((port, index) => [index === 0 ? 'ACCEPT_PORT' : `ACCEPT_PORT_${index + 1}`, port]));

const freePorts = (count: number, host: string | undefined): Promise<number[]> =>
  host === undefined ? getFreePorts(count) : getFreePortsOn(host, count);

/** Runs `probe` against one engine on its own ports and files (`index` keeps its ports apart). */
export const runOnEngine = async <T>(kind: EngineKind, options: ScenarioOptions<T>, acceptPorts?: readonly number[]): Promise<T> => {
  const ports = acceptPorts ?? (await freePorts(options.acceptPortCount ?? 1, options.acceptHost));
  const files = engineFiles(options.dir, options.label, kind);
  const variables: FixtureVariables = {
    ...options.variables, ...acceptPortVariables(ports), LOG_FILE: files.log, PID_FILE: files.pid,
    INCLUDE_DIR: join(options.dir, `${options.label}-${kind}.d`),
  };
  await options.prepare?.(kind, variables);
  writeFixture(options.fixture, variables, files.config);
  return withEngine(kind, files, (engine) => options.probe({ engine, acceptPorts: ports, variables }));
};

/** Runs `probe` against stunnel4, then against stunnelctl, each on its own ports and files. */
export const runScenario = async <T>(options: ScenarioOptions<T>): Promise<PerEngine<T>> => {
  const count = options.acceptPortCount ?? 1;
  const ports = await freePorts(count * ENGINE_KINDS.length, options.acceptHost);
  const results: Partial<PerEngine<T>> = {};
  for (const [index, kind] of ENGINE_KINDS.entries()) {
    results[kind] = await runOnEngine(kind, options, ports.slice(index * count, (index + 1) * count));
  }
  return results as PerEngine<T>;
};

/**
 * The reference must show the expected behaviour (else the scenario proves nothing), and stunnelctl
 * must show the same.
 */
export const assertSameOutcome = <T>(results: PerEngine<T>, expected: T, what: string): void => {
  assert.deepEqual(results.stunnel4, expected, `stunnel4 (the reference) did not behave as the test expects for ${what}`);
  assert.deepEqual(results.stunnelctl, results.stunnel4, `stunnelctl differs from stunnel4 for ${what}`);
};

/** Waits for `count` close summaries and returns the connections' comparable outcomes. */
export const closedOutcomes = async (engine: RunningEngine, count: number): Promise<ConnectionOutcome[]> => {
  const records = await engine.waitForClosed(count);
  return records.map(outcomeOf);
};

/** Connection lines of an engine's log, for assertion messages. */
export const describeConnections = (engine: RunningEngine): string =>
  `${engine.kind}:\n  ${engine.connections().map(describeRecord).join('\n  ')}`;
