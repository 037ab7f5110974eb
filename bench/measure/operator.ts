// Operator latency (stunnelctl only, no stunnel equivalent): wall time of `stunnelctl start` until it
// returns (it returns once the worker listens), of `status`, and of `make-self-signed-cert` (RSA
// 2048), as an operator runs them: a fresh `node` process each time, on a home made by `install`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MeasureContext } from '../context.js';
import type { BuildPaths } from '../build-snapshot.js';
import { runToCompletion } from '../processes.js';
import { reservePorts } from '../ports.js';

const COMMAND_TIMEOUT_MS = 60_000;
const STATUS_SAMPLES_PER_ROUND = 3;
const REQUIRED_COMMANDS = ['install', 'start', 'stop', 'status', 'make-self-signed-cert'];
const STOP_WAIT_MS = 5000;

type Cli = (args: readonly string[]) => ReturnType<typeof runToCompletion>;

const cliOf = (build: BuildPaths, cwd: string): Cli => (args) =>
  runToCompletion(process.execPath, [build.cliEntry, ...args], { timeoutMs: COMMAND_TIMEOUT_MS, cwd });

/** Why the operator figures cannot be measured yet, or undefined when they can. */
export const operatorCommandsMissing = async (build: BuildPaths, runDir: string): Promise<string | undefined> => {
  if (!existsSync(build.cliEntry)) return 'dist/src/cli/main.js does not exist yet';
  const help = await cliOf(build, runDir)(['--help']);
  const missing = REQUIRED_COMMANDS.filter((command) => !new RegExp(`^\\s+${command}\\b`, 'm').test(help.stdout));
  return missing.length === 0 ? undefined : `the CLI has no ${missing.join(', ')} command yet`;
};

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
};

/** `stop`, and if the worker is still there after that, TERM then KILL by the pid in its pid file. */
const stopWorker = async (cli: Cli, home: string): Promise<void> => {
  const pidFile = join(home, 'stunnel.pid');
  const pidText = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
  await cli(['stop', '--home', home]);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_WAIT_MS;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
};

const expectSuccess = (what: string, result: { code: number | null; stderr: string }): void => {
  if (result.code !== 0) throw new Error(`stunnelctl ${what} exited ${String(result.code)}: ${result.stderr.trim().split('\n')[0] ?? ''}`);
};

export const measureOperator = async (context: MeasureContext, round: number): Promise<void> => {
  const cli = cliOf(context.build, context.runDir);
  const home = join(context.runDir, `operator-home-${round}`);
  const [acceptPort] = (await reservePorts(1)) as [number];
  expectSuccess('install', await cli(['install', '--home', home, '--naming', 'posix', '--accept', `127.0.0.1:${acceptPort}`, '--connect', `127.0.0.1:${context.echoPort}`]));
  try {
    const start = await cli(['start', '--home', home]);
    expectSuccess('start', start);
    context.results.record('operator.start', 'stunnelctl', start.wallMs);
    for (let sample = 0; sample < STATUS_SAMPLES_PER_ROUND; sample += 1) {
      const status = await cli(['status', '--home', home]);
      expectSuccess('status', status);
      context.results.record('operator.status', 'stunnelctl', status.wallMs);
    }
  } finally {
    // Also after a failed start: `stop` on a stopped home is a no-op, and a half-started worker goes.
    await stopWorker(cli, home);
  }
  const cert = await cli(['make-self-signed-cert', '--out', join(home, `bench-cert-${round}.pem`), '--key-type', 'rsa', '--bits', '2048', '--force']);
  expectSuccess('make-self-signed-cert', cert);
  context.results.record('operator.cert', 'stunnelctl', cert.wallMs);
};
