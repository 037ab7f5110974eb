// Summaries of V8 CPU profiles (`node --cpu-prof`): self time per function, the heaviest first, so
// a missed bar can be traced to what the worker spends its time on.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeRow {
  name: string;
  selfMs: number;
  share: number;
}

const describeFrame = (frame: ProfileNode['callFrame']): string => {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  if (frame.url === '') return name;
  const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/(dist\/|node_modules\/)/, '$1');
  return `${name} ${file}:${frame.lineNumber + 1}`;
};

/** Self time per function (summed over its call sites), excluding the idle time. */
export const summarizeProfile = (file: string, top: number): { busyMs: number; rows: SelfTimeRow[] } => {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodeById = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  profile.samples.forEach((nodeId, index) => {
    const node = nodeById.get(nodeId);
    if (node === undefined) return;
    const key = describeFrame(node.callFrame);
    selfUs.set(key, (selfUs.get(key) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  selfUs.delete('(idle)');
  const busyUs = [...selfUs.values()].reduce((sum, value) => sum + value, 0);
  const rows = [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: busyUs === 0 ? 0 : us / busyUs }));
  return { busyMs: busyUs / 1000, rows };
};

export const formatProfileSummaries = (dirs: ReadonlyArray<{ label: string; dir: string }>, top: number): string => {
  const blocks: string[] = [];
  for (const { label, dir } of dirs) {
    for (const entry of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
      const { busyMs, rows } = summarizeProfile(join(dir, entry), top);
      blocks.push([
        `profile ${label} (${basename(entry)}): ${busyMs.toFixed(0)} ms busy`,
        ...rows.map((row) => `  ${(row.share * 100).toFixed(1).padStart(5)}%  ${row.selfMs.toFixed(0).padStart(7)} ms  ${row.name}`),
      ].join('\n'));
    }
  }
  return blocks.join('\n\n');
};
