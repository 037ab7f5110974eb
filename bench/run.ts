// Entry of `npm run bench`: runs stunnel4 and stunnelctl alternately (A B A B ...) on the same
// generated configurations, on 127.0.0.1, and reports per figure the median, min..max and the ratio
// stunnelctl/stunnel against the bars of issue 5, then one JSON summary line (also written to
// bench/out/summary.json). A missed bar is a result, not a failure: the exit code is 1 only when the
// harness itself failed (a corrupted or short byte stream, a missing tool), 2 on a usage error.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { snapshotBuild } from './build-snapshot.js';
import { generateCertificates } from './certs.js';
import { createMeasureContext, type MeasureContext } from './context.js';
import { formatProfileSummaries } from './cpu-profile.js';
import { buildCatalogue, type GroupName } from './figures.js';
import { describeHandshakeLeaks, measureHandshakes } from './measure/handshakes.js';
import { measureLatency } from './measure/latency.js';
import { measureMemory } from './measure/memory.js';
import { measureOperator, operatorCommandsMissing } from './measure/operator.js';
import { IntegrityError, measureThroughput } from './measure/throughput.js';
import { parseBenchOptions, USAGE, UsageError, type BenchSettings } from './options.js';
import { leftoverReports, runToCompletion, stopLiveProcesses } from './processes.js';
import { IMPLEMENTATIONS, PROJECT_ROOT, STUNNEL_BINARY, type ImplementationName } from './proxies.js';
import {
  buildReports, buildSummary, formatMarkdownTable, formatTextTable, formatVerdicts, type RunDescription,
} from './report.js';
import { Results } from './results.js';

const OUT_DIR = join(PROJECT_ROOT, 'bench/out');
const PROFILE_TOP_FUNCTIONS = 15;
const VERSION_TIMEOUT_MS = 10_000;

type GroupMeasure = (context: MeasureContext, implementation: ImplementationName) => Promise<void>;

const MEASURES: Record<Exclude<GroupName, 'operator'>, GroupMeasure> = {
  throughput: measureThroughput,
  handshakes: measureHandshakes,
  latency: measureLatency,
  memory: measureMemory,
};

const firstLine = (text: string): string => text.trim().split('\n')[0] ?? '';

const describeRun = async (settings: BenchSettings): Promise<Omit<RunDescription, 'durationSeconds'>> => {
  const openssl = await runToCompletion('openssl', ['version'], { timeoutMs: VERSION_TIMEOUT_MS });
  const stunnel = existsSync(STUNNEL_BINARY)
    ? firstLine((await runToCompletion(STUNNEL_BINARY, ['-version'], { timeoutMs: VERSION_TIMEOUT_MS })).stderr.split('\n').find((line) => line.startsWith('stunnel')) ?? '')
    : 'not installed';
  const packageVersion = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const commit = await runToCompletion('git', ['rev-parse', '--short', 'HEAD'], { timeoutMs: VERSION_TIMEOUT_MS, cwd: PROJECT_ROOT }).catch(() => undefined);
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return {
    date: new Date().toISOString(),
    quick: settings.quick,
    rounds: settings.rounds,
    machine: { nproc: availableParallelism(), cpuModel, memoryMiB: Math.round(totalmem() / 1024 / 1024) },
    versions: {
      node: `${process.version} (its OpenSSL ${process.versions.openssl ?? 'unknown'})`,
      openssl: firstLine(openssl.stdout),
      stunnel,
      stunnelctl: `${packageVersion}${commit?.code === 0 ? ` (git ${firstLine(commit.stdout)}, working tree as built)` : ''}`,
    },
  };
};

const checkTools = async (settings: BenchSettings): Promise<void> => {
  if (!settings.profile && !existsSync(STUNNEL_BINARY)) throw new UsageError(`${STUNNEL_BINARY} is missing: apt-get install stunnel4`);
  const openssl = await runToCompletion('openssl', ['version'], { timeoutMs: VERSION_TIMEOUT_MS }).catch(() => undefined);
  if (openssl?.code !== 0) throw new UsageError('the openssl command is missing: apt-get install openssl');
};

/** A failed round (a proxy that did not start, a figure that timed out) is reported and skipped. */
const runRound = async (context: MeasureContext, what: string, measure: () => Promise<void>): Promise<void> => {
  try {
    await measure();
  } catch (error) {
    if (error instanceof IntegrityError) throw error;
    context.note(`${what} failed: ${(error as Error).message}`);
  }
};

const runGroup = async (context: MeasureContext, implementations: readonly ImplementationName[], group: GroupName): Promise<void> => {
  const { settings } = context;
  process.stdout.write(`\n== ${group}\n`);
  if (group === 'operator') {
    const missing = await operatorCommandsMissing(context.build, context.runDir);
    if (missing !== undefined) {
      context.note(`operator figures skipped: ${missing}`);
      return;
    }
    for (let round = 1; round <= settings.rounds; round += 1) {
      process.stdout.write(`  round ${round}/${settings.rounds} stunnelctl\n`);
      await runRound(context, `operator round ${round}`, () => measureOperator(context, round));
    }
    return;
  }
  for (let round = 1; round <= settings.rounds; round += 1) {
    for (const implementation of implementations) {
      process.stdout.write(`  round ${round}/${settings.rounds} ${implementation}\n`);
      await runRound(context, `${group} round ${round} ${implementation}`, () => MEASURES[group](context, implementation));
    }
  }
};

const runGroups = async (context: MeasureContext, implementations: readonly ImplementationName[]): Promise<void> => {
  for (const group of context.settings.groups) {
    const groupStartedAt = performance.now();
    await runGroup(context, implementations, group);
    process.stdout.write(`  (${group}: ${((performance.now() - groupStartedAt) / 1000).toFixed(0)} s)\n`);
  }
};

const main = async (): Promise<number> => {
  let settings: BenchSettings | 'help';
  try {
    settings = parseBenchOptions(process.argv.slice(2), join(OUT_DIR, 'summary.json'));
    if (settings !== 'help') await checkTools(settings);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (settings === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const startedAt = performance.now();
  const run = await describeRun(settings);
  process.stdout.write(
    `stunnelctl benchmark, ${run.date}${settings.quick ? ', quick' : ''}, ${settings.rounds} round(s)\n` +
      `  ${run.versions.stunnel} | stunnelctl ${run.versions.stunnelctl} | node ${run.versions.node} | ${run.versions.openssl}\n` +
      `  ${run.machine.nproc} cores (${run.machine.cpuModel}), ${run.machine.memoryMiB} MiB\n` +
      `  stunnelctl engine processes: ${settings.processes === undefined ? `default (one per core: ${run.machine.nproc})` : `processes = ${settings.processes}`}\n`,
  );
  const runDir = mkdtempSync(join(tmpdir(), 'stunnelctl-bench-'));
  process.stdout.write(`  run directory: ${runDir}\n`);
  const build = snapshotBuild(PROJECT_ROOT, runDir);
  const results = new Results();
  const certs = await generateCertificates(runDir);
  // The echo backend is shared by every server-mode figure; it is started like an agent.
  const bootstrap = createMeasureContext({ settings, runDir, build, certs, echoPort: 0, results });
  const echo = bootstrap.startAgent('echo-server', 'echo', {});
  let context: MeasureContext;
  try {
    const { port: echoPort } = await echo.nextMessage<{ port: number }>();
    context = createMeasureContext({ settings, runDir, build, certs, echoPort, results });
    const implementations = settings.profile ? (['stunnelctl'] as const) : IMPLEMENTATIONS;
    await runGroups(context, implementations);
    for (const note of describeHandshakeLeaks(results, implementations)) context.note(note);
    for (const report of leftoverReports) context.note(`left over: ${report}; the figures measured after it may be disturbed`);
  } finally {
    await echo.stop();
  }

  const figures = buildCatalogue(settings).filter((figure) => settings.groups.includes(figure.group));
  const reports = buildReports(figures, results);
  const description: RunDescription = { ...run, durationSeconds: Math.round((performance.now() - startedAt) / 1000) };
  process.stdout.write(`\n${formatTextTable(reports, figures)}\n\n${formatVerdicts(reports)}\n`);
  if (results.notes.length > 0) process.stdout.write(`\nnotes:\n${results.notes.map((note) => `  - ${note}`).join('\n')}\n`);
  if (settings.profile) process.stdout.write(`\n${formatProfileSummaries(context.profileDirs, PROFILE_TOP_FUNCTIONS)}\n`);

  mkdirSync(dirname(settings.summaryFile), { recursive: true });
  const summary = buildSummary(description, reports, results.notes);
  writeFileSync(settings.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(OUT_DIR, 'table.md'), `${formatMarkdownTable(reports, figures)}\n`);
  if (settings.keep) process.stdout.write(`\nrun directory kept: ${runDir}\n`);
  else rmSync(runDir, { recursive: true, force: true });
  process.stdout.write(`\n${JSON.stringify(summary)}\n`);
  return 0;
};

// Ctrl-C or a TERM must not leave proxies and agents behind: stop each by its pid, then go.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}: stopping the processes of the run\n`);
    void stopLiveProcesses().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(`bench: harness error: ${text}\n(the run directory under ${tmpdir()} is kept for inspection)\n`);
    process.exit(1);
  },
);
