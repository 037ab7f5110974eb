// The summary of a reliability run: every figure recorded by the test files before this one (same
// `node --test` run), as one table, and a check that each of figures 1-12 was measured or skipped
// with a reason. Runs last: test files run in name order.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { figuresFilePath, readFigures, removeFigures } from './support/figures.js';
import type { FigureRecord } from './support/figures.js';
import { SCALE } from './support/scale.js';

const FIGURE_GROUPS = Array.from({ length: 12 }, (_, index) => String(index + 1));
const VALUE_WIDTH = 110;

const groupOf = (figure: FigureRecord): string => figure.name.split(' ')[0] ?? '';

const formatTable = (figures: readonly FigureRecord[]): string => {
  const rows = figures.map((figure) => [
    figure.verdict.toUpperCase(),
    figure.name,
    figure.value.length > VALUE_WIDTH ? `${figure.value.slice(0, VALUE_WIDTH - 3)}...` : figure.value,
    figure.bar,
  ]);
  const header = ['RESULT', 'FIGURE', 'VALUE', 'BAR'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const format = (row: readonly string[]): string => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ').trimEnd();
  return [format(header), widths.map((width) => '-'.repeat(width)).join('-|-'), ...rows.map(format)].join('\n');
};

describe(`reliability summary (${SCALE})`, () => {
  it('prints every figure of the run; each of figures 1-12 was measured or skipped with a reason', (t) => {
    const figures = readFigures().sort((a, b) => Number(groupOf(a)) - Number(groupOf(b)));
    removeFigures();
    if (figures.length === 0) {
      t.skip(`no figures in ${figuresFilePath()}: the summary ran without the figure tests`);
      return;
    }
    const passed = figures.filter((figure) => figure.verdict === 'pass').length;
    const failed = figures.filter((figure) => figure.verdict === 'FAIL').length;
    const skipped = figures.filter((figure) => figure.verdict === 'skip').length;
    console.log(`\nRELIABILITY SUMMARY (scale ${SCALE}): ${passed} passed, ${failed} failed, ${skipped} skipped\n${formatTable(figures)}`);
    const missing = FIGURE_GROUPS.filter((group) => !figures.some((figure) => groupOf(figure) === group));
    assert.deepEqual(missing, [], `figures never measured in this run: ${missing.join(', ')}`);
  });
});
