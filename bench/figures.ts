// The figures the benchmark reports, with their unit, which direction is better, and the bar of
// issue 5 each one is held to (a ratio stunnelctl/stunnel, or an absolute limit for the operator
// commands, which have no stunnel equivalent).

export type GroupName = 'throughput' | 'handshakes' | 'latency' | 'memory' | 'operator';
export const GROUPS: readonly GroupName[] = ['throughput', 'handshakes', 'latency', 'memory', 'operator'];

export type Bar =
  | { kind: 'ratio'; op: '>=' | '<='; value: number }
  | { kind: 'absolute'; op: '<'; value: number };

export interface Figure {
  id: string;
  group: GroupName;
  title: string;
  unit: string;
  better: 'higher' | 'lower';
  decimals: number;
  bar?: Bar;
  /** Measured for stunnelctl only (no stunnel equivalent). */
  stunnelctlOnly?: boolean;
}

export interface CatalogueSettings {
  memoryCounts: readonly number[];
}

const THROUGHPUT_BAR: Bar = { kind: 'ratio', op: '>=', value: 1.0 };
const RATE_BAR: Bar = { kind: 'ratio', op: '>=', value: 1.0 };
const PER_CPU_BAR: Bar = { kind: 'ratio', op: '>=', value: 1.5 };

export const throughputFigureId = (version: '1.3' | '1.2', streams: number): string => `throughput.tls${version.replace('.', '')}.${streams}stream`;
export const bulkCpuFigureId = (version: '1.3' | '1.2', streams: number): string => `${throughputFigureId(version, streams)}.cpu-s-per-gib`;
export const newHandshakeFigureId = (version: '1.3' | '1.2', key: 'rsa' | 'ecdsa', perCpu: boolean): string =>
  `handshakes.new.tls${version.replace('.', '')}.${key}${perCpu ? '.per-cpu-s' : ''}`;
export const resumedHandshakeFigureId = (version: '1.3' | '1.2', perCpu: boolean): string =>
  `handshakes.resumed.tls${version.replace('.', '')}${perCpu ? '.per-cpu-s' : ''}`;
export const memoryFigureId = (connections: number): string => `memory.idle.${connections}`;

export const THROUGHPUT_STREAMS = [1, 4] as const;
export const TLS_VERSIONS = ['1.3', '1.2'] as const;
export const KEY_TYPES = ['rsa', 'ecdsa'] as const;

export const buildCatalogue = (settings: CatalogueSettings): Figure[] => {
  const figures: Figure[] = [];
  for (const version of TLS_VERSIONS) {
    for (const streams of THROUGHPUT_STREAMS) {
      figures.push({
        id: throughputFigureId(version, streams), group: 'throughput', title: `bulk TLS ${version}, ${streams} stream${streams > 1 ? 's' : ''}`,
        unit: 'Gbit/s', better: 'higher', decimals: 2, bar: THROUGHPUT_BAR,
      });
      // Not a bar: says whether a throughput gap is the proxy's cost per byte or the machine.
      figures.push({
        id: bulkCpuFigureId(version, streams), group: 'throughput', title: '  CPU of both workers per GiB',
        unit: 'CPU-s', better: 'lower', decimals: 2,
      });
    }
  }
  for (const version of TLS_VERSIONS) {
    for (const key of KEY_TYPES) {
      const keyName = key === 'rsa' ? 'RSA-2048' : 'ECDSA P-256';
      figures.push({ id: newHandshakeFigureId(version, key, false), group: 'handshakes', title: `new handshakes TLS ${version} ${keyName}`, unit: '/s', better: 'higher', decimals: 0, bar: RATE_BAR });
      figures.push({ id: newHandshakeFigureId(version, key, true), group: 'handshakes', title: `  per proxy CPU-second`, unit: '/CPU-s', better: 'higher', decimals: 0, bar: PER_CPU_BAR });
    }
  }
  for (const version of TLS_VERSIONS) {
    figures.push({ id: resumedHandshakeFigureId(version, false), group: 'handshakes', title: `resumed handshakes TLS ${version} RSA-2048`, unit: '/s', better: 'higher', decimals: 0, bar: RATE_BAR });
    figures.push({ id: resumedHandshakeFigureId(version, true), group: 'handshakes', title: `  per proxy CPU-second`, unit: '/CPU-s', better: 'higher', decimals: 0, bar: PER_CPU_BAR });
  }
  figures.push(
    { id: 'latency.p50', group: 'latency', title: '64-byte round trip p50', unit: 'us', better: 'lower', decimals: 0 },
    { id: 'latency.p99', group: 'latency', title: '64-byte round trip p99', unit: 'us', better: 'lower', decimals: 0, bar: { kind: 'ratio', op: '<=', value: 1.0 } },
    { id: 'latency.max', group: 'latency', title: '64-byte round trip max', unit: 'us', better: 'lower', decimals: 0 },
  );
  for (const connections of settings.memoryCounts) {
    figures.push({
      id: memoryFigureId(connections), group: 'memory', title: `memory per idle connection at ${connections}`,
      unit: 'KiB', better: 'lower', decimals: 1, bar: { kind: 'ratio', op: '<=', value: 0.5 },
    });
  }
  figures.push(
    { id: 'operator.status', group: 'operator', title: 'stunnelctl status wall time', unit: 'ms', better: 'lower', decimals: 0, bar: { kind: 'absolute', op: '<', value: 250 }, stunnelctlOnly: true },
    { id: 'operator.start', group: 'operator', title: 'stunnelctl start until ready', unit: 'ms', better: 'lower', decimals: 0, bar: { kind: 'absolute', op: '<', value: 1000 }, stunnelctlOnly: true },
    { id: 'operator.cert', group: 'operator', title: 'make-self-signed-cert RSA 2048', unit: 'ms', better: 'lower', decimals: 0, bar: { kind: 'absolute', op: '<', value: 1000 }, stunnelctlOnly: true },
  );
  return figures;
};
