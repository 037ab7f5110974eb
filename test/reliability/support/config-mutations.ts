// Mutations of a valid stunnel configuration for figure 9, from a seeded generator (a failure names its
// seed and is reproduced by it): lines deleted, duplicated, swapped; characters flipped to any byte;
// option names and values replaced; binary garbage and huge lines inserted; broken section headers;
// truncation; CRLF and a BOM. Paths in values stay inside the test's directory.

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export const createRandom = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

export interface MutationContext {
  random: () => number;
  /** Known option names (the product's own table), so mutations hit real parsers too. */
  optionNames: readonly string[];
  /** Paths allowed in values: files and directories inside the test's temp dir. */
  paths: readonly string[];
}

const pick = <T>(random: () => number, items: readonly T[]): T => {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
};

const randomInt = (random: () => number, below: number): number => Math.floor(random() * below);

const randomBinary = (random: () => number, length: number): string =>
  Buffer.from(Array.from({ length }, () => randomInt(random, 256))).toString('latin1');

const VALUES = [
  '', ' ', '=', '==', 'yes', 'no', 'maybe', '0', '-1', '-0', '1e309', '99999999999999999999999', '0x10', 'NaN',
  '127.0.0.1:0', '127.0.0.1:65536', '[::1]:443', '::1', ':443', 'localhost:', 'host name:80', '443', '-443',
  'TLSv1', 'TLSv1.2', 'TLSv1.9', 'all', 'HIGH:!aNULL', 'NO_SUCH_CIPHER', 'a:SO_KEEPALIVE=10', 'z:TCP_NODELAY=1',
  'debug', 'emerg', '8', 'rr', 'prio', 'proxy', 'smtp', '"quoted"', '\\', '\\\\n', '%s%s%n', '${HOME}', '\u00e9\u00e8', '\u{1F512}',
  'NO_SSLv2', '-NO_TLSv1', 'CIPHER_SERVER_PREFERENCE', 'sequential', 'unique',
];

type Mutation = (lines: string[], context: MutationContext) => string[];

const optionLine = /^(\s*)([^=\s[;#][^=]*?)(\s*=\s*)(.*)$/;

const MUTATIONS: ReadonlyArray<readonly [string, Mutation]> = [
  ['delete a line', (lines, { random }) => lines.filter((_, index) => index !== randomInt(random, lines.length))],
  ['duplicate a line', (lines, { random }) => {
    const at = randomInt(random, lines.length);
    return [...lines.slice(0, at + 1), lines[at] ?? '', ...lines.slice(at + 1)];
  }],
  ['swap two lines', (lines, { random }) => {
    const copy = [...lines];
    const a = randomInt(random, copy.length);
    const b = randomInt(random, copy.length);
    [copy[a], copy[b]] = [copy[b] ?? '', copy[a] ?? ''];
    return copy;
  }],
  ['flip characters', (lines, { random }) => {
    const copy = [...lines];
    for (let flips = 1 + randomInt(random, 5); flips > 0; flips -= 1) {
      const at = randomInt(random, copy.length);
      const line = copy[at] ?? '';
      const column = randomInt(random, line.length + 1);
      copy[at] = `${line.slice(0, column)}${String.fromCharCode(randomInt(random, 256))}${line.slice(column + 1)}`;
    }
    return copy;
  }],
  ['random option name', (lines, { random, optionNames }) => {
    const candidates = lines.map((line, index) => (optionLine.test(line) ? index : -1)).filter((index) => index >= 0);
    if (candidates.length === 0) return lines;
    const at = pick(random, candidates);
    const name = random() < 0.8 ? pick(random, optionNames) : randomBinary(random, 1 + randomInt(random, 12)).replace(/[=\n]/g, 'x');
    const copy = [...lines];
    copy[at] = (copy[at] ?? '').replace(optionLine, (_, indent: string, _name: string, equals: string, value: string) => `${indent}${name}${equals}${value}`);
    return copy;
  }],
  ['random option value', (lines, { random, paths }) => {
    const candidates = lines.map((line, index) => (optionLine.test(line) ? index : -1)).filter((index) => index >= 0);
    if (candidates.length === 0) return lines;
    const at = pick(random, candidates);
    const value = random() < 0.2 ? pick(random, paths) : pick(random, VALUES);
    const copy = [...lines];
    copy[at] = (copy[at] ?? '').replace(optionLine, (_, indent: string, name: string, equals: string) => `${indent}${name}${equals}${value}`);
    return copy;
  }],
  ['random option line', (lines, { random, optionNames, paths }) => {
    const at = randomInt(random, lines.length + 1);
    const value = random() < 0.3 ? pick(random, paths) : pick(random, VALUES);
    return [...lines.slice(0, at), `${pick(random, optionNames)} = ${value}`, ...lines.slice(at)];
  }],
  ['binary garbage', (lines, { random }) => {
    const at = randomInt(random, lines.length + 1);
    return [...lines.slice(0, at), randomBinary(random, 1 + randomInt(random, 512)), ...lines.slice(at)];
  }],
  ['huge line', (lines, { random }) => {
    const at = randomInt(random, lines.length + 1);
    const size = 64 * 1024 + randomInt(random, 256 * 1024);
    const huge = pick(random, [`connect = 127.0.0.1:${'9'.repeat(size)}`, `; ${'x'.repeat(size)}`, `ciphers = ${'A'.repeat(size)}`, `[${'s'.repeat(size)}]`, 'y'.repeat(size)]);
    return [...lines.slice(0, at), huge, ...lines.slice(at)];
  }],
  ['broken section header', (lines, { random }) => {
    const at = randomInt(random, lines.length + 1);
    return [...lines.slice(0, at), pick(random, ['[', ']', '[]', '[ ]', '[unclosed', '[a]b]', '[[x]]', '[server]', '[client]', '[\u0000]']), ...lines.slice(at)];
  }],
  ['truncate', (lines, { random }) => {
    const text = lines.join('\n');
    return text.slice(0, randomInt(random, text.length)).split('\n');
  }],
  ['CRLF and BOM', (lines, { random }) => {
    const crlf = lines.map((line) => (random() < 0.5 ? `${line}\r` : line));
    return random() < 0.5 ? [`\uFEFF${crlf[0] ?? ''}`, ...crlf.slice(1)] : crlf;
  }],
];

export const MUTATION_KINDS = MUTATIONS.map(([name]) => name);

/** 1-3 mutations of `text`; returns the mutated text and what was done. */
export const mutateConfiguration = (text: string, context: MutationContext): { text: string; applied: string[] } => {
  let lines = text.split('\n');
  const applied: string[] = [];
  for (let count = 1 + randomInt(context.random, 3); count > 0; count -= 1) {
    const [name, mutate] = pick(context.random, MUTATIONS);
    lines = mutate(lines, context);
    applied.push(name);
  }
  return { text: lines.join('\n'), applied };
};
