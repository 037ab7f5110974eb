// Reading the home's job-class table (INI: `[*STD]` sections with `nice =` and `nofile =`) to know what
// a started worker's limits must be, and reading those limits back from /proc.
import { readFileSync } from 'node:fs';
import { readProcessStatFields } from './processes.js';

export interface JobClassLimits {
  nice: number;
  nofile: number;
}

/** Classes by name as written (`*STD`), from the table file an install wrote. */
export const readJobClassTable = (file: string): Map<string, JobClassLimits> => {
  const table = new Map<string, Partial<JobClassLimits>>();
  let current: Partial<JobClassLimits> | undefined;
  for (const rawLine of readFileSync(file, 'utf8').split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const section = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (section?.[1] !== undefined) {
      current = {};
      table.set(section[1], current);
      continue;
    }
    const assignment = /^(nice|nofile)\s*=\s*([+-]?\d+)$/i.exec(line);
    if (assignment?.[1] !== undefined && current !== undefined) {
      current[assignment[1].toLowerCase() as keyof JobClassLimits] = Number(assignment[2]);
    }
  }
  const complete = new Map<string, JobClassLimits>();
  for (const [name, limits] of table) {
    if (limits.nice === undefined || limits.nofile === undefined) throw new Error(`job class ${name} in ${file} lacks nice or nofile`);
    complete.set(name, { nice: limits.nice, nofile: limits.nofile });
  }
  return complete;
};

/** The nice value of a process (field 19 of /proc/PID/stat). */
export const readNice = (pid: number | 'self'): number => Number(readProcessStatFields(pid)[16]);

/** Soft and hard "Max open files" of a process, from /proc/PID/limits. */
export const readOpenFileLimits = (pid: number): { soft: number; hard: number } => {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((entry) => entry.startsWith('Max open files'));
  const match = /^Max open files\s+(\d+)\s+(\d+)/.exec(line ?? '');
  if (match === null) throw new Error(`no numeric "Max open files" in /proc/${pid}/limits: ${line}`);
  return { soft: Number(match[1]), hard: Number(match[2]) };
};
