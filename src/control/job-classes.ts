// Job classes (BS2000 ENTER-JOB JOB-CLASS): named sets of process limits for the worker, kept in an
// INI table in the home that the operator may edit. `start --job-class NAME` picks one; *STD is the default.
import { readFileSync } from 'node:fs';
import { StunnelctlError, getSystemErrorCode } from '../errors.js';

export const DEFAULT_JOB_CLASS = '*STD';

export interface JobClass {
  /** As written in the table, e.g. `*STD`. */
  name: string;
  /** Scheduling priority: -20 (most favourable) .. 19 (least). */
  nice: number;
  /** Open-file limit (ulimit -n) of the worker. */
  nofile: number;
}

export interface JobClassTable {
  file: string;
  classes: JobClass[];
}

interface KeySpec {
  min: number;
  max: number;
}

const KEYS: Readonly<Record<'nice' | 'nofile', KeySpec>> = {
  nice: { min: -20, max: 19 },
  // Linux's default fs.nr_open; a higher value could never be set.
  nofile: { min: 16, max: 1_048_576 },
};
type Key = keyof typeof KEYS;
const KEY_NAMES = Object.keys(KEYS) as Key[];

const SECTION_PATTERN = /^\[\s*(\*?[A-Za-z0-9][A-Za-z0-9_-]*)\s*\]$/;
const ASSIGNMENT_PATTERN = /^([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*)$/;

interface PendingClass {
  name: string;
  line: number;
  values: Partial<Record<Key, number>>;
  /** Keys written in the section, valid or not: only a key never written is "lacking". */
  written: Set<Key>;
  /** A second section of an existing class: its keys are checked, then dropped. */
  duplicate: boolean;
}

/** `*std`, `STD` and `*STD` all name the class `*STD`. */
export const normalizeJobClassName = (name: string): string => name.trim().replace(/^\*/, '').toUpperCase();

/** Parses the table; every problem is collected as `FILE:LINE: message`. */
export const parseJobClasses = (text: string, file: string): { table: JobClassTable; problems: string[] } => {
  const problems: string[] = [];
  const pending: PendingClass[] = [];
  const report = (line: number, message: string): void => {
    problems.push(`${file}:${line}: ${message}`);
  };
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = index + 1;
    const content = rawLine.trim();
    if (content === '' || content.startsWith(';') || content.startsWith('#')) return;
    const section = SECTION_PATTERN.exec(content);
    if (section !== null) {
      const name = section[1] ?? '';
      const first = pending.find((entry) => !entry.duplicate && normalizeJobClassName(entry.name) === normalizeJobClassName(name));
      if (first !== undefined) report(line, `job class [${name}] is already defined on line ${first.line}`);
      pending.push({ name, line, values: {}, written: new Set(), duplicate: first !== undefined });
      return;
    }
    const assignment = ASSIGNMENT_PATTERN.exec(content);
    if (assignment === null) {
      report(line, `"${content}": expected [CLASS] or key = value`);
      return;
    }
    const current = pending.at(-1);
    if (current === undefined) {
      report(line, `"${content}": key outside of a [CLASS] section`);
      return;
    }
    const problem = storeValue(current, (assignment[1] ?? '').toLowerCase(), (assignment[2] ?? '').trim());
    if (problem !== undefined) report(line, `"${content}": ${problem}`);
  });
  const defined = pending.filter((entry) => !entry.duplicate);
  for (const entry of defined) {
    const missing = KEY_NAMES.filter((key) => !entry.written.has(key));
    if (missing.length > 0) report(entry.line, `job class [${entry.name}] lacks ${missing.join(' and ')}`);
  }
  if (defined.length === 0 && problems.length === 0) problems.push(`${file}: no job class is defined`);
  const classes = defined.map(({ name, values }) => ({ name, nice: values.nice ?? 0, nofile: values.nofile ?? 0 }));
  return { table: { file, classes }, problems };
};

const isKey = (name: string): name is Key => (KEY_NAMES as string[]).includes(name);

/** Stores one `key = value`; returns what is wrong with it, if anything. */
const storeValue = (entry: PendingClass, key: string, value: string): string | undefined => {
  if (!isKey(key)) return `unknown key "${key}" (known: ${KEY_NAMES.join(', ')})`;
  entry.written.add(key);
  if (entry.values[key] !== undefined) return `${key} is already set for [${entry.name}]`;
  const spec = KEYS[key];
  if (!/^[+-]?\d+$/.test(value)) return `${key} must be an integer from ${spec.min} to ${spec.max}`;
  const number = Number(value);
  if (number < spec.min || number > spec.max) return `${key} must be from ${spec.min} to ${spec.max}`;
  entry.values[key] = number;
  return undefined;
};

/**
 * Reads and parses the home's table. Problems are passed to `reportProblem` one by one, then
 * SCTL_ERR_JOB_CLASSES_INVALID is thrown.
 */
export const loadJobClasses = (file: string, reportProblem: (line: string) => void): JobClassTable => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = getSystemErrorCode(error);
    throw new StunnelctlError('SCTL_ERR_JOB_CLASSES_INVALID', `cannot read the job-class table ${file}: ${code ?? String(error)}`, {
      hint: code === 'ENOENT' ? 'recreate it with stunnelctl install --force (existing files are backed up)' : undefined,
      cause: error,
    });
  }
  const { table, problems } = parseJobClasses(text, file);
  if (problems.length > 0) {
    problems.forEach(reportProblem);
    throw new StunnelctlError('SCTL_ERR_JOB_CLASSES_INVALID', `the job-class table ${file} has ${formatCount(problems.length, 'error')}`, {
      hint: 'fix the lines above, then try again',
    });
  }
  return table;
};

const formatCount = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** The class named `requested` (default *STD), matched case-insensitively with or without `*`. */
export const resolveJobClass = (table: JobClassTable, requested: string | undefined): JobClass => {
  const wanted = normalizeJobClassName(requested ?? DEFAULT_JOB_CLASS);
  const found = table.classes.find((entry) => normalizeJobClassName(entry.name) === wanted);
  if (found !== undefined) return found;
  const known = table.classes.map((entry) => entry.name).join(', ');
  throw new StunnelctlError('SCTL_ERR_JOB_CLASS_UNKNOWN', `unknown job class "${requested ?? DEFAULT_JOB_CLASS}"; known classes: ${known}`, {
    hint: `use one of them, or add a [${requested ?? DEFAULT_JOB_CLASS}] section to ${table.file}`,
  });
};
