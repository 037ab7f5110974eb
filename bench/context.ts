// What every figure works with: the settings, the run directory, the run's certificates, the shared
// echo backend, and the ways to start a proxy or an agent so that the runner can stop them all.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildPaths } from './build-snapshot.js';
import type { RunCertificates } from './certs.js';
import type { BenchSettings } from './options.js';
import { startProcess, type BenchProcess } from './processes.js';
import { startProxy, type ImplementationName, type RunningProxy, type ServiceSpec } from './proxies.js';
import type { Results } from './results.js';

export interface MeasureContext {
  settings: BenchSettings;
  runDir: string;
  /** The frozen build: stunnelctl and the agents run from here. */
  build: BuildPaths;
  certs: RunCertificates;
  echoPort: number;
  results: Results;
  /** A line for the reader, printed now and kept in the summary. */
  note: (text: string) => void;
  startProxy: (implementation: ImplementationName, label: string, services: readonly ServiceSpec[]) => Promise<RunningProxy>;
  startAgent: (agent: AgentName, label: string, parameters: object) => BenchProcess;
  /** Directories the CPU profiles of this run were written to (with --profile). */
  profileDirs: Array<{ label: string; dir: string }>;
}

export type AgentName = 'echo-server' | 'bulk-sink' | 'bulk-source' | 'handshake-client' | 'idle-clients';

export const createMeasureContext = (
  options: Pick<MeasureContext, 'settings' | 'runDir' | 'build' | 'certs' | 'echoPort' | 'results'>,
): MeasureContext => {
  let sequence = 0;
  const nextTag = (label: string): string => {
    sequence += 1;
    return `${String(sequence).padStart(3, '0')}-${label}`;
  };
  const profileDirs: Array<{ label: string; dir: string }> = [];
  return {
    ...options,
    profileDirs,
    note: (text) => {
      options.results.notes.push(text);
      process.stdout.write(`  note: ${text}\n`);
    },
    startProxy: (implementation, label, services) => {
      const tag = nextTag(label);
      let cpuProfileDir: string | undefined;
      if (options.settings.profile && implementation === 'stunnelctl') {
        cpuProfileDir = join(options.runDir, 'profiles', tag);
        mkdirSync(cpuProfileDir, { recursive: true });
        profileDirs.push({ label, dir: cpuProfileDir });
      }
      return startProxy(implementation, {
        dir: options.runDir, build: options.build, tag, services,
        ...(cpuProfileDir === undefined ? {} : { cpuProfileDir }),
        ...(options.settings.processes === undefined ? {} : { processes: options.settings.processes }),
      });
    },
    startAgent: (agent, label, parameters) => {
      const tag = nextTag(label);
      return startProcess(`${agent}[${tag}]`, process.execPath, [join(options.build.agentsDir, `${agent}.js`), JSON.stringify(parameters)], {
        logFile: join(options.runDir, `agent-${tag}.stderr`),
        readStdout: true,
      });
    },
  };
};
