// Figures of the reliability run: each test prints `FIGURE <name>: <value> (bar: <bar>)` and records it
// in a file shared by every test file of one `node --test` run (they are all children of the same
// runner, so its pid names the file). The summary test prints them all as one table.
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'node:assert/strict';
import { SCALE } from './scale.js';

export type FigureVerdict = 'pass' | 'FAIL' | 'skip';

export interface FigureRecord {
  /** `4 hostile input: max probe latency`: the figure number first, so the summary sorts by it. */
  name: string;
  value: string;
  bar: string;
  verdict: FigureVerdict;
  scale: string;
}

/** Every test file is a child of the same `node --test` process. */
export const figuresFilePath = (runnerPid = process.ppid): string => join(tmpdir(), `stunnelctl-reliability-figures-${runnerPid}.jsonl`);

/** Set by `node --test` in the test files it runs; a file run on its own has no summary to feed. */
const underTestRunner = process.env.NODE_TEST_CONTEXT !== undefined;

const record = (figure: FigureRecord): void => {
  console.log(`FIGURE ${figure.name}: ${figure.value} (bar: ${figure.bar})${figure.verdict === 'pass' ? '' : ` ${figure.verdict}`}`);
  if (underTestRunner) appendFileSync(figuresFilePath(), `${JSON.stringify(figure)}\n`);
};

/**
 * Prints and records a figure, then asserts its bar. Recorded before the assertion, so a failed bar
 * still shows in the summary; `detail` goes into the assertion message only.
 */
export const assertFigure = (name: string, value: string | number, bar: string, ok: boolean, detail = ''): void => {
  record({ name, value: String(value), bar, verdict: ok ? 'pass' : 'FAIL', scale: SCALE });
  assert.ok(ok, `FIGURE ${name}: ${value} does not meet the bar ${bar}${detail === '' ? '' : `\n${detail}`}`);
};

/** A figure that could not be measured here, with the reason printed. */
export const skipFigure = (name: string, bar: string, reason: string): void => {
  record({ name, value: `not measured: ${reason}`, bar, verdict: 'skip', scale: SCALE });
};

export const readFigures = (path = figuresFilePath()): FigureRecord[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as FigureRecord)
    : [];

export const removeFigures = (path = figuresFilePath()): void => {
  rmSync(path, { force: true });
};

/**
 * Several figures of one test: each is printed and recorded when checked, and the bars are asserted
 * together at the end, so one failed bar does not hide the figures measured after it.
 */
export class FigureBook {
  private readonly failures: string[] = [];

  check(name: string, value: string | number, bar: string, ok: boolean, detail = ''): boolean {
    record({ name, value: String(value), bar, verdict: ok ? 'pass' : 'FAIL', scale: SCALE });
    if (!ok) this.failures.push(`FIGURE ${name}: ${value} does not meet the bar ${bar}${detail === '' ? '' : `\n${detail}`}`);
    return ok;
  }

  assertAll(): void {
    assert.deepEqual(this.failures, [], this.failures.join('\n\n'));
  }
}
