// Handshakes per second against a server-mode worker in front of the echo backend: new full
// handshakes (TLS 1.3 and 1.2, RSA-2048 and ECDSA P-256) and resumed ones (TLS 1.3 and 1.2), and
// the same counts per CPU-second of the proxy's process tree. One proxy per round serves every case
// on its own port; the cases run one after another. The load comes from separate processes
// (agents/handshake-client), each with a few connections in flight; their own CPU share is printed
// so a reader can see whether the generator, not the proxy, was the limit. Connections the proxy
// still holds after the load has stopped are counted and reported once per implementation.
import { availableParallelism } from 'node:os';
import type { MeasureContext } from '../context.js';
import { KEY_TYPES, TLS_VERSIONS, newHandshakeFigureId, resumedHandshakeFigureId } from '../figures.js';
import { reservePorts } from '../ports.js';
import { treeCpuSeconds, treeOpenFds } from '../proc-stats.js';
import { stopAll, type BenchProcess } from '../processes.js';
import type { ImplementationName, TlsSettings } from '../proxies.js';
import type { Results } from '../results.js';
import { median } from '../stats.js';

interface ClientResult {
  resumed: number;
  full: number;
  failed: number;
  cpuSeconds: number;
  firstError?: string;
}

/** Time for the agents to start before the warm-up begins. */
const AGENT_START_ALLOWANCE_MS = 300;
const RESULT_GRACE_MS = 30_000;
/** After the load stops, a proxy should be back near its idle descriptors within this time. */
const DRAIN_WAIT_MS = 1000;
const DRAIN_POLL_MS = 50;
/** More descriptors than this left open after the drain wait count as connections not closed. */
const LEAK_REPORT_FDS = 50;
const leakKey = (implementation: ImplementationName): string => `handshakes.fds-left-open.${implementation}`;
const runsKey = (implementation: ImplementationName): string => `handshakes.runs.${implementation}`;

const tlsFor = (version: '1.3' | '1.2', key: 'rsa' | 'ecdsa'): TlsSettings =>
  version === '1.3'
    ? { version: 'TLSv1.3', ciphersuites: 'TLS_AES_128_GCM_SHA256' }
    : { version: 'TLSv1.2', ciphers: key === 'rsa' ? 'ECDHE-RSA-AES128-GCM-SHA256' : 'ECDHE-ECDSA-AES128-GCM-SHA256' };

interface Case {
  label: string;
  version: '1.3' | '1.2';
  key: 'rsa' | 'ecdsa';
  resume: boolean;
  rateFigure: string;
  perCpuFigure: string;
}

const cases = (): Case[] => [
  ...TLS_VERSIONS.flatMap((version) => KEY_TYPES.map((key) => ({
    label: `new TLS ${version} ${key}`, version, key, resume: false,
    rateFigure: newHandshakeFigureId(version, key, false), perCpuFigure: newHandshakeFigureId(version, key, true),
  }))),
  ...TLS_VERSIONS.map((version) => ({
    label: `resumed TLS ${version} rsa`, version, key: 'rsa' as const, resume: true,
    rateFigure: resumedHandshakeFigureId(version, false), perCpuFigure: resumedHandshakeFigureId(version, true),
  })),
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Descriptors above the idle count once the proxy has had DRAIN_WAIT_MS to close everything. */
const descriptorsLeftOpen = async (pid: number, idleFds: number): Promise<number> => {
  const deadline = Date.now() + DRAIN_WAIT_MS;
  let leftOpen = treeOpenFds(pid) - idleFds;
  while (leftOpen > LEAK_REPORT_FDS && Date.now() < deadline) {
    await sleep(DRAIN_POLL_MS);
    leftOpen = treeOpenFds(pid) - idleFds;
  }
  return leftOpen;
};

/** One note per implementation that left connections open after the load (instead of one per run). */
export const describeHandshakeLeaks = (results: Results, implementations: readonly ImplementationName[]): string[] =>
  implementations.flatMap((implementation) => {
    const leaks = results.observed(leakKey(implementation));
    if (leaks.length === 0) return [];
    const runs = results.observed(runsKey(implementation)).length;
    return [
      `${implementation}: in ${leaks.length} of ${runs} handshake runs, ${Math.min(...leaks)}..${Math.max(...leaks)} file descriptors ` +
        `(median ${median(leaks)}) were still open ${DRAIN_WAIT_MS} ms after the load stopped: connections the proxy did not close`,
    ];
  });

/** One service per case, each on its own port, so one proxy start serves every case of a round. */
const serviceName = (testCase: Case): string => `hs-${testCase.resume ? 'resumed' : 'new'}-tls${testCase.version.replace('.', '')}-${testCase.key}`;

const measureCase = async (
  context: MeasureContext, implementation: ImplementationName, proxyPid: number, port: number, testCase: Case,
): Promise<void> => {
  const { settings } = context;
  const clients: BenchProcess[] = [];
  try {
    const fdsBefore = treeOpenFds(proxyPid);
    const windowMs = settings.handshakeSeconds * 1000;
    const startAtMs = Date.now() + AGENT_START_ALLOWANCE_MS + settings.handshakeWarmupSeconds * 1000;
    const endAtMs = startAtMs + windowMs;
    for (let index = 0; index < settings.handshakeClients; index += 1) {
      clients.push(context.startAgent('handshake-client', `hs-client-${index}`, {
        port, version: `TLSv${testCase.version}`, resume: testCase.resume, inFlight: settings.handshakeInFlight, startAtMs, endAtMs,
      }));
    }
    await sleep(startAtMs - Date.now());
    const cpuAtStart = treeCpuSeconds(proxyPid);
    await sleep(endAtMs - Date.now());
    const proxyCpuSeconds = treeCpuSeconds(proxyPid) - cpuAtStart;
    const results = await Promise.all(clients.map((client) => client.nextMessage<ClientResult>(RESULT_GRACE_MS)));
    const counted = results.reduce((sum, result) => sum + (testCase.resume ? result.resumed : result.full), 0);
    const other = results.reduce((sum, result) => sum + (testCase.resume ? result.full : result.resumed), 0);
    const failed = results.reduce((sum, result) => sum + result.failed, 0);
    const generatorCpuSeconds = results.reduce((sum, result) => sum + result.cpuSeconds, 0);
    const firstError = results.find((result) => result.firstError !== undefined)?.firstError;
    if (counted === 0) throw new Error(`${implementation} ${testCase.label}: no handshake completed${firstError === undefined ? '' : ` (${firstError})`}`);
    const seconds = windowMs / 1000;
    context.results.record(testCase.rateFigure, implementation, counted / seconds);
    context.results.record(testCase.perCpuFigure, implementation, counted / proxyCpuSeconds);
    process.stdout.write(
      `    ${implementation.padEnd(10)} ${testCase.label.padEnd(20)} ${(counted / seconds).toFixed(0).padStart(6)}/s  ` +
        `proxy ${(proxyCpuSeconds / seconds).toFixed(2)} cores, generator ${((generatorCpuSeconds / seconds / availableParallelism()) * 100).toFixed(0)}% of the machine\n`,
    );
    if (failed > 0) context.note(`${implementation} ${testCase.label}: ${failed} handshake(s) failed (first: ${firstError ?? 'unknown'})`);
    if (other > counted / 100) {
      context.note(`${implementation} ${testCase.label}: ${other} handshake(s) were ${testCase.resume ? 'full (the session was not resumed)' : 'resumed'} and not counted`);
    }
    await stopAll(clients);
    context.results.observe(runsKey(implementation), 1);
    const leftOpen = await descriptorsLeftOpen(proxyPid, fdsBefore);
    if (leftOpen > LEAK_REPORT_FDS) context.results.observe(leakKey(implementation), leftOpen);
  } finally {
    await stopAll(clients);
  }
};

export const measureHandshakes = async (context: MeasureContext, implementation: ImplementationName): Promise<void> => {
  const all = cases();
  const ports = await reservePorts(all.length);
  const proxy = await context.startProxy(implementation, 'handshakes', all.map((testCase, index) => ({
    name: serviceName(testCase), acceptPort: ports[index] as number, connectPort: context.echoPort, client: false,
    cert: testCase.key === 'rsa' ? context.certs.rsa : context.certs.ecdsa, tls: tlsFor(testCase.version, testCase.key),
  })));
  try {
    for (const [index, testCase] of all.entries()) await measureCase(context, implementation, proxy.process.pid, ports[index] as number, testCase);
  } finally {
    await proxy.stop();
  }
};
