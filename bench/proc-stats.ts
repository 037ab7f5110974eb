// What /proc says about a process tree: the pids under a root, their CPU time (user + system of
// every thread) and their resident memory. The proxy under test is measured as a whole tree, so an
// engine that forks workers is charged for all of them.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface StatFields {
  ppid: number;
  utimeTicks: number;
  stimeTicks: number;
  cutimeTicks: number;
  cstimeTicks: number;
  /** Start time in clock ticks since boot: tells a process from a later one with the same pid. */
  startTicks: number;
}

/** `/proc/PID/stat`; the command name is in parentheses and may itself contain spaces or ')'. */
const readStat = (pid: number | 'self'): StatFields | undefined => {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    // The process ended while the tree was walked: it no longer counts.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw error;
  }
  // Fields after the command name start at field 3 (state); field N is rest[N - 3].
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number): number => Number(rest[n - 3]);
  return { ppid: field(4), utimeTicks: field(14), stimeTicks: field(15), cutimeTicks: field(16), cstimeTicks: field(17), startTicks: field(22) };
};

/** When the process started (field 22 of /proc/PID/stat, in clock ticks since boot), or undefined once gone. */
export const processStartTicks = (pid: number): number | undefined => readStat(pid)?.startTicks;

/** The root and every live descendant. */
export const processTree = (rootPid: number): number[] => {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readStat(pid);
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
};

/** User + system CPU seconds of the tree's live processes (all threads of each). */
export const treeCpuSeconds = (rootPid: number): number => {
  let ticks = 0;
  for (const pid of processTree(rootPid)) {
    const stat = readStat(pid);
    if (stat !== undefined) ticks += stat.utimeTicks + stat.stimeTicks;
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
};

/** CPU seconds of this process's children that have exited and been reaped (cutime + cstime). */
export const reapedChildrenCpuSeconds = (): number => {
  const stat = readStat('self');
  if (stat === undefined) throw new Error('/proc/self/stat is not readable');
  return (stat.cutimeTicks + stat.cstimeTicks) / CLOCK_TICKS_PER_SECOND;
};

const readRssKiB = (pid: number): number => {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') return 0;
    throw error;
  }
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(text);
  return match?.[1] === undefined ? 0 : Number(match[1]);
};

/** Resident set of the whole tree, in KiB. */
export const treeRssKiB = (rootPid: number): number =>
  processTree(rootPid).reduce((sum, pid) => sum + readRssKiB(pid), 0);

/** Open file descriptors of the tree (a leak check after a figure). */
export const treeOpenFds = (rootPid: number): number =>
  processTree(rootPid).reduce((sum, pid) => {
    try {
      return sum + readdirSync(`/proc/${pid}/fd`).length;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return sum;
      throw error;
    }
  }, 0);
