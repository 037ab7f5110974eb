// The benchmark's output: per figure the median and min..max of each implementation, the ratio
// stunnelctl/stunnel and the verdict against its bar; as a text table, a Markdown table (for
// RESULTS.md) and one machine-readable JSON summary.
import type { Bar, Figure } from './figures.js';
import type { Results } from './results.js';
import type { Spread } from './stats.js';

export type Verdict = 'PASS' | 'MISS' | 'SKIP';

export interface FigureReport {
  id: string;
  title: string;
  unit: string;
  better: Figure['better'];
  stunnel: Spread | null;
  stunnelctl: Spread | null;
  /** median(stunnelctl) / median(stunnel); null for stunnelctl-only figures. */
  ratio: number | null;
  bar: Bar | null;
  verdict: Verdict | null;
}

export interface RunDescription {
  date: string;
  quick: boolean;
  rounds: number;
  durationSeconds: number;
  machine: { nproc: number; cpuModel: string; memoryMiB: number };
  versions: { node: string; openssl: string; stunnel: string; stunnelctl: string };
}

const judge = (bar: Bar | undefined, ratio: number | null, stunnel: Spread | null, stunnelctl: Spread | null): Verdict | null => {
  if (bar === undefined) return null;
  if (bar.kind === 'absolute') {
    if (stunnelctl === null) return 'SKIP';
    return stunnelctl.median < bar.value ? 'PASS' : 'MISS';
  }
  // stunnel measured but stunnelctl not: the engine failed to produce the figure.
  if (ratio === null) return stunnel !== null && stunnelctl === null ? 'MISS' : 'SKIP';
  return (bar.op === '>=' ? ratio >= bar.value : ratio <= bar.value) ? 'PASS' : 'MISS';
};

export const buildReports = (figures: readonly Figure[], results: Results): FigureReport[] =>
  figures.map((figure) => {
    const stunnel = figure.stunnelctlOnly === true ? null : results.spread(figure.id, 'stunnel') ?? null;
    const stunnelctl = results.spread(figure.id, 'stunnelctl') ?? null;
    const ratio = stunnel !== null && stunnelctl !== null && stunnel.median !== 0 ? stunnelctl.median / stunnel.median : null;
    return {
      id: figure.id, title: figure.title, unit: figure.unit, better: figure.better,
      stunnel, stunnelctl, ratio, bar: figure.bar ?? null, verdict: judge(figure.bar, ratio, stunnel, stunnelctl),
    };
  });

const decimalsOf = (figures: readonly Figure[], id: string): number => figures.find((figure) => figure.id === id)?.decimals ?? 1;

const formatSpread = (spread: Spread | null, decimals: number): string =>
  spread === null ? '-' : `${spread.median.toFixed(decimals)} (${spread.min.toFixed(decimals)}..${spread.max.toFixed(decimals)})`;

export const formatBar = (bar: Bar | null): string => {
  if (bar === null) return '';
  return bar.kind === 'ratio' ? `${bar.op}${bar.value.toFixed(1)}x` : `${bar.op}${bar.value} ms`;
};

interface Row {
  cells: string[];
}

const tableRows = (reports: readonly FigureReport[], figures: readonly Figure[]): Row[] =>
  reports.map((report) => {
    const decimals = decimalsOf(figures, report.id);
    return {
      cells: [
        report.title, report.unit, formatSpread(report.stunnel, decimals), formatSpread(report.stunnelctl, decimals),
        report.ratio === null ? '-' : `${report.ratio.toFixed(2)}x`, formatBar(report.bar), report.verdict ?? '',
      ],
    };
  });

const HEADER = ['figure', 'unit', 'stunnel median (min..max)', 'stunnelctl median (min..max)', 'ratio', 'bar', 'verdict'];

export const formatTextTable = (reports: readonly FigureReport[], figures: readonly Figure[]): string => {
  const rows = [HEADER, ...tableRows(reports, figures).map((row) => row.cells)];
  const widths = HEADER.map((_, column) => Math.max(...rows.map((cells) => (cells[column] ?? '').length)));
  return rows.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()).join('\n');
};

export const formatMarkdownTable = (reports: readonly FigureReport[], figures: readonly Figure[]): string => {
  const line = (cells: readonly string[]): string => `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...tableRows(reports, figures).map((row) => line(row.cells.map((cell) => cell.trim())))].join('\n');
};

export const formatVerdicts = (reports: readonly FigureReport[]): string =>
  reports
    .filter((report) => report.verdict !== null)
    .map((report) => {
      const value = report.bar?.kind === 'absolute'
        ? `${report.stunnelctl?.median.toFixed(0) ?? '-'} ms`
        : report.ratio === null ? 'no ratio' : `${report.ratio.toFixed(2)}x`;
      return `${(report.verdict ?? '').padEnd(4)}  ${report.id.padEnd(38)} ${value.padStart(9)}  (bar ${formatBar(report.bar)})`;
    })
    .join('\n');

export const buildSummary = (run: RunDescription, reports: readonly FigureReport[], notes: readonly string[]): object => ({
  benchmark: 'stunnelctl-vs-stunnel',
  ...run,
  figures: reports.map((report) => ({
    id: report.id,
    unit: report.unit,
    better: report.better,
    stunnel: report.stunnel,
    stunnelctl: report.stunnelctl,
    ratio: report.ratio,
    bar: report.bar,
    verdict: report.verdict,
  })),
  passed: reports.filter((report) => report.verdict === 'PASS').map((report) => report.id),
  missed: reports.filter((report) => report.verdict === 'MISS').map((report) => report.id),
  skipped: reports.filter((report) => report.verdict === 'SKIP').map((report) => report.id),
  notes,
});
